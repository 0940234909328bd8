"""The ``deal`` command: ``deal 客户=… 行业=… 阶段=… 产品=…`` sets the deal context of a chat."""

from __future__ import annotations

import re

from pydantic import ValidationError

from copilot import STAGES, Deal
from copilot.errors import InputError

__all__ = ["apply_deal_fields", "describe_deal", "is_deal_command", "parse_deal_command"]

_KEYS = {
    "客户": "customer",
    "customer": "customer",
    "行业": "industry",
    "industry": "industry",
    "阶段": "stage",
    "stage": "stage",
    "产品": "product",
    "product": "product",
}
_STAGE_WORDS = {
    "需求": "discovery",
    "发现": "discovery",
    "线索": "discovery",
    "商机确认": "qualification",
    "资格": "qualification",
    "试点": "poc",
    "poc": "poc",
    "方案": "proposal",
    "提案": "proposal",
    "报价": "proposal",
    "谈判": "negotiation",
    "商务": "negotiation",
    "签约": "closing",
    "成交": "closing",
    "续约": "renewal",
}
STAGE_LABELS = {
    "discovery": "需求",
    "qualification": "商机确认",
    "poc": "试点",
    "proposal": "方案",
    "negotiation": "谈判",
    "closing": "签约",
    "renewal": "续约",
}
_INDUSTRY_WORDS = {
    "制造": "manufacturing",
    "制造业": "manufacturing",
    "金融": "finance",
    "银行": "finance",
    "物流": "logistics",
    "零售": "retail",
}
_COMMAND = re.compile(r"^\s*(deal|商机)(\s|$)", re.IGNORECASE)
_PAIR = re.compile(r"(?:^|\s)([^\s=＝:：]+)\s*[=＝:：]\s*", re.UNICODE)


def is_deal_command(text: str) -> bool:
    return bool(_COMMAND.match(text))


def parse_deal_command(text: str, current: Deal | None) -> Deal | None:
    """The deal after applying ``text`` to ``current``; None when nothing is set yet and none given.

    Values may contain spaces (``产品=MES Cloud``): a value runs to the next ``key=``.
    Raises :class:`InputError` naming the unknown key or the bad value.
    """
    body = _COMMAND.sub("", text, count=1).strip()
    matches = list(_PAIR.finditer(body))
    if body and (not matches or body[: matches[0].start()].strip()):
        raise InputError(f"deal: could not read {body[:40]!r}; write key=value pairs, e.g. {_EXAMPLE}")
    given = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        given[match.group(1)] = body[match.end() : end].strip()
    return apply_deal_fields(given, current)


def apply_deal_fields(given: dict[str, str], current: Deal | None) -> Deal | None:
    """``current`` with the ``given`` fields (Chinese or English names) set; None if still empty."""
    fields = current.model_dump() if current else {}
    for name, value in given.items():
        key = name.lower()
        if key not in _KEYS:
            raise InputError(f"deal: unknown field {key[:20]!r}; use 客户, 行业, 阶段, 产品 ({_EXAMPLE})")
        fields[_KEYS[key]] = _normalise(_KEYS[key], value)
    if not fields:
        return None
    if not fields.get("customer"):
        raise InputError(f"deal: 客户 (customer) is required the first time, e.g. {_EXAMPLE}")
    try:
        return Deal.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"deal: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


_EXAMPLE = "deal 客户=华东精工 行业=制造业 阶段=方案 产品=MES Cloud"


def _normalise(field: str, value: str) -> str:
    if field == "stage":
        stage = _STAGE_WORDS.get(value.lower(), value.lower())
        if stage not in STAGES:
            words = "、".join(f"{label}({name})" for name, label in STAGE_LABELS.items())
            raise InputError(f"deal: 阶段 {value[:20]!r} is not a stage; use one of {words}")
        return stage
    if field == "industry":
        return _INDUSTRY_WORDS.get(value, value.lower())
    return value


def describe_deal(deal: Deal | None) -> str:
    """What is set, in the rep's words."""
    if deal is None:
        return f"尚未设置商机。发送：{_EXAMPLE}"
    stage = f"{STAGE_LABELS.get(deal.stage, deal.stage)}（{deal.stage}）"
    return (
        f"当前商机：客户 {deal.customer}｜行业 {deal.industry or '未设置'}｜阶段 {stage}"
        f"｜产品 {deal.product or '未设置'}\n修改：deal 阶段=谈判（只写要改的字段）"
    )
