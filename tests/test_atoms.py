"""Atom files: good ones parse; each kind of bad one gets the exact file, line and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from copilot.errors import AtomValidationError
from knowledge import Atom, load_atoms, parse_atom

GOOD = """---
id: obj-price-too-high-mfg
type: objection
title: 价格比预算高 — 制造业
language: zh
scenario: 客户认为报价超出预算
industries: [manufacturing]
stages: [proposal, negotiation]
personas: [cfo, procurement]
competitors: []
legal_basis: []
status: approved
owner: pricing-team
approved_by: legal@example.com
valid_until: 2027-06-30
version: 3
---
理解您的预算压力。按三年总拥有成本看，{product} 比一次性采购节省不少。
"""


def problems_of(text: str | bytes) -> list[tuple[int, str, str]]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(AtomValidationError) as info:
        parse_atom(raw, "kb/x.md")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_good_atom_parses_every_field() -> None:
    atom = parse_atom(GOOD.encode(), "kb/x.md")
    assert atom.id == "obj-price-too-high-mfg"
    assert atom.stages == ["proposal", "negotiation"]
    assert atom.valid_until == date(2027, 6, 30)
    assert atom.body.startswith("理解您的预算压力")
    assert atom.fill(customer="华东精工", product="MES Cloud", rep="王磊").count("MES Cloud") == 1


def test_served_only_when_approved_and_unexpired() -> None:
    atom = parse_atom(GOOD.encode(), "kb/x.md")
    assert atom.is_served(date(2027, 6, 30))
    assert not atom.is_served(date(2027, 7, 1))
    draft = atom.model_copy(update={"status": "draft"})
    assert not draft.is_served(date(2026, 1, 1))


def test_content_hash_ignores_path_but_not_body() -> None:
    a = parse_atom(GOOD.encode(), "kb/x.md")
    b = parse_atom(GOOD.encode(), "elsewhere/y.md")
    c = parse_atom(GOOD.replace("不少", "很多").encode(), "kb/x.md")
    assert a.content_hash == b.content_hash != c.content_hash


def test_bad_enum_names_line_and_field() -> None:
    bad = GOOD.replace("type: objection", "type: objeciton")
    [(line, field, message)] = problems_of(bad)
    assert (line, field) == (3, "type")
    assert "'objection'" in message


def test_unknown_field_is_rejected_with_its_line() -> None:
    bad = GOOD.replace("version: 3", "version: 3\ncolour: red")
    assert problems_of(bad) == [
        (17, "colour", "unknown field 'colour'; check the spelling against the atom format")
    ]


def test_missing_required_field() -> None:
    bad = GOOD.replace("language: zh\n", "")
    assert problems_of(bad) == [(1, "language", "required field is missing")]


def test_bad_id_stage_and_version_all_reported() -> None:
    bad = (
        GOOD.replace("id: obj-price-too-high-mfg", "id: Obj_Price")
        .replace("stages: [proposal, negotiation]", "stages: [proposal, haggling]")
        .replace("version: 3", "version: 0")
    )
    found = {(line, field) for line, field, _ in problems_of(bad)}
    assert found == {(2, "id"), (8, "stages.1"), (16, "version")}


def test_unknown_placeholder_points_at_body() -> None:
    bad = GOOD.replace("{product}", "{price}")
    [(line, field, message)] = problems_of(bad)
    assert (line, field) == (18, "body")
    assert "['price']" in message


def test_type_rules() -> None:
    competitor = GOOD.replace("type: objection", "type: competitor")
    assert problems_of(competitor)[0][1:] == (
        "competitors",
        "a competitor atom must list the competitor's names",
    )
    playbook = GOOD.replace("type: objection", "type: playbook")
    assert problems_of(playbook)[0][1] == "required_roles"
    unapproved = GOOD.replace("approved_by: legal@example.com\n", "")
    assert problems_of(unapproved)[0][1] == "approved_by"


def test_playbook_roles_use_the_vocabulary() -> None:
    playbook = GOOD.replace("type: objection", "type: playbook").replace(
        "version: 3", "version: 3\nrequired_roles: {proposal: [cto, cfo], poc: [wizard]}"
    )
    [(line, field, message)] = problems_of(playbook)
    assert (line, field) == (17, "required_roles.poc.0")
    assert "'cfo'" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"id: x\n", (1, "front matter", "file must start with a '---' line")),
        (b"---\nid: x\n", (1, "front matter", "no closing '---' line after the front matter")),
        (b"---\nid: [x\n---\nbody", (2, "front matter", None)),
        (b"---\n- a\n- b\n---\nbody", (2, "front matter", "must be a YAML mapping of field: value")),
        (b"---\nid: x\n---\n\xff\xfe", (4, "file", "not valid UTF-8 at byte 14; save as UTF-8")),
        (b"-" * 70_000, (1, "file", None)),
    ],
)
def test_malformed_files(raw: bytes, expected: tuple[int, str, str | None]) -> None:
    [(line, field, message)] = problems_of(raw)
    assert (line, field) == expected[:2]
    if expected[2] is not None:
        assert message == expected[2]


def test_folder_reports_every_problem_and_duplicate_ids(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "sub").mkdir(parents=True)
    (kb / "a.md").write_text(GOOD, encoding="utf-8")
    (kb / "sub" / "b.md").write_text(GOOD, encoding="utf-8")  # same id
    (kb / "c.md").write_text(GOOD.replace("language: zh", "language: fr"), encoding="utf-8")
    (kb / "README.md").write_text("# not an atom", encoding="utf-8")
    with pytest.raises(AtomValidationError) as info:
        load_atoms(kb)
    shown = [str(p) for p in info.value.problems]
    assert shown == [
        "kb/c.md:5: language: Input should be 'zh' or 'en'",
        "kb/sub/b.md:2: id: id 'obj-price-too-high-mfg' is already used by kb/a.md; ids must be unique",
    ]
    assert "2 problem(s) in 2 atom file(s)" in str(info.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(AtomValidationError, match="not a folder"):
        load_atoms(tmp_path / "nope")


def test_atom_model_forbids_extra_fields() -> None:
    atom = parse_atom(GOOD.encode(), "kb/x.md")
    with pytest.raises(ValueError):
        Atom.model_validate(atom.model_dump() | {"trusted": True})


def test_impossible_date_is_a_field_error() -> None:
    bad = GOOD.replace("valid_until: 2027-06-30", "valid_until: 2027-02-30")
    [(line, field, message)] = problems_of(bad)
    assert (line, field) == (15, "valid_until")
    assert "date" in message


def test_key_given_twice() -> None:
    bad = GOOD.replace("version: 3", "version: 3\nid: another-id")
    assert problems_of(bad) == [(17, "id", "given twice (first on line 2); keep one")]


def test_every_cross_field_rule_is_reported_even_beside_field_errors() -> None:
    bad = (
        GOOD.replace("type: objection", "type: competitor")
        .replace("approved_by: legal@example.com\n", "")
        .replace("version: 3", "version: 3\nrequired_roles: {poc: [cto]}")
        .replace("id: obj-price-too-high-mfg", "id: Bad_Id")
    )
    fields = {field for _, field, _ in problems_of(bad)}
    assert fields == {"id", "competitors", "required_roles", "approved_by"}


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "ok.md").write_text(GOOD, encoding="utf-8")
    (kb / "dir.md").mkdir()  # a folder named like an atom is skipped
    (kb / "gone.md").symlink_to(kb / "missing-target.md")  # dangling
    (kb / "mem.md").symlink_to("/proc/self/mem")  # a file that cannot be read
    with pytest.raises(AtomValidationError) as info:
        load_atoms(kb)
    # Links are reported, never followed (tests/test_hostile_input.py has the rest).
    assert [(p.path, p.field) for p in info.value.problems] == [("kb/gone.md", "file"), ("kb/mem.md", "file")]
    assert all("symbolic link" in p.message for p in info.value.problems)
