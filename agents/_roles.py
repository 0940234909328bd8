"""The buying-role vocabulary: titles and words that name each role, zh and en."""

from __future__ import annotations

import re
from collections.abc import Iterator

from copilot._models import Role
from knowledge import normalize

__all__ = ["find_roles", "role_of_title"]

# Longest alias wins; Latin aliases match on word boundaries.
_ALIASES: dict[Role, tuple[str, ...]] = {
    "ceo": (
        "总经理",
        "董事长",
        "老板",
        "老总",
        "总裁",
        "ceo",
        "chief executive",
        "managing director",
        "founder",
        "owner of the company",
        "general manager",
    ),
    "cfo": (
        "财务总监",
        "财务负责人",
        "财务经理",
        "财务部",
        "财务",
        "cfo",
        "vp finance",
        "finance director",
        "head of finance",
        "finance",
        "controller",
    ),
    "cto": (
        "技术总监",
        "技术负责人",
        "it负责人",
        "it总监",
        "信息中心",
        "技术这边",
        "技术团队",
        "技术部",
        "cto",
        "cio",
        "head of it",
        "it director",
        "vp engineering",
        "chief technology officer",
        "it team",
        "engineering",
    ),
    "procurement": ("采购经理", "采购部", "采购", "procurement", "purchasing", "buyer", "sourcing"),
    "legal": ("法务", "律师", "legal", "counsel", "lawyer"),
    "it_security": (
        "信息安全",
        "安全负责人",
        "安全团队",
        "ciso",
        "security team",
        "it security",
        "infosec",
        "security officer",
    ),
    "business_owner": (
        "业务负责人",
        "厂长",
        "运营总监",
        "生产总监",
        "业务部门",
        "门店运营",
        "head of operations",
        "coo",
        "operations director",
        "vp operations",
        "plant manager",
        "business owner",
    ),
    "end_user": (
        "一线使用者",
        "一线员工",
        "操作工",
        "车间主任",
        "班组长",
        "店长",
        "end user",
        "end-user",
        "frontline",
        "operators",
        "store manager",
    ),
}
_INDEX: list[tuple[str, Role]] = sorted(
    ((normalize(alias), role) for role, aliases in _ALIASES.items() for alias in aliases),
    key=lambda pair: -len(pair[0]),
)


def _pattern(alias: str) -> re.Pattern[str]:
    escaped = re.escape(alias)
    if alias.isascii():
        return re.compile(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
    return re.compile(escaped)


_PATTERNS: list[tuple[re.Pattern[str], Role]] = [(_pattern(a), role) for a, role in _INDEX]


def find_roles(text: str) -> Iterator[tuple[Role, int, int]]:
    """Roles named in ``text`` as (role, start, end) in normalised text, no overlaps."""
    norm = normalize(text)
    taken: list[tuple[int, int]] = []
    for pattern, role in _PATTERNS:
        for match in pattern.finditer(norm):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            yield role, start, end


def role_of_title(title: str) -> Role | None:
    """The role a participant's job title holds, or None."""
    found = sorted(find_roles(title), key=lambda hit: hit[1])
    return found[0][0] if found else None
