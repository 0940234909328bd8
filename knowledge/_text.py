"""Text normalisation shared by retrieval and the agents (matching, not display)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clauses", "detect_language", "normalize"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_CLAUSE_SPLIT = re.compile(r"(?<=[，。！？；,!?;\n])|(?<=\.)\s")


def normalize(text: str) -> str:
    """NFKC + casefold: full-width letters and case no longer matter for matching."""
    return unicodedata.normalize("NFKC", text).casefold()


def detect_language(text: str) -> str:
    """``zh`` when Chinese characters carry the text, else ``en``."""
    cjk = len(_CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk and cjk >= latin_words else "en"


def clauses(text: str) -> list[str]:
    """Split a message into clauses at Chinese and English punctuation."""
    parts = (part.strip(" \t\r\n，。！？；,!?;.") for part in _CLAUSE_SPLIT.split(text))
    return [part for part in parts if part]
