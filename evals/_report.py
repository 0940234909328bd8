"""Report files: JSON (the report itself), JUnit XML (for CI), and one self-contained HTML page.

Every text in the HTML page is escaped (suggestions quote customer-facing atoms
and the conversation is untrusted); the page has no scripts and no external links.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path
from typing import Any

from ._results import Attempt, CaseResult, Report

__all__ = ["write_report"]

FORMATS = ("json", "html", "junit")


def write_report(report: Report, fmt: str, path: Path) -> None:
    """Write ``report`` as ``fmt`` to ``path`` (replaced atomically)."""
    if fmt == "json":
        text = json.dumps(report.document(), ensure_ascii=False, indent=2)
    elif fmt == "junit":
        text = junit(report)
    elif fmt == "html":
        text = html_page(report)
    else:
        raise ValueError(f"unknown report format {fmt!r}; use one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def junit(report: Report) -> str:
    root = ET.Element("testsuites", name=f"copilot eval {report.label}".strip())
    suites: dict[str, ET.Element] = {}
    for case in report.cases:
        suite = suites.get(case.suite)
        if suite is None:
            suite = suites[case.suite] = ET.SubElement(root, "testsuite", name=case.suite)
        element = ET.SubElement(
            suite,
            "testcase",
            classname=f"evals.{case.suite}",
            name=case.id,
            time=f"{case.latency_ms / 1000:.4f}",
            file=case.file,
            line=str(case.line),
        )
        if not case.passed:
            failure = ET.SubElement(element, "failure", message=_failure_line(case))
            failure.text = _failure_text(case)
        skipped = [a for at in case.attempts for a in at.assertions if a.passed is None]
        if skipped:
            ET.SubElement(element, "system-out").text = "\n".join(f"{a.type}: {a.message}" for a in skipped)
    for suite in suites.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    root.set("tests", str(len(report.cases)))
    root.set("failures", str(len(report.cases) - report.passed))
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _failure_line(case: CaseResult) -> str:
    failed = {a.type for at in case.attempts for a in at.assertions if a.passed is False}
    errors = [at.error for at in case.attempts if at.error]
    what = ", ".join(sorted(failed)) or (errors[0] if errors else "below threshold")
    return f"{case.passes}/{case.runs} runs passed; failed: {what}"


def _failure_text(case: CaseResult) -> str:
    lines = []
    for n, attempt in enumerate(case.attempts):
        if attempt.error:
            lines.append(f"run {n + 1}: error {attempt.error}")
        for a in attempt.assertions:
            if a.passed is False:
                lines.append(f"run {n + 1}: {a.type}: expected {a.expected}; got {a.message}")
    return "\n".join(lines)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
margin:24px;color:#1b1f24}h1{font-size:20px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d0d7de;padding:4px 8px;
vertical-align:top;text-align:left}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}.skip{color:#9a6700}
section{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:12px 0}
section.failed{border-color:#cf222e}.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.msg{white-space:pre-wrap}.muted{color:#57606a}code{background:#f6f8fa;padding:0 3px}
"""


def html_page(report: Report) -> str:
    s = report.summary()
    head = (
        f"<h1>copilot eval {escape(report.label)}</h1><p>engine <b>{escape(report.engine)}</b>"
        f"{' · model ' + escape(report.model) if report.model else ''} · {s['passed']}/{s['cases']} cases "
        f"passed ({s['pass_rate']:.0%}) · {s['flaky']} flaky · p50 {s['latency_p50_ms']} ms · "
        f"p95 {s['latency_p95_ms']} ms · {report.duration_s:.1f} s · started {escape(report.started_at)}</p>"
    )
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{st['passed']}</td><td>{st['failed']}</td><td>{st['skipped']}</td>"
        f"<td>{'' if st['rate'] is None else format(st['rate'], '.0%')}</td></tr>"
        for name, st in s["by_type"].items()
    )
    header = "".join(f"<th>{name}</th>" for name in ("assertion", "passed", "failed", "skipped", "rate"))
    types = f"<table><tr>{header}</tr>{rows}</table>"
    notices = "".join(f"<p class=skip>{escape(n)}</p>" for n in report.notices)
    diff = _comparison(report)
    failed = [c for c in report.cases if not c.passed]
    passed = [c for c in report.cases if c.passed]
    body = "".join(_case(c) for c in failed + passed)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>copilot eval: {s['passed']}/{s['cases']} passed</title><style>{CSS}</style></head>"
        f"<body>{head}{notices}{types}{diff}<h2>Cases ({len(failed)} failing first)</h2>{body}"
        "</body></html>\n"
    )


def _comparison(report: Report) -> str:
    cmp = report.comparison
    if cmp is None:
        return ""
    rows = "".join(
        f"<tr><td class={cls}>{label}</td><td>{escape(c.key)}</td><td>{escape(c.before)}</td>"
        f"<td>{escape(c.after)}</td><td class=msg>{escape(c.detail)}</td></tr>"
        for label, cls, changes in (("worse", "fail", cmp.worse), ("better", "pass", cmp.better))
        for c in changes
    )
    return (
        f"<h2>Against baseline {escape(cmp.baseline)}</h2><table><tr><th></th><th>case</th><th>before</th>"
        f"<th>after</th><th>detail</th></tr>{rows}</table>"
    )


def _case(case: CaseResult) -> str:
    verdict = "pass" if case.passed else "fail"
    runs = f" · {case.passes}/{case.runs} runs" + (" · flaky" if case.flaky else "") if case.runs > 1 else ""
    attempt = next((a for a in case.attempts if not a.passed), case.attempts[0])
    return (
        f"<section class={'passed' if case.passed else 'failed'}><h3><span class={verdict}>"
        f"{verdict.upper()}</span> {escape(case.key)}</h3><p class=muted>{escape(case.description)} · "
        f"score {case.score:.2f} · {case.latency_ms} ms{runs} · {escape(case.file)}:{case.line}</p>"
        f"{_side_by_side(attempt)}</section>"
    )


def _side_by_side(attempt: Attempt) -> str:
    rows = "".join(
        f"<tr><td class={_cls(a.passed)}>{_mark(a.passed)}</td><td><code>{escape(a.type)}</code></td>"
        f"<td class=msg>{escape(a.expected)}</td><td class=msg>{escape(a.message)}</td></tr>"
        for a in attempt.assertions
    )
    error = f"<p class=fail>error: {escape(attempt.error)}</p>" if attempt.error else ""
    expected = "<table><tr><th></th><th>assertion</th><th>expected</th><th>got</th></tr>" + rows + "</table>"
    return f"{error}<div class=cols><div>{expected}</div><div>{_output(attempt.output)}</div></div>"


def _output(output: dict[str, Any] | None) -> str:
    if not output:
        return "<p class=muted>no output</p>"
    rows = [_row(str(i + 1), s["text"], s["citations"]) for i, s in enumerate(output.get("suggestions", []))]
    comp = output.get("competitor")
    if comp:
        rows.append(_row(f"competitor {comp['name']}", comp["response"], comp["citations"]))
    rows += [_row("guidance", g["text"], g["citations"]) for g in output.get("guidance", [])]
    chain = output.get("decision_chain") or {}
    missing = ", ".join(chain.get("missing_roles", [])) or "none"
    rows.append(_row("roles", f"missing {missing}", [c["role"] for c in chain.get("covered", [])]))
    return "<table><tr><th></th><th>shown</th><th>citations / covered</th></tr>" + "".join(rows) + "</table>"


def _row(label: str, text: str, refs: list[str]) -> str:
    cells = f"<td>{escape(label)}</td><td class=msg>{escape(text)}</td><td>{escape(', '.join(refs))}</td>"
    return f"<tr>{cells}</tr>"


def _cls(passed: bool | None) -> str:
    return "skip" if passed is None else ("pass" if passed else "fail")


def _mark(passed: bool | None) -> str:
    return "skipped" if passed is None else ("✓" if passed else "✗")
