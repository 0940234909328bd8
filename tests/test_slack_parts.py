"""Slack pieces without a server: /suggest parsing, signatures, Block Kit, reply matching, settings."""

from __future__ import annotations

import json
import logging

import pytest
from slack_fake import slack_signature

from connectors.slack import sign, signature_problem
from connectors.slack._actions import classify_reply
from connectors.slack._blocks import answer_blocks, escape, parse_value
from connectors.slack._command import merge_deal, parse_command
from connectors.slack._conversation import slack_text
from connectors.slack._install import QueryFreeAccessLog
from copilot import Deal, DecisionChainReport, Settings, Suggestion, SuggestionSet
from copilot.errors import InputError


def test_parse_command_kinds_and_quoted_values() -> None:
    assert parse_command("").kind == "suggest"
    assert parse_command("  help ").kind == "help"
    assert parse_command("deal").kind == "show_deal"
    assert parse_command("connect").kind == "connect" and parse_command("Disconnect").kind == "disconnect"
    command = parse_command(
        'deal customer="华东 精工" industry=manufacturing stage=Proposal product=“MES Cloud”'
    )
    assert command.kind == "set_deal"
    assert command.fields == {
        "customer": "华东 精工",
        "industry": "manufacturing",
        "stage": "proposal",
        "product": "MES Cloud",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dael", "unknown /suggest option 'dael'"),
        ("deal budget=1", "unknown deal field 'budget'"),
        ("deal stage=won", "unknown stage 'won'"),
        ('deal customer="unclosed', "cannot read"),
        ("deal customer", "cannot read 'customer'"),
        ("deal " + "x=1 " * 400, "keep it under 1000"),
    ],
)
def test_parse_command_errors_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_command(text)


def test_merge_deal_needs_a_customer_first_then_updates() -> None:
    with pytest.raises(InputError, match="set the customer too"):
        merge_deal(None, {"stage": "poc"})
    deal = merge_deal(None, {"customer": "ACME", "stage": "poc"})
    assert merge_deal(deal, {"product": "DataHub"}) == Deal(customer="ACME", stage="poc", product="DataHub")
    with pytest.raises(InputError, match="invalid deal: customer"):
        merge_deal(None, {"customer": "x" * 300})


def test_signature_matches_slacks_documented_scheme() -> None:
    body = b'{"type":"url_verification"}'
    assert sign("s3cret", "1700000000", body) == slack_signature("s3cret", "1700000000", body)
    headers = {
        "x-slack-request-timestamp": "1700000000",
        "x-slack-signature": sign("s3cret", "1700000000", body),
    }
    assert signature_problem("s3cret", headers, body, now=1700000100) is None
    assert signature_problem("s3cret", headers, body + b" ", now=1700000100) == "bad signature"
    assert signature_problem("s3cret", headers, body, now=1700000301) == "stale timestamp"
    assert signature_problem("s3cret", {**headers, "x-slack-signature": "v0=é"}, body, now=1700000000) == (
        "bad signature"
    )
    assert (
        signature_problem("s3cret", {**headers, "x-slack-request-timestamp": "１７"}, body) == "bad timestamp"
    )
    assert signature_problem("s3cret", {}, body) == "unsigned"


def result(**update: object) -> SuggestionSet:
    base = SuggestionSet(
        id="ss-1",
        conversation_id="slack:C1",
        engine="grounded",
        language="en",
        suggestions=[Suggestion(text=f"Reply {n} <!here>", citations=[f"atom-{n}"]) for n in range(3)],
        decision_chain=DecisionChainReport(required_roles=["cto", "cfo"], missing_roles=["cfo"]),
    )
    return base.model_copy(update=update)


def test_answer_blocks_escape_and_carry_set_index_and_chat() -> None:
    blocks = answer_blocks(result(), chat="slack:C1:1.0", deal_line="ACME <b>", deal_set=False)
    text = json.dumps(blocks)
    assert "<!here>" not in text and "&lt;!here&gt;" in text and "ACME &lt;b&gt;" in text
    assert "No deal set for this channel" in text
    values = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert parse_value(values[0]) == ("ss-1", 0, "slack:C1:1.0")
    assert parse_value(values[-1]) == ("ss-1", None, "slack:C1:1.0")  # Dismiss all
    assert len(blocks) <= 50 and all(len(json.dumps(b)) < 3500 for b in blocks)


@pytest.mark.parametrize("value", ["", "x", "[]", '{"s":"a","i":99,"c":"k"}', '{"s":"a","i":true,"c":"k"}'])
def test_foreign_button_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_value(value)


def test_escape_neutralises_mrkdwn_controls() -> None:
    assert escape("<@U1> & <https://x|y>") == "&lt;@U1&gt; &amp; &lt;https://x|y&gt;"


def test_classify_reply() -> None:
    suggestions = ["我们可以先做一期试点。", "Shall we book a call with your CFO this week?"]
    assert classify_reply("  我们可以先做一期试点。 ", suggestions) == ("sent_as_is", 0)
    assert classify_reply("Shall we book a call with your CFO next week?", suggestions) == ("edited", 1)
    assert classify_reply("ok thanks, talk tomorrow", suggestions) == ("wrote_own", None)


def test_slack_text_unwraps_mentions_links_and_entities() -> None:
    raw = "Hi <@U1>, see <https://a.test/p|the plan> &amp; <mailto:x@y.z|x@y.z> <!here>"
    assert slack_text(raw, {"U1": "Li Ming"}) == "Hi @Li Ming, see the plan & x@y.z @here"


def test_slack_settings() -> None:
    settings = Settings(slack_customer_users="U1; U2,,U3", slack_api_url="http://127.0.0.1:9/api")
    assert settings.slack_customer_users == ["U1", "U2", "U3"]
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    with pytest.raises(ValueError, match="COPILOT_SLACK_API_URL"):
        Settings(slack_api_url="slack.com/api")


def test_who_is_customer() -> None:
    from connectors.slack._conversation import _side

    home = {"home_team": "T0HOME", "rep": "U0REP", "customers": {"U0LISTED"}}
    assert _side({"team_id": "T0HOME"}, "U0REP", **home) == "rep"  # type: ignore[arg-type]
    assert _side({"team_id": "T0EXT"}, "U1", **home) == "customer"  # type: ignore[arg-type]
    assert _side({"team_id": "T0HOME"}, "U0LISTED", **home) == "customer"  # type: ignore[arg-type]
    assert _side({"team_id": "T0HOME"}, "U0MATE", **home) == "partner"  # type: ignore[arg-type]
    assert _side({"id": "U9"}, "U9", **home) == "partner"  # type: ignore[arg-type]


def test_access_log_never_carries_the_oauth_code() -> None:
    """uvicorn's access line for the OAuth redirect loses its query (the code and state)."""
    args = ("1.2.3.4:5", "GET", "/slack/oauth_redirect?code=c-123&state=s", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)
    assert QueryFreeAccessLog().filter(record)
    assert "c-123" not in record.getMessage() and "/slack/oauth_redirect" in record.getMessage()
    other = ("1.2.3.4:5", "GET", "/readyz?x=1", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', other, None)
    assert QueryFreeAccessLog().filter(record) and "/readyz?x=1" in record.getMessage()
