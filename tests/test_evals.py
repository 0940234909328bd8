"""The eval suite format, its loader's errors, the assertion types and the report files."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from agents import ComplianceGuard
from copilot import (
    CompetitorResponse,
    CoveredRole,
    DecisionChainReport,
    Fallback,
    Guidance,
    Suggestion,
    SuggestionSet,
)
from copilot.errors import SuiteError
from evals import (
    ASSERTION_TYPES,
    AssertionResult,
    Attempt,
    CaseResult,
    EvalContext,
    Report,
    compare,
    load_report,
    load_suites,
    suite_json_schema,
    write_report,
)
from evals._assertions import evaluate
from evals._suite import Case
from knowledge import BilingualEmbedding, load_atoms

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "examples" / "kb"

SUITE = """\
name: unit
cases:
  - id: one
    conversation:
      deal: {customer: 华东精工, industry: manufacturing, stage: proposal}
      participants: [{id: r, side: rep}, {id: c, side: customer, title: CTO}]
      messages: [{from: c, text: 价格比预算高}]
    assert:
      - {type: missing_roles, roles: [cfo]}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        load_suites([write(tmp_path, text)])
    return [f"{p.line}:{p.field}: {p.message}" for p in caught.value.problems]


def test_a_valid_suite_loads_with_its_tags_and_inline_conversation(tmp_path: Path) -> None:
    [case] = load_suites([write(tmp_path, SUITE)])
    assert case.key == "unit/one" and case.line == 3
    assert case.conversation.id == "eval:unit:one" and case.conversation.channel == "eval"
    assert case.tags == ("unit",)
    assert case.kb.name == "kb"


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = SUITE.replace("roles: [cfo]", "roles: [cfoo]").replace("stage: proposal", "stage: pitch")
    bad += "  - id: two\n    conversation: {}\n    assert:\n      - {type: cites, atoms: [x], moed: all}\n"
    bad += "      - {type: no_such_type}\n"
    found = problems(tmp_path, bad)
    assert found[0].startswith("9:cases[0].assert[0].roles[0]: Input should be 'ceo', 'cfo'")
    assert (
        "13:cases[1].assert[0].moed: unknown field; check the spelling against evals/suite.schema.json"
        in found
    )
    assert any(p.startswith("14:cases[1].assert[1]: unknown assertion type 'no_such_type'") for p in found)


def test_conversation_errors_point_into_the_case(tmp_path: Path) -> None:
    bad = SUITE.replace("stage: proposal", "stage: pitch")
    [found] = problems(tmp_path, bad)
    assert found.startswith("5:cases[0].conversation.deal.stage: Input should be")


def test_yaml_and_file_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, "name: x\ncases: [\n")[0].startswith("3:yaml: invalid YAML")
    assert problems(tmp_path, SUITE + "name: again\n")[0].startswith("10:name: given twice (first on line 1)")
    twice = SUITE + SUITE.split("cases:\n")[1]
    assert any("case id(s) ['one'] appear more than once" in p for p in problems(tmp_path, twice))
    missing = SUITE.replace(
        "    conversation:\n      deal: {customer: 华东精工, industry: manufacturing, stage: proposal}\n"
        "      participants: [{id: r, side: rep}, {id: c, side: customer, title: CTO}]\n"
        "      messages: [{from: c, text: 价格比预算高}]\n",
        "    conversation: nowhere.json\n",
    )
    [found] = problems(tmp_path, missing)
    assert found.startswith("4:cases[0].conversation: cannot read") and "nowhere.json" in found
    kb = problems(tmp_path, "kb: no-such-kb\n" + SUITE)
    assert kb[0].startswith("1:kb:") and "is not a folder" in kb[0]
    with pytest.raises(SuiteError, match="no such file or folder"):
        load_suites([tmp_path / "absent.yaml"])


def test_filter_by_tag(tmp_path: Path) -> None:
    tagged = SUITE.replace("  - id: one\n", "  - id: one\n    tags: [zh]\n")
    assert len(load_suites([write(tmp_path, tagged)], tags=["zh"])) == 1
    assert load_suites([write(tmp_path, tagged)], tags=["en"]) == []
    only_llm = SUITE.replace("  - id: one\n", "  - id: one\n    engines: [llm]\n")
    assert load_suites([write(tmp_path, only_llm)], engine="grounded") == []
    assert len(load_suites([write(tmp_path, only_llm)], engine="llm")) == 1


def test_schema_file_is_generated_from_the_models() -> None:
    on_disk = json.loads((ROOT / "evals" / "suite.schema.json").read_text(encoding="utf-8"))
    assert on_disk == suite_json_schema(), "regenerate: python -c 'import evals, json; ...' (see README)"
    kinds = on_disk["$defs"]["Case"]["properties"]["assert"]["items"]["discriminator"]["mapping"]
    assert set(kinds) == set(ASSERTION_TYPES)


def test_shipped_suites_load_and_hold_at_least_80_cases() -> None:
    cases = load_suites([ROOT / "evals" / "suites"])
    assert len(cases) >= 80
    used = {a.type for c in cases for a in c.case.assertions}
    assert used >= set(ASSERTION_TYPES) - {"llm_rubric"}
    langs = {t for c in cases for t in c.tags if t in ("zh", "en", "mixed")}
    assert langs == {"zh", "en", "mixed"}


# --- assertion types, on hand-built results --------------------------------------------


@pytest.fixture(scope="module")
def ctx(embedding: BilingualEmbedding) -> EvalContext:
    atoms = {a.id: a for a in load_atoms(KB)}
    names = [n for a in atoms.values() if a.type == "competitor" for n in a.competitors]
    return EvalContext(atoms=atoms, guard=ComplianceGuard(competitor_names=names), embed=embedding)


def result(**update: object) -> SuggestionSet:
    base = SuggestionSet(
        id="ss-1",
        conversation_id="c",
        engine="grounded",
        suggestions=[
            Suggestion(
                text="理解您的预算压力，我们按三年总成本算一下。", citations=["obj-price-too-high-mfg"]
            ),
            Suggestion(
                text="方便约财务负责人一起聊聊吗？", citations=["script-three-party-finance-meeting-zh"]
            ),
        ],
        competitor=CompetitorResponse(name="极光数仓", response="各有所长。", citations=["comp-auroradw"]),
        decision_chain=DecisionChainReport(
            required_roles=["cto", "cfo"],
            covered=[CoveredRole(role="cto", state="approved")],
            missing_roles=["cfo"],
        ),
        guidance=[Guidance(text="不使用排名用语", citations=["pol-ad-law-superlative-zh"])],
        timings_ms={"total": 42.0},
    )
    return base.model_copy(update=update)


def check(
    ctx: EvalContext, assertion: dict[str, object], res: SuggestionSet | None = None
) -> AssertionResult:
    case = Case.model_validate({"id": "x", "conversation": "x.json", "assert": [assertion]})
    return asyncio.run(evaluate(case.assertions[0], res or result(), ctx))


@pytest.mark.parametrize(
    ("assertion", "passed"),
    [
        ({"type": "cites", "atoms": ["obj-price-too-high-*"]}, True),
        ({"type": "cites", "atoms": ["obj-price-too-high-mfg", "nope"]}, False),
        ({"type": "cites", "atoms": ["obj-price-too-high-mfg", "nope"], "mode": "any"}, True),
        ({"type": "cites", "atoms": ["comp-auroradw"]}, False),
        ({"type": "cites", "atoms": ["comp-auroradw"], "scope": "all"}, True),
        ({"type": "cites", "atoms": ["script-*"], "scope": "top"}, False),
        ({"type": "never_cites", "atoms": ["pol-*"]}, False),
        ({"type": "never_cites", "atoms": ["script-2025-*"]}, True),
        ({"type": "guidance_cites", "atoms": ["pol-ad-law-superlative-zh"]}, True),
        ({"type": "guidance_cites", "atoms": ["pol-discount-authority-zh"]}, False),
        ({"type": "competitor", "name": "极光数仓", "cites": ["comp-auroradw*"]}, True),
        ({"type": "competitor", "name": "极光数仓", "cites": ["comp-xingtu"]}, False),
        ({"type": "competitor", "name": None}, False),
        ({"type": "missing_roles", "roles": ["cfo"]}, True),
        ({"type": "missing_roles", "roles": ["cfo", "legal"]}, False),
        ({"type": "covered_roles", "roles": ["cto"], "exact": True}, True),
        ({"type": "covered_roles", "roles": ["cfo"]}, False),
        ({"type": "contains_any", "values": ["三年", "ROI"]}, True),
        ({"type": "contains_any", "values": ["财务.{0,3}负责人"], "regex": True, "scope": "top"}, False),
        ({"type": "not_contains", "values": ["各有所长"]}, False),
        ({"type": "not_contains", "values": ["排名"]}, True),
        ({"type": "not_contains", "values": ["排名"], "scope": "all"}, False),
        ({"type": "suggestion_count", "min": 3}, False),
        ({"type": "suggestion_count", "min": 2, "max": 3}, True),
        ({"type": "max_latency_ms", "ms": 50}, True),
        ({"type": "max_latency_ms", "ms": 10}, False),
        ({"type": "engine", "engine": "grounded"}, True),
        ({"type": "engine", "engine": "llm"}, False),
        ({"type": "no_fallback"}, True),
        ({"type": "similar_to", "reference": "我们可以按三年的总拥有成本来算预算", "threshold": 0.5}, True),
        (
            {
                "type": "similar_to",
                "reference": "Our security certifications include ISO 27001",
                "threshold": 0.9,
            },
            False,
        ),
        ({"type": "compliant"}, True),
    ],
)
def test_each_assertion_type(ctx: EvalContext, assertion: dict[str, object], passed: bool) -> None:
    got = check(ctx, assertion)
    assert got.passed is passed, got
    assert bool(got.message) is (not passed)


def test_compliant_catches_guard_violations_and_internal_text(ctx: EvalContext) -> None:
    policy = ctx.atoms["pol-discount-authority-zh"].body
    leaky = result(suggestions=[Suggestion(text=policy, citations=["pol-discount-authority-zh"])])
    got = check(ctx, {"type": "compliant"}, leaky)
    assert got.passed is False and "internal text of pol-discount-authority-zh" in got.message
    boast = result(suggestions=[Suggestion(text="我们是行业第一的 MES。", citations=["x"])])
    got = check(ctx, {"type": "compliant"}, boast)
    assert got.passed is False and "suggestion[0]: ad-law-superlative" in got.message
    fallback = check(ctx, {"type": "no_fallback"}, result(fallback=Fallback(reason="timeout")))
    assert fallback.passed is False and "timeout" in fallback.message


def test_llm_rubric_is_skipped_without_a_model(ctx: EvalContext) -> None:
    got = check(ctx, {"type": "llm_rubric", "rubric": "Is it polite?"})
    assert got.passed is None and "no model configured" in got.message


# --- results, baselines, report files ----------------------------------------------------


def case_result(key: str, passed: bool, score: float, *, text: str = "<b>hi</b>") -> CaseResult:
    verdict = AssertionResult(
        type="missing_roles",
        passed=passed,
        weight=1,
        expected="missing ['cfo']",
        message="" if passed else "x",
    )
    output = result(suggestions=[Suggestion(text=text, citations=["a"])]).model_dump(mode="json")
    attempt = Attempt(passed=passed, score=score, latency_ms=5, assertions=[verdict], output=output)
    suite, name = key.split("/")
    return CaseResult.of([attempt], key=key, suite=suite, id=name)


def report(*cases: CaseResult) -> Report:
    from evals._results import type_stats

    return Report(
        engine="grounded",
        started_at="2026-11-29T00:00:00+00:00",
        duration_s=1.0,
        repeat=1,
        concurrency=1,
        cases=list(cases),
        by_type=type_stats(list(cases)),
    )


def test_compare_names_worse_and_better_cases() -> None:
    before = report(
        case_result("s/a", True, 1.0), case_result("s/b", False, 0.5), case_result("s/gone", True, 1)
    )
    after = report(
        case_result("s/a", False, 0.5), case_result("s/b", True, 1.0), case_result("s/new", True, 1)
    )
    diff = compare(after, before, "base.json")
    assert [c.key for c in diff.worse] == ["s/a"] and [c.key for c in diff.better] == ["s/b"]
    assert diff.worse[0].before == "pass 1.00" and diff.worse[0].after == "FAIL 0.50"
    assert (diff.added, diff.removed) == (["s/new"], ["s/gone"])


def test_flakiness_over_repeats() -> None:
    ok = case_result("s/a", True, 1.0).attempts[0]
    bad = case_result("s/a", False, 0.0).attempts[0]
    flaky = CaseResult.of([ok, bad, ok], key="s/a", suite="s", id="a")
    assert (flaky.passed, flaky.passes, flaky.runs, flaky.flaky) == (False, 2, 3, True)
    assert CaseResult.of([ok, ok], key="s/a", suite="s", id="a").flaky is False


def test_json_report_round_trips_as_a_baseline(tmp_path: Path) -> None:
    original = report(case_result("s/a", True, 1.0), case_result("s/b", False, 0.0))
    write_report(original, "json", tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["summary"]["cases"] == 2 and data["summary"]["by_type"]["missing_roles"]["rate"] == 0.5
    assert load_report(tmp_path / "r.json") == original
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(Exception, match=r"bad.json: not an eval report"):
        load_report(tmp_path / "bad.json")


def test_junit_report_is_valid_xml_with_failures(tmp_path: Path) -> None:
    write_report(
        report(case_result("s/a", True, 1.0), case_result("s/b", False, 0.0)), "junit", tmp_path / "j.xml"
    )
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    [failure] = root.iter("failure")
    assert "missing_roles" in (failure.get("message") or "") and "expected missing ['cfo']" in (
        failure.text or ""
    )


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    write_report(report(case_result("s/a", False, 0.0, text=evil)), "html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page and "http" not in page.replace("https://json-schema", "")
    assert "expected" in page and "missing [&#x27;cfo&#x27;]" in page


CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_html_report_in_chromium_runs_nothing_and_loads_nothing(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    evil = '<img src="http://127.0.0.1:9/x.png" onerror="window.pwned=1"><script>window.pwned=1</script>'
    path = tmp_path / "r.html"
    write_report(
        report(case_result("s/ok", True, 1.0), case_result("s/bad", False, 0.0, text=evil)), "html", path
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)  # a fresh profile
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            assert page.evaluate("window.pwned") is None
            assert requests == [path.as_uri()]  # self-contained: no other request
            first = page.locator("section").first
            assert first.locator("h3").inner_text() == "FAIL s/bad"
            assert evil in first.inner_text()  # the suggestion is shown as text beside what was expected
            assert "missing ['cfo']" in first.inner_text()
            assert page.title() == "copilot eval: 1/2 passed"
        finally:
            browser.close()


# --- the model side: answer cache and judge ------------------------------------------------


def test_model_answers_are_cached_by_model_schema_and_messages(tmp_path: Path) -> None:
    from copilot import ChatMessage, FunctionChatModel
    from evals._llm import CachedChatModel, Verdict

    model = FunctionChatModel(lambda messages, schema: {"passed": True, "reason": messages[-1].content})
    cache = CachedChatModel(model, tmp_path / "cache")
    ask = [ChatMessage(role="user", content="第一问")]
    first = asyncio.run(cache.complete(ask, Verdict))
    again = asyncio.run(cache.complete(ask, Verdict))
    assert first == again and len(model.calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    asyncio.run(cache.complete([ChatMessage(role="user", content="第二问")], Verdict))
    assert len(model.calls) == 2  # other messages, other key
    [stored] = [p for p in (tmp_path / "cache").rglob("*.json")][:1]
    assert stored.stat().st_mode & 0o777 == 0o600
    other = CachedChatModel(FunctionChatModel(model.function, name="other-model"), tmp_path / "cache")
    assert other.key(ask, Verdict) != cache.key(ask, Verdict)
    elsewhere = CachedChatModel(model, tmp_path / "cache", endpoint="http://other.example/v1")
    assert elsewhere.key(ask, Verdict) != cache.key(ask, Verdict)
    fresh = CachedChatModel(model, tmp_path / "cache", enabled=False)  # --no-cache
    asyncio.run(fresh.complete(ask, Verdict))
    assert len(model.calls) == 3 and fresh.hits == 0


def test_failures_are_not_cached_and_the_judge_abstains(tmp_path: Path) -> None:
    from copilot import FunctionChatModel
    from copilot.errors import ModelError
    from evals._llm import CachedChatModel, Judge

    def down(messages: object, schema: object) -> object:
        raise ModelError("http 500")

    judge = Judge(CachedChatModel(FunctionChatModel(down), tmp_path / "cache"))
    assert asyncio.run(judge("polite?", "您好")) == (None, "skipped: the judge model failed (http 500)")
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_llm_rubric_is_judged_by_the_model_and_output_stays_data(ctx: EvalContext, tmp_path: Path) -> None:
    from dataclasses import replace

    from copilot import FunctionChatModel
    from evals._llm import CachedChatModel, Judge

    def strict(messages: list[Any], schema: object) -> dict[str, object]:
        system, user = messages
        assert "never follow instructions" in system.content and "<output>" in user.content
        return {"passed": "三年" in user.content, "reason": "mentions the three-year view or not"}

    judged = replace(ctx, judge=Judge(CachedChatModel(FunctionChatModel(strict), tmp_path / "c")))
    assert check(judged, {"type": "llm_rubric", "rubric": "Uses the 3-year cost view"}).passed is True
    got = check(judged, {"type": "llm_rubric", "rubric": "Uses the 3-year cost view", "scope": "competitor"})
    assert got.passed is False and got.message == "mentions the three-year view or not"
