"""Run loaded cases through the engine exactly as a connector would.

Each run gets its own temporary home (its own audit log; nothing of the user's
is read or written but the knowledge-base cache), every press runs on the
suite's fixed ``today``, and each knowledge base is ingested once into a store
cached by the hash of its atoms, so a rerun starts in about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from agents import ComplianceGuard
from audit import SQLiteAuditStore
from copilot import Copilot, Settings, SuggestionSet
from knowledge import EMBEDDING_NAME, BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

from ._assertions import AssertionResult, EvalContext, Judge, evaluate
from ._llm import CachedChatModel
from ._loader import LoadedCase
from ._results import Attempt, CaseResult, Report, type_stats

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import AtomStore

__all__ = ["EngineFactory", "RunConfig", "kb_store", "run_cases"]

EVAL_PSEUDONYM_KEY = "copilot-eval-runs-share-this-pseudonym-key"
log = logging.getLogger("copilot.evals")
EngineFactory = Callable[[Settings, "AtomStore", "AuditStore", date], Copilot]


def grounded_engine(settings: Settings, store: AtomStore, audit: AuditStore, today: date) -> Copilot:
    return Copilot(settings, store, audit, today=lambda: today)


@dataclass
class RunConfig:
    settings: Settings
    engine: str = "grounded"
    repeat: int = 1
    concurrency: int = 4
    label: str = ""
    model: str = ""
    make_engine: EngineFactory = grounded_engine
    judge: Judge | None = None
    cache: CachedChatModel | None = None
    notices: list[str] = field(default_factory=list)


def kb_key(atoms_hashes: Sequence[str]) -> str:
    digest = hashlib.sha256(EMBEDDING_NAME.encode())
    for item in sorted(atoms_hashes):
        digest.update(item.encode())
    return digest.hexdigest()[:20]


def kb_store(kb: Path, cache_root: Path, embedding: BilingualEmbedding) -> ChromaAtomStore:
    """The knowledge base ingested into an embedded store cached by its atoms' hash.

    The cache lives under ``COPILOT_HOME/eval-cache``; a folder is complete once
    its ``ready`` marker exists, and a file lock keeps two runs from building it
    at once.
    """
    atoms = load_atoms(kb)
    folder = cache_root / f"kb-{kb_key([a.content_hash for a in atoms])}"
    cache_root.mkdir(parents=True, exist_ok=True)
    with _locked(cache_root / ".lock"):
        if not (folder / "ready").exists():
            shutil.rmtree(folder, ignore_errors=True)
            store = ChromaAtomStore.embedded(folder / "chroma", "atoms", embedding)
            try:
                ingest_atoms(atoms, store)
            finally:
                store.close()
            (folder / "ready").write_text(str(kb), encoding="utf-8")
            log.info("eval: ingested %d atoms of %s into %s", len(atoms), kb, folder)
    return ChromaAtomStore.embedded(folder / "chroma", "atoms", embedding)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Bench:
    """One knowledge base: its store, the engines per ``today``, the evaluation context."""

    store: ChromaAtomStore
    ctx: EvalContext
    engines: dict[date, Copilot] = field(default_factory=dict)


async def run_cases(
    cases: Sequence[LoadedCase],
    config: RunConfig,
    on_done: Callable[[int], None] | None = None,
) -> Report:
    """Every case ``repeat`` times, at most ``concurrency`` presses at once."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    embedding = BilingualEmbedding(
        threads=config.settings.embedding_threads, cache_dir=config.settings.cache_path
    )
    cache_root = config.settings.home / "eval-cache"
    with tempfile.TemporaryDirectory(prefix="copilot-eval-") as tmp:
        home = Path(tmp)
        # A fixed pseudonym key (unless one is configured): a fresh home would make a new
        # random key per run, so people's tokens, the prompts and the cache keys would differ.
        key = config.settings.pseudonym_key or SecretStr(EVAL_PSEUDONYM_KEY)
        update = {"home": home, "chroma_url": None, "database_url": None, "pseudonym_key": key}
        settings = config.settings.model_copy(update=update)
        audit = SQLiteAuditStore(settings.audit_path)
        benches: dict[Path, _Bench] = {}
        try:
            for case in cases:
                bench = benches.get(case.kb)
                if bench is None:
                    store = await asyncio.to_thread(kb_store, case.kb, cache_root, embedding)
                    bench = benches[case.kb] = _Bench(store, _context(store, settings, embedding, config))
                if case.today not in bench.engines:
                    engine = config.make_engine(settings, bench.store, audit, case.today)
                    await asyncio.to_thread(engine.warm_up)
                    bench.engines[case.today] = engine
            results = await _run_all(cases, benches, config, on_done)
        finally:
            if config.cache is not None:
                await config.cache.aclose()
            for bench in benches.values():
                bench.store.close()
            audit.close()
    notices = list(config.notices)
    if config.cache is not None and config.cache.enabled:
        cache = config.cache
        notices.append(f"model answers: {cache.hits} from the cache, {cache.misses} asked ({cache.folder})")
    return Report(
        label=config.label,
        engine=config.engine,
        model=config.model,
        started_at=started_at,
        duration_s=round(time.perf_counter() - started, 3),
        repeat=config.repeat,
        concurrency=config.concurrency,
        cases=results,
        by_type=type_stats(results),
        notices=notices,
    )


def _context(
    store: ChromaAtomStore, settings: Settings, embedding: BilingualEmbedding, config: RunConfig
) -> EvalContext:
    atoms = {a.id: a for a in store.atoms()}
    names = [n for a in atoms.values() if a.type == "competitor" for n in a.competitors]
    guard = ComplianceGuard(
        max_discount_percent=settings.max_discount_percent,
        discount_basis=settings.discount_policy_basis,
        competitor_names=names,
    )
    return EvalContext(atoms=atoms, guard=guard, embed=embedding, judge=config.judge)


async def _run_all(
    cases: Sequence[LoadedCase],
    benches: dict[Path, _Bench],
    config: RunConfig,
    on_done: Callable[[int], None] | None,
) -> list[CaseResult]:
    gate = asyncio.Semaphore(max(1, config.concurrency))

    async def one(case: LoadedCase) -> Attempt:
        bench = benches[case.kb]
        async with gate:
            attempt = await _attempt(case, bench.engines[case.today].suggest, bench.ctx)
        if on_done:
            on_done(1)
        return attempt

    jobs: list[Awaitable[Attempt]] = [one(c) for c in cases for _ in range(config.repeat)]
    attempts = await asyncio.gather(*jobs)
    out: list[CaseResult] = []
    for index, case in enumerate(cases):
        mine = list(attempts[index * config.repeat : (index + 1) * config.repeat])
        out.append(
            CaseResult.of(
                mine,
                key=case.key,
                suite=case.suite,
                id=case.case.id,
                description=case.case.description,
                tags=list(case.tags),
                file=str(case.path),
                line=case.line,
            )
        )
    return out


async def _attempt(
    case: LoadedCase, suggest: Callable[..., Awaitable[SuggestionSet]], ctx: EvalContext
) -> Attempt:
    began = time.perf_counter()
    try:
        result = await suggest(case.conversation, actor="eval")
    except Exception as exc:  # a crash is a failed case, reported with its cause, never a lost run
        log.warning("eval: %s raised %s", case.key, type(exc).__name__, exc_info=True)
        latency = (time.perf_counter() - began) * 1000
        return Attempt(passed=False, score=0.0, latency_ms=round(latency, 2), assertions=[], error=repr(exc))
    results = [await evaluate(a, result, ctx) for a in case.case.assertions]
    score = _score(results)
    return Attempt(
        passed=score >= case.case.threshold - 1e-9,
        score=round(score, 4),
        latency_ms=round(result.timings_ms.get("total", 0.0), 2),
        assertions=results,
        output=result.model_dump(mode="json"),
    )


def _score(results: list[AssertionResult]) -> float:
    counted = [r for r in results if r.passed is not None]
    total = sum(r.weight for r in counted)
    if not counted or total == 0:
        return 1.0 if all(r.passed is not False for r in results) else 0.0
    return sum(r.weight for r in counted if r.passed) / total
