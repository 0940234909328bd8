"""Prompt regression suites: YAML cases run through the engine, assertion types, reports.

    cases = load_suites([Path("evals/suites")])
    report = asyncio.run(run_cases(cases, RunConfig(settings=Settings())))
    write_report(report, "html", Path("report.html"))

The suite format is documented by ``evals/suite.schema.json`` (generated from
:class:`Suite`); ``copilot eval run`` and ``copilot eval compare`` wrap this API.
"""

from ._assertions import AssertionResult, EvalContext
from ._loader import DEFAULT_KB, LoadedCase, load_suites
from ._report import write_report
from ._results import Attempt, CaseResult, Comparison, Report, compare, load_report
from ._runner import RunConfig, kb_store, run_cases
from ._suite import ASSERTION_TYPES, Case, Suite, suite_json_schema

__all__ = [
    "ASSERTION_TYPES",
    "DEFAULT_KB",
    "AssertionResult",
    "Attempt",
    "Case",
    "CaseResult",
    "Comparison",
    "EvalContext",
    "LoadedCase",
    "Report",
    "RunConfig",
    "Suite",
    "compare",
    "kb_store",
    "load_report",
    "load_suites",
    "run_cases",
    "suite_json_schema",
    "write_report",
]
