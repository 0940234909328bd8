"""The atom store conformance suite, run against embedded Chroma and a real Chroma server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from copilot.errors import StoreError
from knowledge import (
    Atom,
    BilingualEmbedding,
    ChromaAtomStore,
    Retriever,
    StoreFilter,
    ingest_atoms,
)

TODAY = date(2026, 11, 22)


def atom(atom_id: str, body: str, **fields: Any) -> Atom:
    base: dict[str, Any] = {
        "id": atom_id,
        "type": "objection",
        "title": atom_id,
        "language": "zh",
        "status": "approved",
        "approved_by": "legal@example.com",
        "version": 1,
        "body": body,
    }
    return Atom.model_validate(base | fields)


CORPUS = [
    atom(
        "zh-price",
        "理解您的预算压力，按三年总拥有成本看更划算。",
        industries=["manufacturing"],
        stages=["proposal"],
    ),
    atom(
        "en-price",
        "I understand the budget pressure; over three years the total cost is lower.",
        language="en",
        industries=["manufacturing"],
        stages=["proposal"],
    ),
    atom("zh-security", "我们通过了等保三级和 ISO 27001 认证，数据可私有化部署。", type="product"),
    atom("zh-retail-only", "门店客流分析可以按小时查看转化率。", industries=["retail"], type="product"),
    atom("zh-draft", "这是草稿，不应出现。", status="draft"),
    atom("zh-retired", "这是已退役的话术。", status="retired", type="script"),
    atom("zh-expired", "这是过期的价格政策。", valid_until=date(2025, 12, 31)),
    atom("zh-negotiation", "我们可以在授权范围内讨论付款方式。", stages=["negotiation"]),
]


class AtomStoreConformance:
    """Every AtomStore backend must pass these; subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> ChromaAtomStore:
        pytest.fail("each backend's subclass provides the store fixture")

    @pytest.fixture
    def filled(self, store: ChromaAtomStore) -> ChromaAtomStore:
        ingest_atoms(CORPUS, store)
        return store

    def test_roundtrip_keeps_every_field(self, filled: ChromaAtomStore) -> None:
        assert filled.atoms() == sorted(CORPUS, key=lambda a: a.id)
        assert filled.manifest() == {a.id: a.content_hash for a in CORPUS}
        assert filled.count() == len(CORPUS)

    def test_served_filter_drops_draft_retired_expired(self, filled: ChromaAtomStore) -> None:
        served = {a.id for a in filled.atoms(StoreFilter(served_on=TODAY))}
        assert served == {"zh-price", "en-price", "zh-security", "zh-retail-only", "zh-negotiation"}
        hits = filled.query("草稿 退役 过期 价格政策", StoreFilter(served_on=TODAY), k=8)
        assert {"zh-draft", "zh-retired", "zh-expired"}.isdisjoint(h.atom.id for h in hits)

    def test_industry_stage_and_type_filters(self, filled: ChromaAtomStore) -> None:
        where = StoreFilter(industry="manufacturing", stage="proposal", served_on=TODAY)
        ids = {h.atom.id for h in filled.query("价格", where, k=8)}
        assert ids == {"zh-price", "en-price", "zh-security"}
        products = StoreFilter(types=["product"], industry="retail", served_on=TODAY)
        assert {h.atom.id for h in filled.query("客流", products, k=8)} == {"zh-retail-only", "zh-security"}

    def test_query_ranks_by_meaning_across_languages(self, filled: ChromaAtomStore) -> None:
        where = StoreFilter(served_on=TODAY)
        top = filled.query("Is my data secure? Do you have security certifications?", where, k=3)
        assert top[0].atom.id == "zh-security"

    def test_filters_hold_when_the_nearest_records_do_not_pass(self, filled: ChromaAtomStore) -> None:
        filled.prefetch = 2  # the two nearest are unserved: Chroma must filter instead
        hits = filled.query("这是草稿 已退役 过期", StoreFilter(served_on=TODAY), k=2)
        assert len(hits) == 2
        assert {"zh-draft", "zh-retired", "zh-expired"}.isdisjoint(h.atom.id for h in hits)

    @pytest.mark.parametrize(
        "where",
        [
            StoreFilter(served_on=TODAY),
            StoreFilter(types=["product"], industry="retail", served_on=TODAY),
            StoreFilter(industry="manufacturing", stage="negotiation"),
            StoreFilter(stage="proposal", served_on=date(2025, 1, 1)),
        ],
    )
    def test_python_and_chroma_filters_agree(self, filled: ChromaAtomStore, where: StoreFilter) -> None:
        by_chroma = {a.id for a in filled.atoms(where)}
        by_python = {h.atom.id for h in filled.query("价格", where, k=len(CORPUS))}
        assert by_python == by_chroma

    def test_listing_pages_through_the_store(
        self, filled: ChromaAtomStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("knowledge._store.PAGE", 2)  # a large store, in small: one get fails past ~32k
        assert filled.atoms() == sorted(CORPUS, key=lambda a: a.id)
        assert filled.manifest() == {a.id: a.content_hash for a in CORPUS}

    def test_incremental_ingest(self, filled: ChromaAtomStore) -> None:
        changed = [a for a in CORPUS if a.id != "zh-negotiation"]
        changed[0] = changed[0].model_copy(update={"body": "新的话术内容。", "version": 2})
        changed[1] = changed[1].model_copy(update={"status": "retired"})
        report = ingest_atoms(changed, filled)
        summary = {(c.atom_id, c.change, c.old_status, c.new_status) for c in report.changes}
        assert summary == {
            ("zh-price", "updated", "approved", "approved"),
            ("en-price", "updated", "approved", "retired"),
            ("zh-negotiation", "removed", "approved", None),
        }
        assert report.unchanged == len(CORPUS) - 3
        again = ingest_atoms(changed, filled)
        assert again.changes == [] and again.unchanged == len(changed)


class CountingEmbedding(BilingualEmbedding):
    """The real model, counting how many texts it embedded."""

    embedded = 0

    def __call__(self, input: list[str]) -> Any:
        type(self).embedded += len(input)
        return super().__call__(input)


class TestEmbeddedChroma(AtomStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path, embedding: BilingualEmbedding) -> ChromaAtomStore:
        return ChromaAtomStore.embedded(tmp_path / "chroma", "atoms", embedding)

    def test_reopens_from_disk(self, tmp_path: Path, embedding: BilingualEmbedding) -> None:
        first = ChromaAtomStore.embedded(tmp_path / "c", "atoms", embedding)
        ingest_atoms(CORPUS, first)
        again = ChromaAtomStore.embedded(tmp_path / "c", "atoms", embedding)
        assert again.manifest() == first.manifest()

    def test_unchanged_atoms_are_not_re_embedded(self, tmp_path: Path) -> None:
        store = ChromaAtomStore.embedded(tmp_path / "c", "atoms", CountingEmbedding())
        ingest_atoms(CORPUS, store)
        before = CountingEmbedding.embedded
        edited = [CORPUS[0].model_copy(update={"version": 2}), *CORPUS[1:]]
        ingest_atoms(edited, store)
        assert CountingEmbedding.embedded - before == 1


class TestEmbeddedChromaReadOnly(AtomStoreConformance):
    """A press reads through chromadb's Rust core (``_chroma_read``): same answers."""

    @pytest.fixture
    def store(self, tmp_path: Path, embedding: BilingualEmbedding) -> ChromaAtomStore:
        return ChromaAtomStore.embedded(tmp_path / "chroma", "atoms", embedding)

    @pytest.fixture
    def filled(
        self, store: ChromaAtomStore, tmp_path: Path, embedding: BilingualEmbedding
    ) -> ChromaAtomStore:
        ingest_atoms(CORPUS, store)
        reader = ChromaAtomStore.embedded(tmp_path / "chroma", "atoms", embedding, read_only=True)
        assert reader.read_only and reader._client is None  # no chromadb client behind it
        return reader

    def test_incremental_ingest(self, filled: ChromaAtomStore) -> None:
        with pytest.raises(StoreError, match=r"read-only.*copilot knowledge ingest"):
            ingest_atoms(CORPUS[:1], filled)

    def test_sees_what_another_process_ingests(self, tmp_path: Path, filled: ChromaAtomStore) -> None:
        where = StoreFilter(served_on=TODAY)
        assert {h.atom.id for h in filled.query("价格", where, k=20)} >= {"zh-price"}
        script = (
            "import sys; sys.path.insert(0, sys.argv[2]);"
            "from pathlib import Path; from test_store import CORPUS;"
            "from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms;"
            "s = ChromaAtomStore.embedded(Path(sys.argv[1]), 'atoms', BilingualEmbedding());"
            "kept = [a for a in CORPUS if a.id != 'zh-price'];"
            "kept[0] = kept[0].model_copy(update={'status': 'retired', 'version': 9});"
            "new = kept[0].model_copy(update={'id': 'zh-tiered-quote', 'status': 'approved',"
            " 'body': '全新的阶梯报价方案：按产线分期上线。'});"
            "ingest_atoms([*kept, new], s); s.close()"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "chroma"), str(Path(__file__).parent)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        deadline = time.monotonic() + 30  # a reader looks for writers' changes every second
        while "zh-tiered-quote" not in (served := {h.atom.id for h in filled.query("价格", where, k=20)}):
            assert time.monotonic() < deadline, f"the new atom never reached the reader: {served}"
            time.sleep(0.1)
        retired = next(a.id for a in CORPUS if a.id != "zh-price")
        assert "zh-price" not in served and retired not in served
        assert filled.count() == len(CORPUS)

    def test_missing_store_falls_back_to_the_client(
        self, tmp_path: Path, embedding: BilingualEmbedding
    ) -> None:
        fresh = ChromaAtomStore.embedded(tmp_path / "none", "atoms", embedding, read_only=True)
        assert fresh.read_only and fresh._client is not None and fresh.count() == 0
        with pytest.raises(StoreError, match="read-only"):
            fresh.upsert(CORPUS[:1])
        writer = ChromaAtomStore.embedded(tmp_path / "none", "atoms", embedding)
        ingest_atoms(CORPUS, writer)  # the first ingest, while a server already reads
        writer.close()
        deadline = time.monotonic() + 30  # a reader looks for writers' changes every second
        while type(fresh._col._collection).__name__ != "RustReader":
            assert time.monotonic() < deadline, "the reader never switched to the Rust core"
            fresh.query("价格", StoreFilter(served_on=TODAY), k=3)
            time.sleep(0.1)
        assert fresh.query("价格", StoreFilter(served_on=TODAY), k=3)


class TestChromaServer(AtomStoreConformance):
    @pytest.fixture
    def store(self, chroma_server: str, embedding: BilingualEmbedding) -> Iterator[ChromaAtomStore]:
        store = ChromaAtomStore.server(chroma_server, f"atoms-{uuid.uuid4().hex[:8]}", embedding)
        yield store
        store.close()


def test_retriever_prefers_the_chat_language(tmp_path: Path, embedding: BilingualEmbedding) -> None:
    store = ChromaAtomStore.embedded(tmp_path / "chroma", "atoms", embedding)
    ingest_atoms(CORPUS, store)
    retriever = Retriever(store, k=4)
    for language, first in (("zh", "zh-price"), ("en", "en-price")):
        got = retriever.retrieve(
            "price is over budget 价格超预算",
            language=language,
            industry="manufacturing",
            stage="proposal",
            today=TODAY,
        )
        assert got.candidates[0].atom.id == first
        assert {c.atom.language for c in got.candidates} == {"zh", "en"}  # the other is not excluded


def test_server_url_must_name_a_host(embedding: BilingualEmbedding) -> None:
    from copilot.errors import StoreError

    with pytest.raises(StoreError, match="has no host"):
        ChromaAtomStore.server("not-a-url", "atoms", embedding)


def test_unreachable_server_is_a_store_error(embedding: BilingualEmbedding) -> None:
    from copilot.errors import StoreError

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match="Chroma server"):
        ChromaAtomStore.server(f"http://127.0.0.1:{port}", "atoms", embedding)


def test_unwritable_home_is_a_store_error(tmp_path: Path, embedding: BilingualEmbedding) -> None:
    from copilot.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StoreError, match="embedded atom store"):
        ChromaAtomStore.embedded(blocker / "chroma", "atoms", embedding)
