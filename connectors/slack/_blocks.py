"""Block Kit for the rep: the suggestion set, the edit modal, confirmations.

Everything from a conversation, a deal or an atom is escaped for mrkdwn (``&``,
``<``, ``>``), so no customer text can become a mention, a link or a broadcast.
Button values carry the set id, the suggestion's index and the chat key.
"""

from __future__ import annotations

import json
from typing import Any

from copilot import SuggestionSet

__all__ = [
    "ACTION_IDS",
    "EDIT_CALLBACK",
    "answer_blocks",
    "answer_text",
    "button_value",
    "connect_blocks",
    "edit_modal",
    "escape",
    "note_blocks",
    "parse_value",
]

ACTION_IDS = {
    "send": "copilot_send",
    "edit": "copilot_edit",
    "helpful": "copilot_helpful_yes",
    "unhelpful": "copilot_helpful_no",
    "dismiss": "copilot_dismiss",
    "connect": "copilot_connect",  # a link button: Slack opens the URL and tells us; nothing to do
}
EDIT_CALLBACK = "copilot_edit_send"
_LABELS = {
    "en": {
        "header": "Suggested replies",
        "only_you": "Only you can see this",
        "send": "Send",
        "edit": "Edit & send",
        "helpful": "👍 Helpful",
        "unhelpful": "👎 Not helpful",
        "dismiss": "Dismiss all",
        "competitor": "Competitor",
        "guidance": "For you only",
        "roles": "Buying roles",
        "needed": "needed",
        "covered": "covered",
        "missing": "missing",
        "none": "none",
        "next": "Next",
        "within": "within {h} h",
        "compliance_ok": "Compliance: every suggestion passed",
        "compliance": "Compliance",
        "no_match": "No approved knowledge matches this conversation yet.",
        "no_deal": 'No deal set for this channel: /suggest deal customer="…" industry=… stage=… product="…"',
        "fallback": "Model not used ({reason}): grounded replies shown",
        "sources": "Sources",
    },
    "zh": {
        "header": "建议回复",
        "only_you": "仅你可见",
        "send": "发送",
        "edit": "编辑后发送",
        "helpful": "👍 有帮助",
        "unhelpful": "👎 没帮助",
        "dismiss": "全部忽略",
        "competitor": "竞品应对",
        "guidance": "仅供你参考",
        "roles": "决策链",
        "needed": "需要",
        "covered": "已覆盖",
        "missing": "缺少",
        "none": "无",
        "next": "下一步",
        "within": "{h} 小时内",
        "compliance_ok": "合规：所有建议均已通过检查",
        "compliance": "合规",
        "no_match": "知识库中暂无与此对话匹配的已审批内容。",
        "no_deal": '本频道尚未设置商机：/suggest deal customer="…" industry=… stage=… product="…"',
        "fallback": "未使用模型（{reason}）：显示基于知识库的建议",
        "sources": "来源",
    },
}
_ROLES = {
    "en": {
        "ceo": "CEO",
        "cfo": "CFO",
        "cto": "CTO",
        "procurement": "Procurement",
        "legal": "Legal",
        "it_security": "IT security",
        "business_owner": "Business owner",
        "end_user": "End users",
    },
    "zh": {
        "ceo": "总经理",
        "cfo": "财务负责人",
        "cto": "技术负责人",
        "procurement": "采购",
        "legal": "法务",
        "it_security": "信息安全",
        "business_owner": "业务负责人",
        "end_user": "一线使用者",
    },
}
_STATES = {
    "en": {"involved": "involved", "reviewed": "reviewed", "approved": "approved"},
    "zh": {"involved": "已参与", "reviewed": "已评估", "approved": "已认可"},
}
MAX_SECTION = 2900


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: no mention, link or broadcast can be formed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:MAX_SECTION]


def button_value(set_id: str, index: int | None, chat: str) -> str:
    return json.dumps({"s": set_id, "i": index, "c": chat}, separators=(",", ":"))


def parse_value(value: str) -> tuple[str, int | None, str]:
    """(set id, index, chat key) from a button value; ``ValueError`` if it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("c"), str):
        raise ValueError("not a copilot button value")
    index = data.get("i")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 10):
        raise ValueError("bad suggestion index")
    return data["s"], index, data["c"]


def _button(label: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": ACTION_IDS[action],
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


def answer_blocks(
    result: SuggestionSet, *, chat: str, deal_line: str, deal_set: bool
) -> list[dict[str, Any]]:
    """The ephemeral answer: suggestions with buttons, then what the rep should know."""
    words = _LABELS[result.language]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"💡 {words['header']}", "emoji": True}},
        _context(f"{escape(deal_line)} · {words['only_you']}"),
    ]
    for index, suggestion in enumerate(result.suggestions):
        value = button_value(result.id, index, chat)
        blocks.append(_section(f"*{index + 1}.* {escape(suggestion.text)}"))
        sources = ", ".join(f"`{escape(c)}`" for c in suggestion.citations)
        basis = "  ⚖️ " + escape("; ".join(suggestion.legal_basis)) if suggestion.legal_basis else ""
        if sources or basis:
            blocks.append(_context(f"📎 {words['sources']}: {sources or '—'}{basis}"))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"suggestion-{index}",
                "elements": [
                    _button(words["send"], "send", value, "primary"),
                    _button(words["edit"], "edit", value),
                    _button(words["helpful"], "helpful", value),
                    _button(words["unhelpful"], "unhelpful", value),
                ],
            }
        )
    if not result.suggestions:
        blocks.append(_section(words["no_match"]))
    blocks.append({"type": "divider"})
    blocks += _insight_blocks(result, words)
    if not deal_set:
        blocks.append(_context(f"ℹ️ {escape(words['no_deal'])}"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "set",
            "elements": [_button(words["dismiss"], "dismiss", button_value(result.id, None, chat))],
        }
    )
    return blocks


def _insight_blocks(result: SuggestionSet, words: dict[str, str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    roles = _ROLES[result.language]
    if result.competitor:
        comp = result.competitor
        blocks.append(_section(f"*🥊 {words['competitor']}: {escape(comp.name)}*\n{escape(comp.response)}"))
        if comp.citations:
            blocks.append(_context("📎 " + ", ".join(f"`{escape(c)}`" for c in comp.citations)))
    for item in result.guidance:
        basis = f"  ⚖️ {escape('; '.join(item.legal_basis))}" if item.legal_basis else ""
        blocks.append(_section(f"*🔒 {words['guidance']}*\n{escape(item.text)}{basis}"))
    chain = result.decision_chain
    if chain.required_roles or chain.covered or chain.next_action:
        needed = ", ".join(roles.get(r, r) for r in chain.required_roles) or words["none"]
        states = _STATES[result.language]
        covered = ", ".join(f"{roles.get(c.role, c.role)} ({states[c.state]})" for c in chain.covered)
        covered = covered or words["none"]
        missing = ", ".join(roles.get(r, r) for r in chain.missing_roles) or words["none"]
        lines = [
            f"*👥 {words['roles']}*  {words['needed']}: {needed}",
            f"✅ {words['covered']}: {covered}",
            f"{'❌' if chain.missing_roles else '✅'} {words['missing']}: {missing}",
        ]
        if chain.next_action:
            hours = chain.next_action.deadline_hours
            within = "" if str(hours) in chain.next_action.text else f" ({words['within'].format(h=hours)})"
            lines.append(f"➡️ *{words['next']}:* {escape(chain.next_action.text)}{within}")
        blocks.append(_section("\n".join(lines)))
    if result.compliance:
        verdicts = "\n".join(
            f"• {escape(v.target)}: {escape(v.rule)} {v.action} ({escape(v.basis)})"
            for v in result.compliance
        )
        blocks.append(_context(f"🛡️ {words['compliance']}\n{verdicts}"))
    else:
        blocks.append(_context(f"🛡️ {words['compliance_ok']}"))
    if result.fallback:
        blocks.append(_context("ℹ️ " + escape(words["fallback"].format(reason=result.fallback.reason))))
    return blocks


def answer_text(result: SuggestionSet) -> str:
    """The notification text of the answer (screen readers, previews)."""
    words = _LABELS[result.language]
    return f"{words['header']}: " + " | ".join(s.text[:80] for s in result.suggestions)[:300]


def note_blocks(text: str) -> list[dict[str, Any]]:
    return [_section(escape(text))]


def connect_blocks(text: str, url: str) -> list[dict[str, Any]]:
    """The ``/suggest connect`` answer: why, and a button to Slack's authorize page."""
    button = {
        "type": "button",
        "action_id": ACTION_IDS["connect"],
        "text": {"type": "plain_text", "text": "Connect my Slack account"},
        "url": url,
        "style": "primary",
    }
    return [_section(escape(text)), {"type": "actions", "elements": [button]}]


def edit_modal(text: str, metadata: str, language: str) -> dict[str, Any]:
    """The "Edit & send" modal, prefilled with the suggestion."""
    zh = language == "zh"
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "编辑后发送" if zh else "Edit & send"},
        "submit": {"type": "plain_text", "text": "发送" if zh else "Send"},
        "close": {"type": "plain_text", "text": "取消" if zh else "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reply",
                "label": {"type": "plain_text", "text": "回复内容" if zh else "Your reply"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "initial_value": text[:3000],
                    "max_length": 3000,
                },
            }
        ],
    }
