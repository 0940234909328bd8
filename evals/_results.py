"""What a run produces: per attempt, per case, the summary, and the diff to a baseline.

The JSON report is :class:`Report` dumped as is; a saved baseline is the same
document, so any earlier report can serve as the baseline of a later run.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.errors import InputError

from ._assertions import AssertionResult

__all__ = ["Attempt", "CaseResult", "Change", "Comparison", "Report", "TypeStats", "compare", "load_report"]

REPORT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attempt(_Model):
    """One press of one case."""

    passed: bool
    score: float
    latency_ms: float
    assertions: list[AssertionResult]
    output: dict[str, Any] | None = None
    error: str = ""


class CaseResult(_Model):
    key: str
    suite: str
    id: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    file: str = ""
    line: int = 0
    passed: bool
    passes: int
    runs: int
    score: float
    latency_ms: float
    flaky: bool
    attempts: list[Attempt]

    @classmethod
    def of(cls, attempts: list[Attempt], **fields: Any) -> CaseResult:
        passes = sum(a.passed for a in attempts)
        return cls(
            passed=passes == len(attempts),
            passes=passes,
            runs=len(attempts),
            score=round(sum(a.score for a in attempts) / len(attempts), 4),
            latency_ms=round(median(a.latency_ms for a in attempts), 2),
            flaky=0 < passes < len(attempts),
            attempts=attempts,
            **fields,
        )


class TypeStats(_Model):
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def rate(self) -> float | None:
        done = self.passed + self.failed
        return self.passed / done if done else None


class Change(_Model):
    key: str
    before: str
    after: str
    detail: str = ""


class Comparison(_Model):
    baseline: str
    worse: list[Change] = Field(default_factory=list)
    better: list[Change] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class Report(_Model):
    version: int = REPORT_VERSION
    label: str = ""
    engine: str
    model: str = ""
    started_at: str
    duration_s: float
    repeat: int
    concurrency: int
    cases: list[CaseResult]
    by_type: dict[str, TypeStats] = Field(default_factory=dict)
    notices: list[str] = Field(default_factory=list)
    comparison: Comparison | None = None

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.cases) if self.cases else 1.0

    def summary(self) -> dict[str, Any]:
        latencies = sorted(a.latency_ms for c in self.cases for a in c.attempts)
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else 0.0
        return {
            "cases": len(self.cases),
            "passed": self.passed,
            "failed": len(self.cases) - self.passed,
            "flaky": sum(c.flaky for c in self.cases),
            "pass_rate": round(self.pass_rate, 4),
            "latency_p50_ms": round(median(latencies), 2) if latencies else 0.0,
            "latency_p95_ms": round(p95, 2),
            "by_type": {
                name: {**stats.model_dump(), "rate": stats.rate}
                for name, stats in sorted(self.by_type.items())
            },
        }

    def document(self) -> dict[str, Any]:
        """The JSON report: the summary first, then every case."""
        data = self.model_dump(mode="json")
        return {"summary": self.summary(), **data}


def type_stats(cases: list[CaseResult]) -> dict[str, TypeStats]:
    stats: dict[str, TypeStats] = {}
    for case in cases:
        for attempt in case.attempts:
            for result in attempt.assertions:
                entry = stats.setdefault(result.type, TypeStats())
                if result.passed is None:
                    entry.skipped += 1
                elif result.passed:
                    entry.passed += 1
                else:
                    entry.failed += 1
    return stats


def load_report(path: Path) -> Report:
    """A report written earlier (``--report json`` or ``--save-baseline``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON report ({exc}); write one with --save-baseline") from None
    if isinstance(data, dict):
        data.pop("summary", None)
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise InputError(f"{path}: not an eval report ({where}: {first['msg']})") from None


def compare(current: Report, baseline: Report, name: str) -> Comparison:
    """Cases that got worse (passed → failed, or a lower score) or better."""
    before = {c.key: c for c in baseline.cases}
    now = {c.key: c for c in current.cases}
    out = Comparison(
        baseline=name,
        added=sorted(set(now) - set(before)),
        removed=sorted(set(before) - set(now)),
    )
    for key in sorted(set(now) & set(before)):
        old, new = before[key], now[key]
        if (old.passed, old.score) == (new.passed, new.score):
            continue
        change = Change(key=key, before=_state(old), after=_state(new), detail=_failed(new) or _failed(old))
        worse = (old.passed and not new.passed) or (old.passed == new.passed and new.score < old.score)
        (out.worse if worse else out.better).append(change)
    return out


def _state(case: CaseResult) -> str:
    verdict = "pass" if case.passed else "FAIL"
    return f"{verdict} {case.score:.2f}" + (f" ({case.passes}/{case.runs})" if case.runs > 1 else "")


def _failed(case: CaseResult) -> str:
    failed = [a for attempt in case.attempts for a in attempt.assertions if a.passed is False]
    return "; ".join(dict.fromkeys(f"{a.type}: {a.message}" for a in failed))
