"""PII detection and redaction for Chinese and English text (PIPL / GDPR).

Text must pass through :class:`Redactor` before it leaves the process or is
stored. The PRC numeric kinds are validated so that ordinary numbers survive:

- ``phone`` -> ``[PHONE_n]``: PRC mobile ``1[3-9]`` + 9 digits, optional
  +86 / 0086 / 86 / (+86) prefix, grouped 3-4-4 (spaces, hyphens or dots) or 4-3-4.
- ``id_card`` -> ``[ID_n]``: 18-character resident ID with a birth date in
  1900-2099 and a correct GB 11643 check character (``X`` in either case).
- ``email`` -> ``[EMAIL_n]``: ``local@domain.tld``, internationalised too.
- ``bank_card`` -> ``[CARD_n]``: 13-19 digits, plain or grouped in fours,
  no leading 0, passing Luhn.
- ``uscc`` -> ``[USCC_n]``: unified social credit code with a correct
  GB 32100-2015 check character.

``landline`` and ``intl_phone`` (``[PHONE_n]``), ``ssn``, ``passport``,
``wechat``, ``address`` and ``person`` are described in ``_pii_formats``. People
get keyed pseudonyms ``[PERSON_nnnnnn]`` instead of numbers (``_pseudonym``).

Full-width forms (U+FF01-U+FF5E: digits, ``X``, ``@``, ``-``, ...), ideographic
and no-break spaces and Unicode dashes are folded to ASCII before matching. The
fold maps one character to one character, so offsets into the original text
stay valid. Digit runs are matched with digit look-arounds, so a mobile number
is never found inside an ID or a card number. When candidates overlap, the
first kind in this order wins: email, id_card, uscc, phone, bank_card (an
18-digit valid ID that also passes Luhn is an ID). An 18-digit run in ID format
(six digits, then 19xx/20xx) is judged only as an ID: if its birth date or check
character is wrong it is not redacted at all, not even as a card or USCC that
it might satisfy by chance.
"""

from __future__ import annotations

import re
import secrets
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from ._pii_formats import EXTRA_DETECTORS, LATE_DETECTORS, Detector
from ._pseudonym import pseudonym_token

__all__ = ["PII_KINDS", "PiiMatch", "Redactor", "find_pii", "redact_text"]

PII_KINDS: tuple[str, ...] = (
    "phone",
    "id_card",
    "email",
    "bank_card",
    "uscc",
    "landline",
    "intl_phone",
    "ssn",
    "passport",
    "wechat",
    "address",
    "person",
)

_TOKEN_NAMES: dict[str, str] = {
    "phone": "PHONE",
    "id_card": "ID",
    "email": "EMAIL",
    "bank_card": "CARD",
    "uscc": "USCC",
    "landline": "PHONE",
    "intl_phone": "PHONE",
    "ssn": "SSN",
    "passport": "PASSPORT",
    "wechat": "WECHAT",
    "address": "ADDRESS",
    "person": "PERSON",
}
_NUMBERED = sorted(set(_TOKEN_NAMES.values()) - {"PERSON"})
# Numbers capped at 9 digits: int() of a huge digit string would raise.
_PLACEHOLDER = re.compile(rf"\[({'|'.join(_NUMBERED)})_([0-9]{{1,9}})\]")
_PERSON_TOKEN = re.compile(r"\[PERSON_[0-9]{6}\]")


@dataclass(frozen=True)
class PiiMatch:
    """One piece of PII: ``text[start:end] == value`` in the text that was searched."""

    kind: str
    start: int
    end: int
    value: str


# --- folding ---------------------------------------------------------------
# Only characters that can occur inside PII are folded (Chinese punctuation such as
# U+FF0C or U+FF08 is left alone), and only where they occur, which keeps folding cheap.

_FOLD: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}  # digits
_FOLD.update({cp: cp - 0xFEE0 for cp in range(0xFF20, 0xFF3B)})  # @ and A-Z
_FOLD.update({cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)})  # a-z
_FOLD.update({cp: cp - 0xFEE0 for cp in (0xFF0B, 0xFF0D, 0xFF0E, 0xFF3F)})  # + - . _
_FOLD.update(dict.fromkeys((0x00A0, 0x2007, 0x202F, 0x3000), 0x20))  # no-break, ideographic
_FOLD.update(dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212), 0x2D))  # dashes
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_FOLD)) + "]+")


def _fold(text: str) -> str:
    """``text`` with full-width forms, odd spaces and dashes as ASCII; same length."""
    return _FOLDABLE.sub(lambda m: m.group().translate(_FOLD), text)


# --- validators: each takes the folded match and returns a canonical key or None ----------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(_USCC_CHARS)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_NOT_DIGIT = re.compile("[^0-9]")


def _is_date(year: int, month: int, day: int) -> bool:
    if not 1900 <= year <= 2099 or not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS_IN_MONTH[month - 1] + (month == 2 and leap)


def _id_card_key(value: str) -> str | None:
    ident = value.replace(" ", "").replace("-", "").upper()
    if not _is_date(int(ident[6:10]), int(ident[10:12]), int(ident[12:14])):
        return None
    total = sum(int(ch) * w for ch, w in zip(ident, _ID_WEIGHTS, strict=False))
    return ident if _ID_CHECK[total % 11] == ident[17] else None


def _uscc_key(value: str) -> str | None:
    code = value.upper()
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(code, _USCC_WEIGHTS, strict=False))
    return code if _USCC_CHARS[-total % 31] == code[17] else None


def _bank_card_key(value: str) -> str | None:
    digits = _NOT_DIGIT.sub("", value)
    if not 13 <= len(digits) <= 19 or digits[0] == "0":
        return None
    total = sum(map(int, digits[-1::-2])) + sum(_LUHN_DOUBLED[int(d)] for d in digits[-2::-2])
    return digits if total % 10 == 0 else None


def _phone_key(value: str) -> str | None:
    return _NOT_DIGIT.sub("", value)[-11:]


def _email_key(value: str) -> str | None:
    return value.lower()


# --- patterns: each puts the PII in group "v" ------------------------------
# Each pattern begins with a character class, with its "no digit/letter before me"
# look-behind placed after that first character: the regex engine then skips
# quickly to plausible starts instead of trying a look-behind at every position.

_SEP = r"[ \-]"
_AFTER_DIGIT = r"(?<![0-9](?s:.))"  # the character before the one just matched is no digit
_ALNUM = "0-9A-Za-z"
_USCC_CLASS = "0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy"
_EMAIL_LOCAL = r"A-Za-z0-9._%+\-"
# 3-4-4 (separators spaces, hyphens or dots) or 4-3-4 ("1396 666 7777").
_MOBILE = r"1[3-9][0-9](?:[ .\-]?[0-9]{4}[ .\-]?[0-9]{4}|[0-9][ .\-][0-9]{3}[ .\-][0-9]{4})"

_EMAIL = re.compile(
    rf"(?<![{_EMAIL_LOCAL}])\.*"
    rf"(?P<v>[A-Za-z0-9_%+\-][{_EMAIL_LOCAL}]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
_ID_CARD = re.compile(
    rf"(?P<v>[1-9]{_AFTER_DIGIT}[0-9]{{5}}(?P<s>{_SEP}?)(?:19|20)[0-9]{{6}}(?P=s)"
    r"[0-9]{3}[0-9Xx])(?![0-9])"
)
_USCC = re.compile(
    rf"(?P<v>[{_USCC_CLASS}](?<![{_ALNUM}](?s:.))[{_USCC_CLASS}][0-9]{{6}}[{_USCC_CLASS}]{{10}})"
    rf"(?![{_ALNUM}])"
)
_PHONE_WITH_PREFIX = re.compile(
    rf"(?P<v>(?:\+{_AFTER_DIGIT}86|\({_AFTER_DIGIT}\+?86\)|0{_AFTER_DIGIT}086|8{_AFTER_DIGIT}6)"
    rf"{_SEP}?{_MOBILE})(?![0-9])"
)
_PHONE = re.compile(rf"(?P<v>1{_AFTER_DIGIT}{_MOBILE[1:]})(?![0-9])")
_BANK_CARD = re.compile(
    rf"(?P<v>[1-9]{_AFTER_DIGIT}(?:[0-9]{{12,18}}"
    rf"|[0-9]{{3}}(?P<s>{_SEP})[0-9]{{4}}(?:(?P=s)[0-9]{{4}}){{1,2}}(?:(?P=s)[0-9]{{1,4}})?"
    rf"|[0-9]{{3}}(?P<t>{_SEP})[0-9]{{6}}(?P=t)[0-9]{{4,5}}))(?![0-9])"
)


_PERSON_CODES = {d.kind for d in LATE_DETECTORS} - {"address", "person"}
# Priority order: an accepted match blocks any later candidate that overlaps it. An
# 18-digit run in ID format is judged only as an ID (claims_shape), so an ID with a
# wrong check character is left alone rather than reported as a card or a USCC.
_EARLY = (
    Detector("email", _EMAIL, _email_key, needs="@"),
    Detector("id_card", _ID_CARD, _id_card_key, claims_shape=True),
    Detector("uscc", _USCC, _uscc_key),
    Detector("phone", _PHONE_WITH_PREFIX, _phone_key, needs="86"),
    Detector("phone", _PHONE, _phone_key),
    *EXTRA_DETECTORS,
    Detector("bank_card", _BANK_CARD, _bank_card_key),
    *(d for d in LATE_DETECTORS if d.kind in _PERSON_CODES),
)
_WORDS = tuple(d for d in LATE_DETECTORS if d.kind not in _PERSON_CODES)
_PLACES = tuple(d for d in _WORDS if d.kind != "person")


def _value_span(m: re.Match[str]) -> tuple[int, int]:
    if "w" in m.re.groupindex and m.group("v") is None:
        return m.span("w")
    return m.span("v")


def _scan(text: str, names: tuple[Detector, ...] = (), people: bool = True) -> list[tuple[PiiMatch, str]]:
    """Validated, non-overlapping matches sorted by start, each with its canonical key
    (without ``people``: contact data only, no names)."""
    folded = _fold(text)
    lower = folded.lower()
    starts: list[int] = []  # accepted spans, kept sorted; they never overlap
    ends: list[int] = []
    found: list[tuple[PiiMatch, str]] = []
    for detector in (*_EARLY, *names, *(_WORDS if people else _PLACES)):
        if not detector.may_match(folded, lower):
            continue
        for m in detector.pattern.finditer(folded):
            start, end = _value_span(m)
            i = bisect_left(starts, start)
            if start == end or (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
                continue
            key = detector.canonical(folded[start:end])
            if key is None and not detector.claims_shape:
                continue
            starts.insert(i, start)
            ends.insert(i, end)
            if key is not None:
                found.append((PiiMatch(detector.kind, start, end, text[start:end]), key))
    found.sort(key=lambda pair: pair[0].start)
    return found


def find_pii(text: str, *, people: bool = True) -> list[PiiMatch]:
    """Every validated piece of PII in ``text``, sorted by start and non-overlapping;
    ``people=False`` leaves people's names alone (contact data only)."""
    return [match for match, _ in _scan(text, people=people)]


def _without_codes(name: str) -> str:
    """``name`` without the phone numbers, emails, ... written into it (they have tokens of their own)."""
    for match, _ in reversed(_scan(name)):
        if match.kind != "person":
            name = name[: match.start] + " " + name[match.end :]
    return " ".join(name.split())


def _names_detector(names: Iterable[str]) -> tuple[Detector, ...]:
    """A detector for these people's names (whole names; for Latin names also each
    part of three letters or more), every form keyed by the whole name."""
    alias: dict[str, str] = {}
    for name in sorted({_without_codes(n) for n in names} - {""}, key=len, reverse=True):
        folded = _fold(name)
        if not folded.isascii():
            if len(folded) >= 2:
                alias.setdefault(folded.lower(), name)
            continue
        for part in [folded, *folded.split()]:
            if len(part) >= 3 and part[0].isalpha():
                alias.setdefault(part.lower(), name)
    if not alias:
        return ()
    forms = sorted(alias, key=len, reverse=True)
    alternatives = [
        rf"(?<![A-Za-z]){re.escape(f)}(?![A-Za-z])" if f.isascii() else re.escape(f) for f in forms
    ]
    pattern = re.compile("(?P<v>(?i:" + "|".join(alternatives) + "))")
    return (Detector("person", pattern, lambda value: alias.get(value.lower())),)


class Redactor:
    """Deterministic placeholders within one conversation: the same value maps to the same token.

    Values are compared after normalisation (separators, +86 prefix, full-width
    forms and letter case removed), so ``138 1234 5678``, ``+86 13812345678`` and
    the same digits written full-width share a token. Tokens are numbered per
    token name in order of first appearance; numbers already present as
    placeholders in a text are never reused for a new value, so redacting partly
    redacted text cannot merge two different values.

    People are not numbered: ``names`` (the participants) and contacts introduced
    in the text (unless ``people=False``) become keyed pseudonyms ``[PERSON_nnnnnn]`` (see ``_pseudonym``),
    stable for one ``key`` and ``scope``; without a key, stable for this instance.
    :meth:`restore` puts the names back for the rep's own screen.
    Redacting redacted text returns it unchanged. Not thread-safe: use one
    instance per conversation.
    """

    def __init__(
        self, *, names: Iterable[str] = (), key: bytes | None = None, scope: str = "", people: bool = True
    ) -> None:
        self._tokens: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = dict.fromkeys(PII_KINDS, 0)
        self._next: dict[str, int] = dict.fromkeys(_TOKEN_NAMES.values(), 1)
        self._names = _names_detector(names)
        self._key = key if key is not None else secrets.token_bytes(32)
        self._scope = scope
        self._people: dict[str, str] = {}  # token -> the name as first written
        self._with_people = people

    def redact(self, text: str) -> str:
        """``text`` with every piece of PII replaced by its placeholder token."""
        for m in _PLACEHOLDER.finditer(text) if "[" in text else ():
            self._next[m.group(1)] = max(self._next[m.group(1)], int(m.group(2)) + 1)
        pieces: list[str] = []
        pos = 0
        for match, key in _scan(text, self._names, self._with_people):
            pieces += (text[pos : match.start], self._token(match, key))
            pos = match.end
        pieces.append(text[pos:])
        return "".join(pieces)

    def restore(self, text: str) -> str:
        """``text`` with this redactor's person tokens replaced by the names they stand for."""
        if "[PERSON_" not in text:
            return text
        return _PERSON_TOKEN.sub(lambda m: self._people.get(m.group(), m.group()), text)

    @property
    def counts(self) -> dict[str, int]:
        """Kind -> number of distinct values seen so far (every kind present, maybe 0)."""
        return dict(self._counts)

    def _token(self, match: PiiMatch, key: str) -> str:
        token = self._tokens.get((match.kind, key))
        if token is None:
            if match.kind == "person":
                token = self._person(key, match.value)
            else:
                name = _TOKEN_NAMES[match.kind]
                token = f"[{name}_{self._next[name]}]"
                self._next[name] += 1
            self._counts[match.kind] += 1
            self._tokens[(match.kind, key)] = token
        return token

    def _person(self, key: str, shown: str) -> str:
        salt = 0
        while (token := pseudonym_token("PERSON", self._key, self._scope, key, salt)) in self._people:
            salt += 1
        self._people[token] = key if key else shown
        return token


def redact_text(text: str) -> str:
    """``text`` redacted by a fresh :class:`Redactor` (numbering starts at 1)."""
    return Redactor().redact(text)
