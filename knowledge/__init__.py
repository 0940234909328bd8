"""Knowledge atoms: the schema, loading and validation, the vector store, retrieval."""

from ._atom import ATOM_TYPES, PLACEHOLDERS, REPLY_TYPES, Atom, AtomStatus, AtomType
from ._embeddings import EMBEDDING_NAME, BilingualEmbedding
from ._ingest import AtomChange, IngestReport, ingest_atoms
from ._loader import load_atoms, parse_atom
from ._retrieve import Retrieval, Retriever
from ._store import AtomStore, ChromaAtomStore, ScoredAtom, StoreFilter
from ._text import clauses, detect_language, normalize

__all__ = [
    "ATOM_TYPES",
    "EMBEDDING_NAME",
    "PLACEHOLDERS",
    "REPLY_TYPES",
    "Atom",
    "AtomChange",
    "AtomStatus",
    "AtomStore",
    "AtomType",
    "BilingualEmbedding",
    "ChromaAtomStore",
    "IngestReport",
    "Retrieval",
    "Retriever",
    "ScoredAtom",
    "StoreFilter",
    "clauses",
    "detect_language",
    "ingest_atoms",
    "load_atoms",
    "normalize",
    "parse_atom",
]
