"""``copilot eval``: run prompt regression suites, compare two configurations.

The ``evals`` package is imported inside the commands, so ``copilot suggest``
never loads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ._cli_common import BadInput, err_console, out_console, print_json, settings

if TYPE_CHECKING:
    from evals import LoadedCase, Report, RunConfig

__all__ = ["eval_group"]

PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
ENGINE = click.option(
    "--engine",
    type=click.Choice(["grounded", "llm"]),
    default=None,
    help="grounded (offline, deterministic) or llm (the configured model; the default when "
    "COPILOT_LLM_BASE_URL is set).",
)
REPEAT = click.option(
    "--repeat", type=click.IntRange(1, 100), default=1, show_default=True, help="Runs per case (flakiness)."
)
CONCURRENCY = click.option(
    "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Presses at once."
)
FILTER = click.option("--filter", "tags", multiple=True, help="Only cases with this tag (repeatable).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout only.")


@click.group("eval")
def eval_group() -> None:
    """Prompt regression suites: YAML cases pressed through the engine, checked by assertions.

    \b
    Examples:
      copilot eval run evals/suites                            # all shipped suites
      copilot eval run evals/suites --report html report.html  # one self-contained page
      copilot eval run evals/suites --save-baseline base.json  # before a change
      copilot eval run evals/suites --baseline base.json       # after it: exit 1 if worse
      copilot eval compare --a a.env --b b.env evals/suites    # two configurations

    Each run has its own temporary audit log and the suite's fixed date; the
    sample knowledge base is ingested once and cached in COPILOT_HOME/eval-cache.
    The suite format: evals/suite.schema.json.
    """


@eval_group.command("run")
@PATHS
@ENGINE
@REPEAT
@CONCURRENCY
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), help="Earlier JSON report.")
@click.option(
    "--save-baseline", type=click.Path(path_type=Path, dir_okay=False), help="Write the JSON report here."
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    type=(click.Choice(["json", "html", "junit"]), click.Path(path_type=Path, dir_okay=False)),
    metavar="FORMAT FILE",
    help="Write a report: json, html or junit, then the file (repeatable).",
)
@click.option(
    "--min-pass-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Pass when at least this share of cases pass (default: all must).",
)
@FILTER
@click.option(
    "--kb",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Run every suite on this knowledge base instead of its own (a candidate KB).",
)
@click.option(
    "--no-cache", is_flag=True, help="Ask the model afresh; neither read nor write its answer cache."
)
@JSON
def run(
    paths: tuple[Path, ...],
    engine: str | None,
    repeat: int,
    concurrency: int,
    baseline: Path | None,
    save_baseline: Path | None,
    reports: tuple[tuple[str, Path], ...],
    min_pass_rate: float | None,
    tags: tuple[str, ...],
    kb: Path | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Run suites (files or folders of *.yaml) and print a table per case and a summary.

    Exit 1 on a failing case, a case worse than in --baseline, or a pass rate
    under --min-pass-rate; exit 2 on a bad suite file (file, line and field named).

    \b
    Examples:
      copilot eval run evals/suites
      copilot eval run evals/suites --save-baseline base.json
      copilot eval run evals/suites --baseline base.json --report html report.html
      copilot eval run evals/suites --filter decision-chain --repeat 3 --json
    """
    from evals import compare, load_report, write_report
    from evals._configs import run_config

    config = run_config(settings(), engine, repeat=repeat, concurrency=concurrency, use_cache=not no_cache)
    cases = _load(paths, tags, kb, config.engine)
    before = load_report(baseline) if baseline else None
    report = _execute(cases, config, quiet=as_json)
    if before is not None and baseline is not None:
        report.comparison = compare(report, before, str(baseline))
    for fmt, path in reports:
        write_report(report, fmt, path)
    if save_baseline:
        write_report(report, "json", save_baseline)
    if as_json:
        print_json(report.document())
    else:
        _print_run(report)
    threshold = 1.0 if min_pass_rate is None else min_pass_rate
    worse = bool(report.comparison and report.comparison.worse)
    if report.pass_rate < threshold or worse:
        raise click.exceptions.Exit(1)


@eval_group.command("compare")
@click.option(
    "--a", "env_a", required=True, type=click.Path(path_type=Path), help="Env file of configuration A."
)
@click.option(
    "--b", "env_b", required=True, type=click.Path(path_type=Path), help="Env file of configuration B."
)
@PATHS
@ENGINE
@REPEAT
@CONCURRENCY
@FILTER
@JSON
def compare_cmd(
    env_a: Path,
    env_b: Path,
    paths: tuple[Path, ...],
    engine: str | None,
    repeat: int,
    concurrency: int,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the same suites under two configurations and show them side by side.

    Each env file holds COPILOT_* lines over your current settings (two models,
    two prompt or discount settings); COPILOT_EVAL_KB=folder swaps the knowledge
    base. Prints pass rates per assertion type, latency, and the cases where A
    and B disagree.
    """
    from evals._configs import run_config, settings_from_env_file

    base = settings()
    sides: list[Report] = []
    for env in (env_a, env_b):
        side = settings_from_env_file(env, base)
        config = run_config(side.settings, engine, repeat=repeat, concurrency=concurrency, label=side.name)
        cases = _load(paths, tags, None, config.engine)
        mine = [dataclasses.replace(c, kb=side.kb) for c in cases] if side.kb else cases
        sides.append(_execute(mine, config, quiet=as_json))
    a, b = sides
    disagree = _disagreements(a, b)
    if as_json:
        print_json({"a": a.document(), "b": b.document(), "disagree": disagree})
        return
    _print_compare(a, b, disagree)


def _load(paths: tuple[Path, ...], tags: tuple[str, ...], kb: Path | None, engine: str) -> list[LoadedCase]:
    from evals import load_suites

    cases = load_suites(list(paths), tags=tags, engine=engine)
    if not cases:
        raise BadInput(f"no case for engine {engine} carries the tag(s) {', '.join(tags)}; check --filter")
    if kb is not None:
        cases = [dataclasses.replace(c, kb=kb.resolve()) for c in cases]
    return cases


def _execute(cases: list[LoadedCase], config: RunConfig, *, quiet: bool) -> Report:
    from evals import run_cases

    columns = (
        TextColumn("[bold]eval {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    hidden = quiet or not err_console.is_terminal
    with Progress(*columns, console=err_console, transient=True, disable=hidden) as bar:
        task = bar.add_task(config.label or config.engine, total=len(cases) * config.repeat)
        return asyncio.run(run_cases(cases, config, on_done=lambda n: bar.advance(task, n)))


def _print_run(report: Report) -> None:
    table = Table(title=f"copilot eval · engine {report.engine}", title_justify="left")
    for name in ("case", "result", "score", "ms", "failed assertions"):
        table.add_column(name, overflow="fold")
    for case in report.cases:
        verdict = "[green]pass[/]" if case.passed else "[bold red]FAIL[/]"
        if case.runs > 1:
            verdict += f" {case.passes}/{case.runs}" + (" [yellow]flaky[/]" if case.flaky else "")
        table.add_row(case.key, verdict, f"{case.score:.2f}", f"{case.latency_ms:.0f}", _failed(case))
    out_console.print(table)
    _print_types([report])
    if report.comparison:
        _print_comparison(report)
    for notice in report.notices:
        err_console.print(f"[yellow]notice:[/] {notice}")
    s = report.summary()
    colour = "green" if s["failed"] == 0 else "red"
    out_console.print(
        f"[{colour}]{s['passed']}/{s['cases']} cases passed ({s['pass_rate']:.1%})[/] · {s['flaky']} flaky · "
        f"p50 {s['latency_p50_ms']} ms · p95 {s['latency_p95_ms']} ms · {report.duration_s:.1f} s"
    )


def _failed(case: Any) -> str:
    attempt = next((a for a in case.attempts if not a.passed), None)
    if attempt is None:
        return ""
    if attempt.error:
        return f"error: {attempt.error}"
    return "; ".join(f"{a.type}: {a.message}" for a in attempt.assertions if a.passed is False)


def _print_types(reports: list[Report]) -> None:
    table = Table(title="pass rate per assertion type", title_justify="left")
    table.add_column("assertion")
    for report in reports:
        table.add_column(report.label or report.engine, justify="right")
    names = sorted({name for r in reports for name in r.by_type})
    for name in names:
        cells = []
        for report in reports:
            stats = report.by_type.get(name)
            if stats is None:
                cells.append("-")
            elif stats.rate is None:
                cells.append(f"skipped {stats.skipped}")
            else:
                cells.append(f"{stats.rate:.0%} ({stats.passed}/{stats.passed + stats.failed})")
        table.add_row(name, *cells)
    out_console.print(table)


def _print_comparison(report: Report) -> None:
    cmp = report.comparison
    assert cmp is not None
    table = Table(title=f"against baseline {cmp.baseline}", title_justify="left")
    for name in ("", "case", "before", "after", "detail"):
        table.add_column(name, overflow="fold")
    for label, changes in (("[red]worse[/]", cmp.worse), ("[green]better[/]", cmp.better)):
        for c in changes:
            table.add_row(label, c.key, c.before, c.after, c.detail)
    if not (cmp.worse or cmp.better):
        table.add_row("", "no case changed", "", "", "")
    out_console.print(table)
    if cmp.added or cmp.removed:
        out_console.print(f"new cases: {len(cmp.added)} · cases gone: {len(cmp.removed)}")


def _disagreements(a: Report, b: Report) -> list[dict[str, Any]]:
    theirs = {c.key: c for c in b.cases}
    out = []
    for mine in a.cases:
        other = theirs.get(mine.key)
        if other is not None and (mine.passed, mine.score) != (other.passed, other.score):
            out.append({"case": mine.key, "a": _failed(mine) or "pass", "b": _failed(other) or "pass"})
    return out


def _print_compare(a: Report, b: Report, disagree: list[dict[str, Any]]) -> None:
    _print_types([a, b])
    table = Table(title="A vs B", title_justify="left")
    for name in ("", a.label or "A", b.label or "B"):
        table.add_column(name, justify="right")
    sa, sb = a.summary(), b.summary()
    for key in ("passed", "failed", "pass_rate", "latency_p50_ms", "latency_p95_ms"):
        table.add_row(key, str(sa[key]), str(sb[key]))
    out_console.print(table)
    cases = Table(title=f"{len(disagree)} case(s) where A and B disagree", title_justify="left")
    for name in ("case", a.label or "A", b.label or "B"):
        cases.add_column(name, overflow="fold")
    for row in disagree:
        cases.add_row(row["case"], row["a"], row["b"])
    out_console.print(cases)
