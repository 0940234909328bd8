"""Customer-controlled text stays inert: checks for deal fields, and text made safe to show.

Deal fields (customer, product, industry) come from the customer's side and are
filled into reply text, so they must be short plain names: no URLs, no control
characters, no bidirectional overrides or other invisible format characters.
Anything printed to a terminal loses ANSI escape sequences and control
characters first (:func:`terminal_text`), and Rich markup in it is escaped
(:func:`markup_safe`).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MAX_DEAL_FIELD_CHARS",
    "deal_field_problem",
    "fill_value_ok",
    "markup_safe",
    "terminal_text",
    "visible_text",
]

MAX_DEAL_FIELD_CHARS = 100
MAX_DEAL_FIELD_WORDS = 12

_URL = re.compile(
    r"(?i:[a-z][a-z0-9+.\-]{1,15}://|\bwww\.|\bmailto:|\bjavascript:|\bdata:[a-z]+/"
    r"|\b[a-z0-9\-]{1,63}\.(?:com|net|org|cn|io|xyz|top|info|ru|me|ly|co|app|dev|site|online|link|biz)\b)"
)
# Template braces, markup angle brackets and sentence punctuation: names need none of them.
_NOT_IN_NAMES = re.compile(r"[{}<>。！？；;：:]")
# A placeholder token the redactor writes ([PHONE_1], [EMAIL_2], [PERSON_123456], ...).
_TOKEN = re.compile(r"\[[A-Z]{2,10}_[0-9]{1,9}\]")
_PERSON_TOKEN = re.compile(r"\[PERSON_[0-9]{6}\]")
# ANSI/VT escape sequences: CSI, OSC (to BEL or ST), and two-character escapes.
_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]"
)


def _invisible(ch: str) -> bool:
    """Control (Cc) and format (Cf: zero-width, bidi marks and overrides) characters."""
    return unicodedata.category(ch) in ("Cc", "Cf")


def visible_text(text: str) -> str:
    """``text`` without whitespace at the ends and without invisible characters;
    a message of only zero-width characters is empty."""
    if text.isprintable():  # C speed: no Cc/Cf (nor other non-printing) characters
        return text.strip()
    return "".join(ch for ch in text if not _invisible(ch)).strip()


def deal_field_problem(value: str) -> str | None:
    """Why ``value`` may not be a deal field (customer, product, industry), or None."""
    if len(value) > MAX_DEAL_FIELD_CHARS:
        return f"{len(value)} characters; at most {MAX_DEAL_FIELD_CHARS}: give the name only"
    bad = next((ch for ch in value if _invisible(ch)), None)
    if bad is not None:
        name = unicodedata.name(bad, "")
        return f"contains the control or invisible character {name} (U+{ord(bad):04X}); remove it".replace(
            "character  (", "character ("
        )
    if _URL.search(value):
        return "contains a URL or web address; give the name only"
    if found := _NOT_IN_NAMES.search(value):
        return f"contains {found.group()!r}, which a name does not need; give the name only"
    if len(value.split()) > MAX_DEAL_FIELD_WORDS:
        return f"{len(value.split())} words; at most {MAX_DEAL_FIELD_WORDS}: give the name only"
    return None


def fill_value_ok(value: str) -> bool:
    """Whether ``value`` may fill a ``{customer}``/``{product}``/``{rep}`` placeholder in a
    reply: a valid deal field holding no redaction token (a person's pseudonym is
    fine: it is turned back into the name on the rep's screen)."""
    if not value.strip() or deal_field_problem(value) is not None:
        return False
    return not _TOKEN.search(_PERSON_TOKEN.sub("", value))


def terminal_text(text: str) -> str:
    """``text`` for a terminal: ANSI escapes removed, other control and format
    characters (bidi overrides, zero-width) dropped; newlines and tabs kept."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    if text.replace("\n", " ").replace("\t", " ").isprintable():  # the common case, at C speed
        return text
    return "".join(ch for ch in text if ch in "\n\t" or not _invisible(ch))


def markup_safe(text: str) -> str:
    """``text`` as literal Rich markup: plain, with every ``[`` escaped."""
    from rich.markup import escape

    return escape(terminal_text(text))
