"""The managers' review report: counts, ratios, breakdowns, window, CLI forms."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from audit import AuditEvent, AuditStore, append_action, append_feedback, build_report, open_audit_store
from copilot import Settings
from copilot.cli import main

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def shown(n: int, rep: str, **output: Any) -> AuditEvent:
    suggestions = [{"text": f"建议 {n}-{i}", "citations": [f"atom-{i}"]} for i in range(3)]
    return AuditEvent(
        type="suggestion_shown",
        at=T0 + timedelta(days=n),
        actor=rep,
        suggestion_set_id=f"ss-{n}",
        output={"suggestions": suggestions, "decision_chain": {"missing_roles": ["cfo"]}, **output},
        engine="grounded",
        prompt_versions={"decision_chain": "1"},
        atoms={f"atom-{i}": 1 for i in range(3)},
        latency_ms=10.0 * (n + 1),
    )


def fill(store: AuditStore) -> None:
    store.append([shown(n, "U1" if n < 6 else "U2") for n in range(8)])
    store.append([shown(8, "U2", competitor={"name": "极光数仓"}, fallback={"reason": "timeout"})])
    for n in range(4):
        append_action(store, f"ss-{n}", "sent_as_is", rep="U1", index=0)
    append_action(store, "ss-4", "edited", rep="U1", index=0, final_text="建议 4-0 改")
    append_action(store, "ss-5", "wrote_own", rep="U1", final_text="我自己写")
    append_action(store, "ss-6", "dismissed", rep="U2")
    append_action(store, "ss-7", "ignored", rep="U2")
    append_feedback(store, "ss-0", True, rep="U1", atom_id="atom-0")
    append_feedback(store, "ss-6", False, rep="U2")


@pytest.fixture
def store() -> Any:
    with open_audit_store(Settings().audit_path) as opened:
        fill(opened)
        yield opened


def test_totals_and_ratio(store: AuditStore) -> None:
    report = build_report(store.facts())
    totals = report["totals"]
    assert totals["shown"] == 9
    assert [totals[a] for a in ("sent_as_is", "edited", "dismissed", "wrote_own", "ignored")] == [
        4,
        1,
        1,
        1,
        1,
    ]
    assert totals["pending"] == 1
    assert totals["adoption_rate"] == round(5 / 8, 4)
    assert totals["adoption_to_correction"] == 2.0 and totals["meets_target"] is False
    assert totals["helpfulness"] == 0.5
    assert totals["latency_ms"] == {"p50": 50.0, "p95": 90.0}
    assert totals["fallback_rate"] == round(1 / 9, 4)


def test_breakdowns_and_atoms(store: AuditStore) -> None:
    report = build_report(store.facts())
    by = report["by"]
    assert by["rep"]["U1"]["sent_as_is"] == 4 and by["rep"]["U1"]["adoption_to_correction"] == 2.0
    assert by["rep"]["U2"]["shown"] == 3 and by["rep"]["U2"]["pending"] == 1
    assert by["engine"]["grounded"]["shown"] == 9
    assert by["agent"]["decision_chain"]["shown"] == 9
    assert by["prompt_version"]["decision_chain@1"]["shown"] == 9
    assert by["competitor"]["极光数仓"]["shown"] == 1
    assert by["missing_role"]["cfo"]["shown"] == 9
    atoms = report["atoms"]
    assert atoms["atom-0"]["sent_as_is"] == 4 and atoms["atom-0"]["edited"] == 1
    assert atoms["atom-0"]["helpful"] == 1
    assert atoms["atom-2"]["sent_as_is"] == 0 and atoms["atom-2"]["dismissed"] == 6
    rarely = [r["atom"] for r in report["shown_often_adopted_rarely"]]
    assert rarely == ["atom-1", "atom-2"]


def test_window_and_reps(store: AuditStore) -> None:
    report = build_report(store.facts(since=T0 + timedelta(days=6)), since=T0 + timedelta(days=6))
    assert report["totals"]["shown"] == 3
    bounded = build_report(store.facts(), until=T0 + timedelta(days=2))
    assert bounded["totals"]["shown"] == 2
    only = build_report(store.facts(), reps=["U2"])
    assert only["totals"]["shown"] == 3 and set(only["by"]["rep"]) == {"U2"}


def test_empty_log_reports_zeroes() -> None:
    with open_audit_store(Settings().audit_path) as opened:
        report = build_report(opened.facts())
    assert report["totals"]["shown"] == 0 and report["totals"]["adoption_rate"] is None
    assert report["totals"]["latency_ms"] == {"p50": None, "p95": None}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_report_forms(store: AuditStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(run("audit", "report", "--json").stdout)
    assert data["totals"]["sent_as_is"] == 4
    rows = list(csv.DictReader(io.StringIO(run("audit", "report", "--csv").stdout)))
    assert rows[0]["dimension"] == "all" and rows[0]["sent_as_is"] == "4"
    assert any(r["dimension"] == "rep" and r["key"] == "U2" for r in rows)
    table = run("audit", "report")
    assert table.exit_code == 0 and "2 : 1" in table.output and "below" in table.output
    since = json.loads(run("audit", "report", "--since", "2026-11-08", "--json").stdout)
    assert since["totals"]["shown"] == 3
    assert run("audit", "report", "--since", "last week").exit_code == 2
    monkeypatch.setenv("COPILOT_TEAMS", '{"east": ["U2"]}')
    east = json.loads(run("audit", "report", "--team", "east", "--json").stdout)
    assert east["totals"]["shown"] == 3
    unknown = run("audit", "report", "--team", "west")
    assert unknown.exit_code == 2 and "east" in unknown.output
