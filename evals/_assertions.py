"""Assertion evaluators: one small function per assertion type.

Each takes the assertion, the SuggestionSet and the run's context (the atoms of
the knowledge base, the compliance guard, the embedding, the judge) and returns
an :class:`AssertionResult`; ``passed`` is ``None`` when the assertion was
skipped (an ``llm_rubric`` with no model configured).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents import ComplianceGuard
from copilot import SuggestionSet
from knowledge import Atom, clauses, normalize

from . import _suite as s

__all__ = ["AssertionResult", "EvalContext", "evaluate"]

# A clause of an internal atom at least this long, found in a suggestion, is a leak.
MIN_LEAK_CHARS = 12
# (rubric, output) -> (passed, reason); passed is None when the judge could not answer.
Judge = Callable[[str, str], Awaitable[tuple[bool | None, str]]]


class AssertionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    passed: bool | None
    weight: float
    expected: str
    message: str = ""
    description: str = ""


@dataclass
class EvalContext:
    """What assertions may consult besides the result itself."""

    atoms: dict[str, Atom]
    guard: ComplianceGuard
    embed: Callable[[list[str]], Any]
    judge: Judge | None = None

    def internal_atoms(self) -> list[Atom]:
        return [a for a in self.atoms.values() if _audience(a) == "internal"]


def _audience(atom: Atom) -> str:
    declared = getattr(atom, "audience", None)
    if declared:
        return str(declared)
    return "internal" if atom.type in ("policy", "playbook") else "customer"


def texts(result: SuggestionSet, scope: str) -> list[str]:
    """The texts an assertion with this scope looks at."""
    out: list[str] = []
    if scope in ("suggestions", "sendable", "all"):
        out += [x.text for x in result.suggestions]
    if scope == "top":
        out += [x.text for x in result.suggestions[:1]]
    if scope in ("competitor", "sendable", "all") and result.competitor:
        out.append(result.competitor.response)
    if scope in ("guidance", "all"):
        out += [g.text for g in result.guidance]
    if scope in ("next_action", "all") and result.decision_chain.next_action:
        out.append(result.decision_chain.next_action.text)
    return out


def citations(result: SuggestionSet, scope: str) -> list[str]:
    out: list[str] = []
    if scope in ("suggestions", "sendable", "all", "next_action"):
        out += [c for x in result.suggestions for c in x.citations]
    if scope == "top":
        out += [c for x in result.suggestions[:1] for c in x.citations]
    if scope in ("competitor", "sendable", "all") and result.competitor:
        out += result.competitor.citations
    if scope in ("guidance", "all"):
        out += [c for g in result.guidance for c in g.citations]
    return out


def _matching(patterns: Sequence[str], cited: Sequence[str]) -> tuple[list[str], list[str]]:
    found = [p for p in patterns if any(fnmatch.fnmatchcase(c, p) for c in cited)]
    return found, [p for p in patterns if p not in found]


def _verdict(ok: bool, expected: str, got: str) -> tuple[bool, str, str]:
    return ok, expected, "" if ok else got


async def evaluate(assertion: s.Assertion, result: SuggestionSet, ctx: EvalContext) -> AssertionResult:
    passed: bool | None
    if isinstance(assertion, s.LlmRubric):
        passed, expected, message = await _rubric(assertion, result, ctx)
    else:
        passed, expected, message = _CHECKS[type(assertion)](assertion, result, ctx)
    return AssertionResult(
        type=assertion.type,
        passed=passed,
        weight=assertion.weight,
        expected=expected,
        message=message,
        description=assertion.description,
    )


def _cites(a: Any, r: SuggestionSet, _: EvalContext, scope: str | None = None) -> tuple[bool, str, str]:
    cited = citations(r, scope or a.scope)
    found, absent = _matching(a.atoms, cited)
    ok = not absent if a.mode == "all" else bool(found)
    where = scope or a.scope
    return _verdict(ok, f"{a.mode} of {a.atoms} cited in {where}", f"{where} cited {sorted(set(cited))}")


def _guidance_cites(a: s.GuidanceCites, r: SuggestionSet, ctx: EvalContext) -> tuple[bool, str, str]:
    return _cites(a, r, ctx, "guidance")


def _never_cites(a: s.NeverCites, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    found, _absent = _matching(a.atoms, citations(r, "all"))
    return _verdict(not found, f"none of {a.atoms} cited", f"cited {found}")


def _competitor(a: s.CompetitorIs, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    got = r.competitor.name if r.competitor else None
    ok = got == a.name
    if ok and a.cites and r.competitor:
        ok = bool(_matching(a.cites, r.competitor.citations)[0])
        got = f"{got} citing {r.competitor.citations}"
    expected = f"competitor {a.name}" + (f" citing any of {a.cites}" if a.cites else "")
    return _verdict(ok, expected, f"competitor {got}")


def _missing(a: s.MissingRoles, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    got = sorted(r.decision_chain.missing_roles)
    return _verdict(got == sorted(set(a.roles)), f"missing roles {sorted(set(a.roles))}", f"missing {got}")


def _covered(a: s.CoveredRoles, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    got = sorted({c.role for c in r.decision_chain.covered})
    want = set(a.roles)
    ok = want == set(got) if a.exact else want <= set(got)
    return _verdict(ok, f"covered {'exactly ' if a.exact else ''}{sorted(want)}", f"covered {got}")


def _finder(values: Sequence[str], regex: bool, ignore_case: bool) -> Callable[[str], list[str]]:
    flags = re.IGNORECASE if ignore_case else 0
    patterns = [re.compile(v if regex else re.escape(v), flags) for v in values]

    def find(text: str) -> list[str]:
        return [m.group(0) for p in patterns if (m := p.search(text))]

    return find


def _contains_any(a: s.ContainsAny, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    find = _finder(a.values, a.regex, a.ignore_case)
    ok = any(find(t) for t in texts(r, a.scope))
    return _verdict(ok, f"{a.scope} contain one of {a.values}", f"none of {a.values} in {a.scope}")


def _not_contains(a: s.NotContains, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    find = _finder(a.values, a.regex, a.ignore_case)
    hits = sorted({h for t in texts(r, a.scope) for h in find(t)})
    return _verdict(not hits, f"{a.scope} contain none of {a.values}", f"found {hits}")


def _compliant(a: s.Compliant, r: SuggestionSet, ctx: EvalContext) -> tuple[bool, str, str]:
    problems: list[str] = []
    shown = [(f"suggestion[{i}]", x.text) for i, x in enumerate(r.suggestions)]
    shown += [("competitor", r.competitor.response)] if r.competitor else []
    shown += [("next_action", r.decision_chain.next_action.text)] if r.decision_chain.next_action else []
    for target, text in shown:
        checked = ctx.guard.check(target, text)
        problems += [f"{target}: {v.rule} ({v.action})" for v in checked.verdicts]
    sendable = [(t, normalize(x)) for t, x in shown if t != "next_action"]
    for atom in ctx.internal_atoms():
        for clause in clauses(atom.body):
            key = normalize(clause)
            if len(key) < MIN_LEAK_CHARS:
                continue
            problems += [f"{t}: internal text of {atom.id}" for t, x in sendable if key in x]
    problems = list(dict.fromkeys(problems))
    return _verdict(not problems, "guard passes everything shown; no internal text", "; ".join(problems))


def _count(a: s.SuggestionCount, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    n = len(r.suggestions)
    return _verdict(a.min <= n <= a.max, f"{a.min}..{a.max} suggestions", f"{n} suggestions")


def _latency(a: s.MaxLatencyMs, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    total = r.timings_ms.get("total", 0.0)
    return _verdict(total <= a.ms, f"total <= {a.ms:g} ms", f"total {total:.1f} ms")


def _engine(a: s.EngineIs, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    return _verdict(r.engine == a.engine, f"engine {a.engine}", f"engine {r.engine}")


def _no_fallback(a: s.NoFallback, r: SuggestionSet, _: EvalContext) -> tuple[bool, str, str]:
    reason = r.fallback.reason if r.fallback else ""
    return _verdict(r.fallback is None, "no fallback", f"fell back: {reason}")


def _similar(a: s.SimilarTo, r: SuggestionSet, ctx: EvalContext) -> tuple[bool, str, str]:
    candidates = texts(r, "top" if a.scope == "top" else "suggestions")
    if not candidates:
        return False, f"similarity >= {a.threshold}", "no suggestions"
    vectors = ctx.embed([a.reference, *candidates])
    best = max(_cosine(vectors[0], v) for v in vectors[1:])
    return _verdict(best >= a.threshold, f"similarity >= {a.threshold}", f"best similarity {best:.2f}")


def _cosine(x: Any, y: Any) -> float:
    import numpy as np

    u, v = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    denom = float(np.linalg.norm(u) * np.linalg.norm(v)) or 1.0
    return float(np.dot(u, v) / denom)


async def _rubric(a: s.LlmRubric, r: SuggestionSet, ctx: EvalContext) -> tuple[bool | None, str, str]:
    expected = f"judge: {a.rubric}"
    if ctx.judge is None:
        return None, expected, "skipped: no model configured (set COPILOT_LLM_BASE_URL and COPILOT_LLM_MODEL)"
    output = "\n\n".join(texts(r, a.scope))
    ok, reason = await ctx.judge(a.rubric, output)
    return ok, expected, "" if ok else reason


_CHECKS: dict[type, Callable[[Any, SuggestionSet, EvalContext], tuple[bool, str, str]]] = {
    s.Cites: _cites,
    s.NeverCites: _never_cites,
    s.GuidanceCites: _guidance_cites,
    s.CompetitorIs: _competitor,
    s.MissingRoles: _missing,
    s.CoveredRoles: _covered,
    s.ContainsAny: _contains_any,
    s.NotContains: _not_contains,
    s.Compliant: _compliant,
    s.SuggestionCount: _count,
    s.MaxLatencyMs: _latency,
    s.EngineIs: _engine,
    s.NoFallback: _no_fallback,
    s.SimilarTo: _similar,
}
