"""The command line through click's runner: exit codes, --json, messages that say how to fix."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from copilot.cli import main

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "examples" / "kb"
CONVERSATIONS = ROOT / "examples" / "conversations"
FIRST = CONVERSATIONS / "01-price-objection-mfg.json"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def ingested() -> None:
    assert run("knowledge", "ingest", str(KB)).exit_code == 0


def test_help_teaches_the_first_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "copilot demo" in result.output and "COPILOT_HOME" in result.output


def test_validate_sample_kb_json() -> None:
    result = run("knowledge", "validate", str(KB), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["ok"] and report["atoms"] == 52 and report["served"] == 49


def test_validate_reports_every_problem_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nid: A\ntype: objection\n---\nhi\n", encoding="utf-8")
    (tmp_path / "b.md").write_bytes(b"no front matter")
    result = run("knowledge", "validate", str(tmp_path), "--json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert {(p["path"].split("/")[-1], p["field"]) for p in problems} >= {
        ("a.md", "id"),
        ("a.md", "title"),
        ("b.md", "front matter"),
    }
    human = run("knowledge", "validate", str(tmp_path))
    assert human.exit_code == 2 and "a.md:2: id:" in human.output


def test_ingest_is_incremental_and_logged() -> None:
    first = json.loads(run("knowledge", "ingest", str(KB), "--json").stdout)
    assert len(first["changes"]) == 52 and first["unchanged"] == 0
    again = json.loads(run("knowledge", "ingest", str(KB), "--json").stdout)
    assert again == {"ok": True, "dry_run": False, "unchanged": 52, "changes": []}
    verified = json.loads(run("audit", "verify", "--json").stdout)
    assert verified["ok"] and verified["rows_checked"] == 52  # one atom_changed per atom


@pytest.mark.usefixtures("ingested")
def test_list_and_search() -> None:
    assert run("knowledge", "list", "--type", "objectoin").exit_code == 2  # a typo is refused
    listed = json.loads(run("knowledge", "list", "--type", "competitor", "--json").stdout)
    assert {a["id"] for a in listed} >= {"comp-auroradw", "comp-panshi-en"}
    drafts = json.loads(run("knowledge", "list", "--status", "draft", "--json").stdout)
    assert [(a["id"], a["served"]) for a in drafts] == [("obj-quality-doubt-draft-zh", False)]
    hits = json.loads(run("knowledge", "search", "能不能打五折", "--stage", "negotiation", "--json").stdout)
    assert hits[0]["id"] == "pol-discount-authority-zh"
    assert run("knowledge", "search", "x", "--stage", "later").exit_code == 2


@pytest.mark.usefixtures("ingested")
def test_suggest_json_is_the_suggestion_set_shape() -> None:
    result = run("suggest", "--conversation", str(FIRST), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) >= {
        "id",
        "conversation_id",
        "engine",
        "suggestions",
        "competitor",
        "decision_chain",
        "compliance",
        "prompt_versions",
        "timings_ms",
    }
    assert data["conversation_id"] == "slack:C123:1700000000.000100"
    assert data["decision_chain"]["missing_roles"] == ["cfo"]
    assert all(s["citations"] for s in data["suggestions"])


@pytest.mark.usefixtures("ingested")
def test_suggest_human_output() -> None:
    result = run("suggest", "--conversation", str(FIRST))
    assert result.exit_code == 0
    assert "obj-price-too-high-mfg" in result.output and "missing" in result.output


def test_suggest_on_empty_store_says_how_to_fix() -> None:
    result = run("suggest", "--conversation", str(FIRST))
    assert result.exit_code == 2
    assert "copilot knowledge ingest" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (json.dumps({"id": "x", "deal": {"customer": "c"}, "messages": []}).encode(), "messages"),
        (
            json.dumps(
                {"id": "x", "deal": {"customer": "c"}, "messages": [{"from": "a", "text": "t" * 9000}]}
            ).encode(),
            "messages.0.text",
        ),
    ],
)
def test_suggest_bad_conversation_names_file_and_field(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = run("suggest", "--conversation", str(path), "--json")
    assert result.exit_code == 2
    assert "bad.json" in result.output and expected in result.output
    assert result.stdout == ""  # --json prints nothing but JSON


def test_audit_verify_detects_tampering() -> None:
    assert run("knowledge", "ingest", str(KB)).exit_code == 0
    assert run("audit", "verify").exit_code == 0
    from copilot import Settings

    db = sqlite3.connect(Settings().audit_path)
    with db:
        triggers = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
        for name in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute("UPDATE audit_events SET body = replace(body, 'added', 'removed') WHERE seq = 3")
    db.close()
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "seq 3" in result.output
    report = json.loads(run("audit", "verify", "--json").stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 3


def test_demo_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from copilot import Settings

    home = Settings().home
    result = run("demo")
    assert result.exit_code == 0, result.output
    for path in CONVERSATIONS.glob("*.json"):
        assert path.name in result.output
    assert "110101199003071233" not in result.output  # the terminal shows redacted text
    assert "copilot audit verify" in result.output
    assert not (home / "audit.sqlite3").exists()  # the demo keeps out of the real home
    monkeypatch.setenv("COPILOT_HOME", str(home / "demo"))
    verified = json.loads(run("audit", "verify", "--json").stdout)
    assert verified["ok"] and verified["rows_checked"] == 52 + 17


def test_demo_leaves_your_own_knowledge_base_alone(tmp_path: Path) -> None:
    own = tmp_path / "own-kb"
    (own / "x").mkdir(parents=True)
    (own / "x" / "a.md").write_text((KB / "objections" / "obj-price-too-high-mfg.md").read_text("utf-8"))
    assert run("knowledge", "ingest", str(own)).exit_code == 0
    assert run("demo", "--json").exit_code == 0
    listed = json.loads(run("knowledge", "list", "--json").stdout)
    assert [a["id"] for a in listed] == ["obj-price-too-high-mfg"]


def test_verify_without_a_log_fails() -> None:
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    assert "no audit log" in json.loads(result.stdout)["reason"]


def test_verify_on_a_corrupted_database_fails_cleanly() -> None:
    from copilot import Settings

    assert run("knowledge", "ingest", str(KB)).exit_code == 0
    path = Settings().audit_path
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xde\xad" * 2048  # wreck the second page
    path.write_bytes(bytes(data))
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "malformed" in result.output
    path.write_bytes(b"not a database")
    assert run("audit", "verify").exit_code == 1


def test_demo_json() -> None:
    result = run("demo", "--json")
    assert result.exit_code == 0
    sets = json.loads(result.stdout)
    assert len(sets) == 17 and all(len(s["suggestions"]) == 3 for s in sets)


def test_suggest_lone_surrogate_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "surrogate.json"
    doc = {"id": "x", "deal": {"customer": "c"}, "messages": [{"from": "a", "text": "ok"}]}
    path.write_text(json.dumps(doc).replace('"ok"', '"\\ud800"'), encoding="utf-8")
    result = run("suggest", "--conversation", str(path), "--json")
    assert result.exit_code == 2
    assert "messages.0.text" in result.output and "unicode" in result.output
