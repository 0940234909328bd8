"""The one home of text handling for matching and display: folding, CJK, clauses and
sentences, chat-length measure, and plain text (no control/bidi characters, URLs or markup).

Every package folds text the same way (NFKC + casefold, curly apostrophes straight) and
splits it at the same punctuation; ``fold_map`` keeps the way back to the original offsets.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from copilot import terminal_text

__all__ = [
    "CJK",
    "CLAUSE_END",
    "chat_length",
    "clause_spans",
    "clauses",
    "detect_language",
    "fold",
    "fold_map",
    "is_cjk",
    "normalize",
    "plain_text",
    "sentences",
]

# Han (with extensions and compatibility), kana and hangul: scripts written without spaces.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Clause ends, in original or folded text (after NFKC, ，→, ！→! ？→? ；→; ：→:).
CLAUSE_END = re.compile(r"[，。！？；,!?;\n]|\.(?=\s|$)")
# A full stop ends an English sentence before a space and a non-lower-case letter, unless it
# closes an initial ("U.S.") or a common abbreviation ("St.", "e.g.").
_SENTENCE_END = re.compile(
    r"[。！？!?；;\n]|(?<!\b[A-Z])(?<!\b(?:St|Mr|Ms|Dr|No|vs|Jr|Sr|Co))(?<!\bMrs|\betc|\bInc|\bLtd)"
    r"(?<!\be\.g|\bi\.e)\.(?=\s+[^a-z]|\s*$)"
)
_STRIP = " \t\r\n，。！？；,!?;."


class _FoldTable(dict[int, str]):
    def __missing__(self, codepoint: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(codepoint)).casefold().replace("\u2019", "'")
        if len(self) < 65536:
            self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """NFKC + casefold, curly apostrophe straight: width and case no longer matter."""
    return text.lower() if text.isascii() else text.translate(_FOLD)


normalize = fold  # the name retrieval and older callers use


@functools.lru_cache(maxsize=64)
def fold_map(text: str) -> tuple[str, tuple[int, ...] | None]:
    """Folded text and, when lengths changed, the original index of every folded char
    (``None`` means one to one)."""
    folded = fold(text)
    if len(folded) == len(text):  # no char folds to "", so equal length means one to one
        return folded, None
    return folded, tuple(i for i, ch in enumerate(text) for _ in _FOLD[ord(ch)])


def is_cjk(ch: str) -> bool:
    return bool(ch) and CJK.match(ch) is not None


def detect_language(text: str) -> str:
    """``zh`` when Chinese characters carry the text, else ``en``."""
    cjk = len(CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk and cjk >= latin_words else "en"


def clause_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause (between commas and sentence ends), stripped, non-empty."""
    spans: list[tuple[int, int]] = []
    start = 0
    for end in [m.start() for m in CLAUSE_END.finditer(text)] + [len(text)]:
        piece = text[start:end]
        left = len(piece) - len(piece.lstrip(_STRIP))
        right = len(piece.rstrip(_STRIP))
        if right > left:
            spans.append((start + left, start + right))
        start = end + 1
    return spans


def clauses(text: str) -> list[str]:
    """Split a message into clauses at Chinese and English punctuation."""
    return [text[s:e] for s, e in clause_spans(text)]


def sentences(text: str) -> list[str]:
    """Split text into sentences, each keeping its own closing punctuation."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start : m.end()].strip()
        if piece.strip(_STRIP):
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail.strip(_STRIP):
        out.append(tail)
    return out


def chat_length(text: str, language: str) -> int:
    """How long a chat message reads: characters (spaces aside) for ``zh``, words for ``en``.
    Replies stay within about 300 Chinese characters or 80 English words."""
    if language == "zh":
        return len(re.sub(r"\s", "", text))
    return len(re.findall(r"\S+", text))


# --- plain text: what may be quoted or shown as a chat message ---------------------------

_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_MD_LINE = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|[-*+•·]\s+|\d+[.)、]\s+)", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`+|~~)(?=\S)(.+?)(?<=\S)\1")
_SPACES = re.compile(r"[ \t\u3000]+")
_ENDS_CJK = tuple("。！？；：，、")
_ENDS = (*_ENDS_CJK, ".", "!", "?", ";", ":", ",")


def plain_text(text: str, *, one_line: bool = True) -> str:
    """``text`` as plain chat text: control and bidi characters, URLs, HTML tags and
    Markdown (headings, bullets, emphasis, links) removed; lines joined when ``one_line``."""
    # Escapes, control, bidi and zero-width characters: the one definition, in copilot.
    text = terminal_text(text.replace("\r\n", "\n").replace("\t", " "))
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", _TAG.sub("", text))
    text = _MD_LINE.sub("", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = text.replace("**", "").replace("`", "")
    if one_line:
        joined = ""
        zh = detect_language(text) == "zh"
        for line in (line.strip() for line in text.split("\n")):
            if not line:
                continue
            if joined and not joined.endswith(_ENDS):
                joined += "，" if zh else "."
            joined += "" if not joined or (zh and (is_cjk(line[0]) or joined[-1] in _ENDS_CJK)) else " "
            joined += line
        text = joined
    return _SPACES.sub(" ", text).strip()
