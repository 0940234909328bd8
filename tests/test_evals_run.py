"""`copilot eval` end to end: the shipped suites on the grounded engine (what CI runs),
and proof that a run catches a regression: a retired key atom, a broken agent."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents import AgentContext, CompetitorAgent, Grounded
from copilot import CompetitorResponse, Copilot, Settings
from copilot.cli import main
from evals import RunConfig, load_suites, run_cases

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def eval_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One COPILOT_HOME per module, so the sample KB is ingested once (its eval cache)."""
    return tmp_path_factory.mktemp("eval-home")


@pytest.fixture
def home(eval_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("COPILOT_HOME", str(eval_home))
    monkeypatch.setenv("COPILOT_EMBEDDING_THREADS", "1")
    yield eval_home


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_shipped_suites_pass_on_the_grounded_engine(home: Path, tmp_path: Path) -> None:
    """What CI runs: every shipped case passes; the three report files are written."""
    code, out = cli(
        "eval", "run", str(ROOT / "evals" / "suites"), "--engine", "grounded", "--concurrency", "4",
        "--report", "json", str(tmp_path / "r.json"), "--report", "junit", str(tmp_path / "r.xml"),
        "--report", "html", str(tmp_path / "r.html"),
    )  # fmt: skip
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    failing = [c["key"] for c in report["cases"] if not c["passed"]]
    assert code == 0, f"failing cases: {failing}\n{out[-3000:]}"
    assert report["summary"]["cases"] >= 80 and report["summary"]["pass_rate"] == 1.0
    assert (tmp_path / "r.xml").stat().st_size and (tmp_path / "r.html").stat().st_size


def test_shipped_suites_on_the_llm_engine_against_the_fake_server(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI on the LLM engine: a model whose drafts are ungrounded falls back, so every case
    still passes; the rerun is served from the answer cache, without one request."""
    from fake_openai import FakeOpenAI, FakeReply

    drafts = {"suggestions": [{"text": "我们是行业第一，保证100%不停机。", "citations": ["atom-made-up"]}]}
    with FakeOpenAI(FakeReply(drafts=drafts)) as fake:
        monkeypatch.setenv("COPILOT_LLM_BASE_URL", fake.url)
        monkeypatch.setenv("COPILOT_LLM_MODEL", "fake-model")
        # A busy CI machine must not turn a press into a timeout (never cached, so asked again).
        monkeypatch.setenv("COPILOT_LLM_TIMEOUT_S", "60")
        suites = str(ROOT / "evals" / "suites")
        code, out = cli("eval", "run", suites, "--engine", "llm", "--concurrency", "8", "--json")
        report = json.loads(out)
        asked = len(fake.completions())
        assert code == 0, [c["key"] for c in report["cases"] if not c["passed"]]
        assert (report["engine"], report["model"]) == ("llm", "fake-model")
        assert asked == report["summary"]["cases"] >= 80  # one model call per press
        assert any(f"0 from the cache, {asked} asked" in n for n in report["notices"])
        code, out = cli("eval", "run", suites, "--engine", "llm", "--concurrency", "8", "--json")
        assert code == 0 and len(fake.completions()) == asked  # deterministic and free
        assert any(f"{asked} from the cache, 0 asked" in n for n in json.loads(out)["notices"])
        code, out = cli(
            "eval", "run", suites, "--engine", "llm", "--filter", "injection", "--no-cache", "--json"
        )
        assert code == 0 and len(fake.completions()) == asked + json.loads(out)["summary"]["cases"]


SUITE = f"""\
name: guard
kb: kb
cases:
  - id: auroradw-named
    conversation: {EXAMPLES / "conversations" / "02-competitor-auroradw-retail.json"}
    assert:
      - {{type: competitor, name: 极光数仓, cites: [comp-auroradw]}}
  - id: cfo-missing
    conversation: {EXAMPLES / "conversations" / "01-price-objection-mfg.json"}
    assert:
      - {{type: missing_roles, roles: [cfo]}}
      - {{type: covered_roles, roles: [cto]}}
  - id: panshi-named
    conversation: {EXAMPLES / "conversations" / "05-panshi-cloud-finance-poc-en.json"}
    assert:
      - {{type: competitor, name: 磐石云}}
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "kb", tmp_path / "kb")
    path = tmp_path / "guard.yaml"
    path.write_text(SUITE, encoding="utf-8")
    return path


def retire(kb: Path, *atom_files: str) -> None:
    for name in atom_files:
        path = kb / "competitors" / name
        path.write_text(
            path.read_text(encoding="utf-8").replace("status: approved", "status: retired"), "utf-8"
        )


def test_a_retired_key_atom_fails_the_run_naming_the_case(home: Path, suite: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    code, out = cli("eval", "run", str(suite), "--save-baseline", str(base))
    assert code == 0, out
    retire(suite.parent / "kb", "comp-auroradw.md", "comp-auroradw-en.md")
    code, out = cli("eval", "run", str(suite), "--baseline", str(base), "--json")
    assert code == 1
    report = json.loads(out)
    assert [c["key"] for c in report["comparison"]["worse"]] == ["guard/auroradw-named"]
    assert [c["key"] for c in report["cases"] if not c["passed"]] == ["guard/auroradw-named"]
    code, out = cli("eval", "run", str(suite), "--baseline", str(base))
    assert code == 1 and "worse" in out and "guard/auroradw-named" in out and "competitor None" in out
    # An evaluator who accepts one failing case in three says so.
    assert cli("eval", "run", str(suite), "--min-pass-rate", "0.6")[0] == 0


class BrokenCompetitorAgent(CompetitorAgent):
    """An agent with a bug: it answers every competitor with the wrong battlecard."""

    async def run(self, ctx: AgentContext) -> CompetitorResponse | None:
        found = await super().run(ctx)
        return found and found.model_copy(update={"citations": ["comp-xingtu"], "name": "星图智造"})


def test_a_broken_agent_fails_the_cases_that_depend_on_it(suite: Path, tmp_path: Path) -> None:
    def broken(settings: Settings, store: object, audit: object, today: date) -> Copilot:
        engine = Copilot(settings, store, audit, today=lambda: today)  # type: ignore[arg-type]
        engine.agents = dataclasses.replace(engine.agents, competitor=Grounded(BrokenCompetitorAgent()))
        return engine

    cases = load_suites([suite])
    settings = Settings(home=tmp_path / "home", embedding_threads=1)
    config = RunConfig(settings=settings, make_engine=broken, repeat=2, concurrency=3)
    report = asyncio.run(run_cases(cases, config))
    assert sorted(c.key for c in report.cases if not c.passed) == [
        "guard/auroradw-named",
        "guard/panshi-named",
    ]
    assert all(c.runs == 2 and not c.flaky for c in report.cases)
    assert report.by_type["competitor"].failed == 4 and report.by_type["missing_roles"].passed == 2


def test_compare_two_configurations(home: Path, suite: Path, tmp_path: Path) -> None:
    retired = tmp_path / "kb-retired"
    shutil.copytree(suite.parent / "kb", retired)
    retire(retired, "comp-panshi.md", "comp-panshi-en.md")
    (tmp_path / "a.env").write_text("COPILOT_MAX_DISCOUNT_PERCENT=15\n", encoding="utf-8")
    (tmp_path / "b.env").write_text("COPILOT_EVAL_KB=kb-retired\n", encoding="utf-8")
    code, out = cli(
        "eval", "compare", "--a", str(tmp_path / "a.env"), "--b", str(tmp_path / "b.env"), str(suite)
    )
    assert code == 0, out
    assert "1 case(s) where A and B disagree" in out and "guard/panshi-named" in out
    a, b = str(tmp_path / "a.env"), str(tmp_path / "b.env")
    code, out = cli("eval", "compare", "--a", a, "--b", b, str(suite), "--json")
    data = json.loads(out)
    assert [d["case"] for d in data["disagree"]] == ["guard/panshi-named"]
    assert data["a"]["summary"]["passed"] == 3 and data["b"]["summary"]["passed"] == 2
    (tmp_path / "typo.env").write_text("COPILOT_MAX_DISCOUNT_PERCNT=20\n", encoding="utf-8")
    code, out = cli(
        "eval", "compare", "--a", str(tmp_path / "a.env"), "--b", str(tmp_path / "typo.env"), str(suite)
    )
    assert code == 2 and "COPILOT_MAX_DISCOUNT_PERCNT is not a COPILOT_* setting" in out


def test_bad_input_exits_2_naming_file_line_and_field(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncases:\n  - id: x\n    conversation: x.json\n    assert: [{type: cites}]\n")
    code, out = cli("eval", "run", str(bad))
    assert code == 2 and f"{bad}:5: cases[0].assert[0].atoms: required field is missing" in out
    code, out = cli("eval", "run", str(ROOT / "evals" / "suites"), "--filter", "no-such-tag")
    assert code == 2 and "no case for engine grounded carries the tag(s) no-such-tag" in out
    code, out = cli("eval", "run", str(tmp_path / "missing-dir"))
    assert code == 2 and "no such file or folder" in out


def test_suggest_does_not_import_evals() -> None:
    probe = "import sys, copilot.cli; print('evals' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
