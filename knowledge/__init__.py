"""Knowledge atoms: the schema, loading and validation, the vector store, retrieval."""

from ._atom import (
    ATOM_TYPES,
    DEFAULT_AUDIENCE,
    PLACEHOLDERS,
    REPLY_TYPES,
    Atom,
    AtomStatus,
    AtomType,
    Audience,
)
from ._embeddings import EMBEDDING_NAME, BilingualEmbedding
from ._ingest import AtomChange, IngestReport, KnownAtom, ingest_atoms
from ._loader import FileEntry, LoadedFolder, load_atoms, load_folder, parse_atom
from ._retrieve import Retrieval, Retriever
from ._store import AtomStore, ChromaAtomStore, ScoredAtom, StoreFilter
from ._text import (
    CJK,
    CLAUSE_END,
    chat_length,
    clause_spans,
    clauses,
    detect_language,
    fold,
    fold_map,
    is_cjk,
    normalize,
    plain_text,
    sentences,
)

__all__ = [
    "ATOM_TYPES",
    "CJK",
    "CLAUSE_END",
    "DEFAULT_AUDIENCE",
    "EMBEDDING_NAME",
    "PLACEHOLDERS",
    "REPLY_TYPES",
    "Atom",
    "AtomChange",
    "AtomStatus",
    "AtomStore",
    "AtomType",
    "Audience",
    "BilingualEmbedding",
    "ChromaAtomStore",
    "FileEntry",
    "IngestReport",
    "KnownAtom",
    "LoadedFolder",
    "Retrieval",
    "Retriever",
    "ScoredAtom",
    "StoreFilter",
    "chat_length",
    "clause_spans",
    "clauses",
    "detect_language",
    "fold",
    "fold_map",
    "ingest_atoms",
    "is_cjk",
    "load_atoms",
    "load_folder",
    "normalize",
    "parse_atom",
    "plain_text",
    "sentences",
]
