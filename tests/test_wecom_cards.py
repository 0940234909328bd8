"""Template cards and text for WeCom, and the deal command."""

from __future__ import annotations

import pytest

from connectors.wecom import card_for, describe_deal, digest_text, parse_deal_command
from connectors.wecom._cards import MAX_BODY_CHARS, ask_card, parse_button_key
from connectors.wecom._deal import apply_deal_fields
from copilot import CompetitorResponse, Deal, DecisionChainReport, Suggestion, SuggestionSet
from copilot.errors import InputError


def sample(text: str = "理解您的预算压力。") -> SuggestionSet:
    return SuggestionSet(
        id="ss-0123456789abcdef",
        conversation_id="wecom:rep.wang",
        engine="grounded",
        suggestions=[
            Suggestion(text=text, citations=["obj-price"], legal_basis=["《广告法》第九条"]),
            Suggestion(text="第二条建议，按三年总拥有成本比较。", citations=["case-1"]),
            Suggestion(text="第三条<a href='x'>点我</a>\x1b[31m", citations=["script-1"]),
        ],
        competitor=CompetitorResponse(
            name="极光数仓", response="我们不评价友商，只讲可核实的事实。", citations=["comp-auroradw"]
        ),
        decision_chain=DecisionChainReport(required_roles=["cto", "cfo"], missing_roles=["cfo"]),
    )


def test_card_is_a_button_interaction_with_adopt_edit_ignore() -> None:
    card = card_for(sample(), Deal(customer="华东精工", stage="proposal"))
    assert card["card_type"] == "button_interaction" and card["task_id"] == "ss-0123456789abcdef"
    assert [b["text"] for b in card["button_list"]] == ["采用", "修改", "忽略"]
    assert [b["key"] for b in card["button_list"]] == [
        f"{v}:ss-0123456789abcdef" for v in ("adopt", "edit", "ignore")
    ]
    options = card["button_selection"]["option_list"]
    assert [o["id"] for o in options] == ["0", "1", "2"] and all(len(o["text"]) <= 16 for o in options)
    assert card["quote_area"]["title"] == "竞品 极光数仓"
    assert "只讲可核实的事实" in card["quote_area"]["quote_text"]
    body = card["sub_title_text"]
    assert body.startswith("1. 理解您的预算压力。") and "3. 第三条" in body and "尚缺：财务负责人" in body
    assert "<a" not in body and "\x1b" not in body
    assert {"keyname": "尚缺角色", "value": "财务负责人"} in card["horizontal_content_list"]
    assert all(len(h["value"]) <= 30 for h in card["horizontal_content_list"])


def test_text_carries_everything_and_untrusted_text_is_inert() -> None:
    text = digest_text(sample())
    assert "1. 理解您的预算压力。" in text and "《广告法》第九条" in text
    assert "【竞品 极光数仓】" in text and "尚缺：财务负责人" in text
    assert "<a" not in text and "\x1b" not in text and "＜a href" in text


def test_a_long_answer_is_clipped_in_the_card() -> None:
    card = card_for(sample("很长的建议。" * 400), None)
    assert len(card["sub_title_text"]) == MAX_BODY_CHARS and card["sub_title_text"].endswith("…")


def test_ask_card_offers_the_suggest_button() -> None:
    card = ask_card("ask-123", 3)
    assert card["button_list"] == [{"text": "建议话术", "style": 1, "key": "suggest"}]
    assert card["task_id"] == "ask-123" and "3 条" in card["main_title"]["desc"]
    assert "尚未设置商机" in ask_card("ask-124", 1, deal_set=False)["sub_title_text"]


def test_button_keys_are_only_the_apps_own() -> None:
    assert parse_button_key("adopt:ss-0123456789abcdef") == ("adopt", "ss-0123456789abcdef")
    assert parse_button_key("adopt:../../etc") is None
    assert parse_button_key("launch:ss-0123456789abcdef") is None


def test_deal_command_sets_and_describes() -> None:
    deal = parse_deal_command("deal 客户=华东精工 行业=制造业 阶段=方案 产品=MES Cloud", None)
    assert deal == Deal(customer="华东精工", industry="manufacturing", stage="proposal", product="MES Cloud")
    changed = parse_deal_command("deal 阶段：谈判", deal)
    assert changed is not None and changed.stage == "negotiation" and changed.product == "MES Cloud"
    assert "阶段 谈判（negotiation）" in describe_deal(changed)
    assert parse_deal_command("deal", deal) == deal
    assert parse_deal_command("deal", None) is None
    assert "尚未设置商机" in describe_deal(None)
    assert apply_deal_fields({"customer": "A=B 公司", "stage": "谈判"}, None) == Deal(
        customer="A=B 公司", stage="negotiation"
    )
    english = parse_deal_command("deal customer=Acme stage=poc industry=retail", None)
    assert english == Deal(customer="Acme", industry="retail", stage="poc")


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("deal 预算=100万", "预算"),
        ("deal 阶段=月球", "阶段"),
        ("deal 行业=制造业", "客户"),
        ("deal 随便写写", "key=value"),
        ("deal 客户=" + "长" * 300, "customer"),
    ],
)
def test_bad_deal_commands_name_what_is_wrong(command: str, named: str) -> None:
    with pytest.raises(InputError, match=named):
        parse_deal_command(command, None)
