"""WeCom template cards: the Suggest prompt for a pasted message, and the answer to a press.

Suggestion, competitor and customer text is untrusted: control characters are dropped
and angle brackets made full-width, so nothing becomes a link or markup in the client.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from copilot import Deal, SuggestionSet

__all__ = [
    "ACTIONS",
    "MAX_BODY_CHARS",
    "PICK_KEY",
    "SUGGEST_KEY",
    "FinalAction",
    "ask_card",
    "card_for",
    "clean",
    "digest_text",
    "parse_button_key",
]

PICK_KEY = "pick"
SUGGEST_KEY = "suggest"
MAX_BODY_CHARS = 1200  # the card's text body; 采用 sends the chosen suggestion in full
# Button key prefix → (audit action, label shown once tapped).
FinalAction = Literal["sent_as_is", "edited", "dismissed"]
ACTIONS: dict[str, tuple[FinalAction, str]] = {
    "adopt": ("sent_as_is", "已采用"),
    "edit": ("edited", "修改中"),
    "ignore": ("dismissed", "已忽略"),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ROLE_ZH = {
    "ceo": "总经理",
    "cfo": "财务负责人",
    "cto": "技术负责人",
    "procurement": "采购",
    "legal": "法务",
    "it_security": "信息安全",
    "business_owner": "业务负责人",
    "end_user": "一线使用者",
}
_STATE_ZH = {"involved": "已参与", "reviewed": "已评审", "approved": "已认可"}


def clean(text: str) -> str:
    """Untrusted text made inert for a WeCom message: no control characters, no tags."""
    return _CONTROL.sub("", text).replace("<", "＜").replace(">", "＞")


def _clip(text: str, chars: int) -> str:
    text = " ".join(clean(text).split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


_LABELS = {
    "zh": {
        "head": "【建议话术】已通过合规检查",
        "cites": "引用",
        "basis": "依据",
        "none": "（没有合规的建议，请自行回复）",
        "competitor": "\n【竞品 {name}】{text}",
        "guide": "\n【仅供你参考】{text}",
        "verdict": "合规：{target} {action}（{basis}）",
        "chain": "\n【决策链】已覆盖：{covered}；尚缺：{missing}",
        "next": "   下一步（{hours} 小时内）：{text}",
        "nobody": "无",
        "sep": "、",
    },
    "en": {
        "head": "[Suggested replies] compliance-checked",
        "cites": "cites",
        "basis": "basis",
        "none": "(no compliant suggestion; reply in your own words)",
        "competitor": "\n[Competitor {name}] {text}",
        "guide": "\n[For you only] {text}",
        "verdict": "Compliance: {target} {action} ({basis})",
        "chain": "\n[Buying committee] covered: {covered}; missing: {missing}",
        "next": "   Next ({hours} h): {text}",
        "nobody": "none",
        "sep": ", ",
    },
}


def digest_text(result: SuggestionSet) -> str:
    """Everything the rep needs, as plain text (split for WeCom by the client)."""
    words = _LABELS[result.language]
    lines = [words["head"]]
    for number, suggestion in enumerate(result.suggestions, 1):
        lines.append(f"{number}. {clean(suggestion.text)}")
        refs = f"   {words['cites']}: {', '.join(suggestion.citations)}" if suggestion.citations else ""
        if suggestion.legal_basis:
            refs += f"｜{words['basis']}: {'、'.join(suggestion.legal_basis)}"
        if refs:
            lines.append(refs)
    if not result.suggestions:
        lines.append(words["none"])
    if result.competitor:
        comp = result.competitor
        lines.append(words["competitor"].format(name=clean(comp.name), text=clean(comp.response)))
        if comp.citations:
            lines.append(f"   {words['cites']}: {', '.join(comp.citations)}")
    lines.extend(_chain_lines(result, words))
    lines += [words["guide"].format(text=clean(g.text)) for g in result.guidance]
    lines += [words["verdict"].format(**v.model_dump()) for v in result.compliance]
    return "\n".join(lines)


def _role(role: str, zh: bool) -> str:
    return _ROLE_ZH.get(role, role) if zh else role


def _chain_lines(result: SuggestionSet, words: dict[str, str]) -> list[str]:
    chain = result.decision_chain
    if not chain.required_roles and not chain.covered:
        return []
    zh = result.language == "zh"
    covered = words["sep"].join(
        _role(c.role, zh) + (_STATE_ZH.get(c.state, c.state) if zh else f" ({c.state})")
        for c in chain.covered
    )
    missing = words["sep"].join(_role(r, zh) for r in chain.missing_roles)
    lines = [words["chain"].format(covered=covered or words["nobody"], missing=missing or words["nobody"])]
    if chain.next_action:
        action = chain.next_action
        lines.append(words["next"].format(hours=action.deadline_hours, text=clean(action.text)))
    return lines


def card_for(result: SuggestionSet, deal: Deal | None) -> dict[str, Any]:
    """The answer to one Suggest press, in one message: the suggestions, the competitor
    answer (quote area), the buying-committee gap; pick one, then 采用 / 修改 / 忽略."""
    options = [
        {"id": str(index), "text": _clip(f"建议{index + 1} {s.text}", 16)}
        for index, s in enumerate(result.suggestions)
    ]
    horizontal = []
    if deal is not None:
        horizontal.append({"keyname": "客户", "value": _clip(deal.customer, 30)})
    if result.decision_chain.missing_roles:
        missing = "、".join(_ROLE_ZH.get(r, r) for r in result.decision_chain.missing_roles)
        horizontal.append({"keyname": "尚缺角色", "value": _clip(missing, 30)})
    body = digest_text(result.model_copy(update={"competitor": None}))
    body = body.split("\n", 1)[1] if "\n" in body else body  # the title says what it is
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": "Sales Copilot · 已合规检查", "desc_color": 1},
        "main_title": {"title": "建议话术", "desc": "选一条，点 采用 / 修改 / 忽略"},
        "sub_title_text": body if len(body) <= MAX_BODY_CHARS else body[: MAX_BODY_CHARS - 1] + "…",
        "horizontal_content_list": horizontal[:6],
        "task_id": result.id,
        "button_list": [
            {"text": "采用", "style": 1, "key": f"adopt:{result.id}"},
            {"text": "修改", "style": 2, "key": f"edit:{result.id}"},
            {"text": "忽略", "style": 3, "key": f"ignore:{result.id}"},
        ],
    }
    if result.competitor:
        card["quote_area"] = {
            "type": 0,
            "title": _clip(f"竞品 {result.competitor.name}", 30),
            "quote_text": _clip(result.competitor.response, 300),
        }
    if options:
        card["button_selection"] = {
            "question_key": PICK_KEY,
            "title": "选择建议",
            "option_list": options,
            "selected_id": "0",
        }
    return card


def ask_card(task_id: str, waiting: int, *, deal_set: bool = True) -> dict[str, Any]:
    """The answer to a pasted customer message: recorded, and a Suggest button."""
    return {
        "card_type": "button_interaction",
        "source": {"desc": "Sales Copilot", "desc_color": 1},
        "main_title": {"title": "已记录客户消息", "desc": f"本次对话已记录 {waiting} 条，可继续粘贴"},
        "sub_title_text": "点“建议话术”生成三条合规回复。"
        + ("" if deal_set else "\n尚未设置商机，建议会更准：deal 客户=… 行业=… 阶段=… 产品=…"),
        "task_id": task_id,
        "button_list": [{"text": "建议话术", "style": 1, "key": SUGGEST_KEY}],
    }


def parse_button_key(key: str) -> tuple[str, str] | None:
    """``adopt:ss-…`` → ("adopt", "ss-…"); None for keys this app did not make."""
    verb, _, set_id = key.partition(":")
    if verb not in ACTIONS or not re.fullmatch(r"ss-[0-9a-f]{6,64}", set_id):
        return None
    return verb, set_id
