"""Patterns and validators for the PII kinds beyond the PRC numeric ones.

Each detector finds candidates in text already folded to ASCII forms (see
``_redact._fold``) and puts the value in group ``v``; its ``canonical``
function returns the key that decides token identity, or ``None`` to reject
the candidate. Kinds:

- ``landline``: PRC fixed line, area code 0xx/0xxx then 7-8 digits
  (``010-62345678``, ``(021) 6234 5678``, ``0755 8888 6666``).
- ``intl_phone``: ``+`` country code and 8-15 digits in all
  (``+1 415 555 0100``, ``+44 20 7946 0958``), or a North American number
  with its area code (``(415) 555-0100``, ``415-555-0100``, ``415.555.0100``).
- ``ssn``: US social security number ``123-45-6789`` (or spaced), area not
  000/666/9xx, group not 00, serial not 0000; nine bare digits only after "SSN".
- ``passport``: PRC passport ``E12345678``, ``EA1234567``, ``G12345678``;
  any 6-9 character code right after "passport"/"护照" (with "no.", "号码", ":").
- ``wechat``: ``wxid_…`` ids, and an id right after "微信(号)"/"VX"/"WeChat ID:".
- ``email_intl``: internationalised addresses such as ``张三@例子.中国``.
- ``address``: street addresses, zh (``…路/街/大道 100号 8楼``) and en
  (``221B Baker Street, London NW1 6XE``, ``1 Main St, Springfield, IL 62701``).
- ``person``: a contact's name introduced as one ("联系人 张伟", "张伟先生",
  "my name is Jane Doe", "Mr. Smith"); participants' own names are matched
  exactly by the redactor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EXTRA_DETECTORS", "LATE_DETECTORS", "Detector"]

_NOT_DIGIT = re.compile("[^0-9]")
_AFTER_DIGIT = r"(?<![0-9](?s:.))"  # the character before the one just matched is no digit
_AFTER_ALNUM = r"(?<![0-9A-Za-z](?s:.))"
_CJK = "\u4e00-\u9fff"


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    canonical: Callable[[str], str | None]
    needs: str = ""  # skip the pattern unless the folded text contains this
    claims_shape: bool = False  # a candidate failing validation still blocks later kinds
    # Skip the pattern unless the lower-cased text holds one of these words, or this
    # quick search finds something: ordinary chat text then costs almost nothing.
    gate: tuple[str, ...] | re.Pattern[str] = ()

    def may_match(self, folded: str, lower: str) -> bool:
        if self.needs not in folded:
            return False
        if isinstance(self.gate, re.Pattern):
            return self.gate.search(folded) is not None
        return not self.gate or any(word in lower for word in self.gate)


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def _landline_key(value: str) -> str | None:
    digits = _digits(value)
    return digits if 10 <= len(digits) <= 12 else None


def _intl_key(value: str) -> str | None:
    digits = _digits(value)
    return "+" + digits if 8 <= len(digits) <= 15 else None


def _nanp_key(value: str) -> str | None:
    digits = _digits(value)
    return "+1" + digits if len(digits) == 10 else None


def _ssn_key(value: str) -> str | None:
    digits = _digits(value)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    return digits


def _upper_key(value: str) -> str | None:
    return value.upper()


def _passport_key(value: str) -> str | None:
    code = value.upper()
    return code if any(ch.isdigit() for ch in code) else None


def _lower_key(value: str) -> str | None:
    return value.lower()


def _compact_key(value: str) -> str | None:
    return re.sub(r"[\s,]+", " ", value).strip().lower()


# Not one group of a longer grouped number ("6222 0212 3456 7890 128" is a card).
_NOT_A_GROUP_START = r"(?<![0-9][ .\-](?s:.))"
_NOT_A_GROUP_END = r"(?![0-9]|[ .\-][0-9])"
_LANDLINE = re.compile(
    rf"(?P<v>(?:\({_AFTER_DIGIT}0[1-9][0-9]{{1,2}}\)|0{_AFTER_DIGIT}{_NOT_A_GROUP_START}[1-9][0-9]{{1,2}})"
    rf"[ \-]?[2-9][0-9]{{2,3}}[ \-]?[0-9]{{4}}){_NOT_A_GROUP_END}"
)
_INTL = re.compile(
    rf"(?P<v>\+{_AFTER_DIGIT}[1-9][0-9]{{0,3}}(?:[ .\-]?(?:\([0-9]{{1,4}}\)|[0-9]{{1,5}})){{1,5}})(?![0-9])"
)
_NANP = re.compile(
    rf"(?P<v>(?:\({_AFTER_DIGIT}[2-9][0-9]{{2}}\) ?"
    rf"|[2-9]{_AFTER_DIGIT}{_NOT_A_GROUP_START}[0-9]{{2}}(?P<s>[.\-]))"
    rf"[2-9][0-9]{{2}}(?(s)(?P=s)|[\-.])[0-9]{{4}}){_NOT_A_GROUP_END}"
)
_SSN = re.compile(rf"(?P<v>[0-8]{_AFTER_DIGIT}[0-9]{{2}}(?P<s>[ \-])[0-9]{{2}}(?P=s)[0-9]{{4}})(?![0-9])")
_SSN_BARE = re.compile(
    r"(?i:ssn|social security(?: number| no\.?)?)\s*(?:is\s+|[:#]\s*)?(?P<v>[0-9]{9})(?![0-9])"
)
_PASSPORT = re.compile(rf"(?P<v>[EG]{_AFTER_ALNUM}(?:[0-9]{{8}}|[A-HJ-NP-Z][0-9]{{7}}))(?![0-9A-Za-z])")
_PASSPORT_CONTEXT = re.compile(
    r"(?i:passport|护照)(?:\s*(?i:no\.?|number|#|号码|号))?\s*(?:(?i:is)\s+|是|为|[:：]\s*)?\s*"
    r"(?P<v>[A-Za-z0-9]{6,9})(?![0-9A-Za-z])"
)
_WXID = re.compile(rf"(?P<v>(?i:w){_AFTER_ALNUM}(?i:xid)_[A-Za-z0-9_\-]{{4,30}})(?![A-Za-z0-9_\-])")
_WECHAT_ZH = re.compile(
    r"(?:微信号?|微信\s*ID|(?i:vx|wx)号?|V信|威信)\s*(?:是|为|[:：])?\s*"
    r"(?P<v>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
)
_WECHAT_EN = re.compile(
    r"(?i:we\s?chat|weixin)(?:\s+(?i:id)\s*(?:(?i:is)\s+|[:：]\s*)?|\s*(?:(?i:is)\s+|[:：]\s*))"
    r"(?P<v>(?=[A-Za-z0-9_\-]*[0-9_\-])[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])"
)
_EMAIL_INTL = re.compile(r"(?P<v>[\w.%+\-]{1,64}@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})")
_ROAD_ZH = "路|街|大道|大街|巷|弄|胡同"
_UNIT_ZH = r"(?:\s?[0-9A-Za-z\-]{1,6}\s?(?:号楼|栋|幢|单元|室|楼|层|F|f))*"
_ADDRESS_ZH = re.compile(
    rf"(?P<v>[{_CJK}0-9]{{0,14}}[{_CJK}](?:{_ROAD_ZH})(?:[一二三四五六七八九十]{{1,3}}段)?\s?[0-9]{{1,5}}\s?[号弄]{_UNIT_ZH}"
    rf"|[{_CJK}]{{2,12}}(?:小区|花园|大厦|公寓|新村)\s?[0-9]{{1,4}}\s?(?:号楼|栋|幢|号){_UNIT_ZH})"
)
_STREET_EN = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl"
    "|Square|Sq|Loop|Terrace|Parkway|Pkwy|Highway|Hwy|Crescent|Close|Gardens|Row|Mews"
)
_ADDRESS_EN = re.compile(
    rf"(?P<v>[1-9]{_AFTER_DIGIT}[0-9]{{0,4}}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'\-]*\.?\s+){{1,4}}"
    rf"(?:{_STREET_EN})\b\.?"
    r"(?:,?\s*(?:Apt|Suite|Ste|Unit|Floor|Fl|Flat)\.?\s*#?\s*[0-9A-Za-z\-]+)?"
    r"(?:,\s*[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})?"
    r"(?:,?\s*(?:[A-Z]{2}\s+[0-9]{5}(?:-[0-9]{4})?|[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}))?)"
)
# The most common single-character surnames (they cover about 85% of people in China).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_PERSON_ZH = re.compile(
    rf"(?:(?:联系人|对接人|负责人|经办人|收件人|姓名|名叫|我叫|叫做)\s*(?:是|为|[:：])?\s*"
    rf"(?P<v>[{_SURNAMES}][{_CJK}]{{1,2}}?)(?=[^{_CJK}]|$|先生|女士|小姐|老师|经理|总监)"
    rf"|(?P<w>[{_SURNAMES}][{_CJK}]{{1,2}}?)(?:先生|女士|小姐|老师))"
)
_PERSON_EN = re.compile(
    r"(?:(?:[Cc]ontact(?: person)?:|[Mm]y name is|[Nn]ame:|[Aa]sk for|[Ss]peak (?:to|with)|[Cc]c:?)\s+"
    r"(?P<v>[A-Z][a-z]+(?:[ \-][A-Z][a-z]+){1,2})"
    r"|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+(?P<w>[A-Z][a-z]+(?:[ \-][A-Z][a-z]+){0,2}))"
)


def _person_key(value: str) -> str | None:
    return value.strip()


# After the PRC mobile and before bank cards: a landline or a foreign number never
# becomes a card, and a PRC mobile is never read as a foreign number.
EXTRA_DETECTORS = (
    Detector("intl_phone", _INTL, _intl_key, needs="+"),
    Detector("landline", _LANDLINE, _landline_key),
    Detector("intl_phone", _NANP, _nanp_key),
    Detector("ssn", _SSN, _ssn_key),
    Detector("ssn", _SSN_BARE, _ssn_key, gate=("ssn", "social security")),
)
_PERSON_ZH_WORDS = ("联系人", "对接人", "负责人", "经办人", "收件人", "姓名", "名叫", "我叫", "叫做")
# After bank cards: codes and words that never overlap a valid number.
LATE_DETECTORS = (
    Detector("email", _EMAIL_INTL, _lower_key, needs="@"),
    Detector("passport", _PASSPORT, _upper_key),
    Detector("passport", _PASSPORT_CONTEXT, _passport_key, gate=("passport", "护照")),
    Detector("wechat", _WXID, _lower_key, gate=("wxid_",)),
    Detector("wechat", _WECHAT_ZH, _lower_key, gate=("微信", "vx", "wx", "v信", "威信")),
    Detector("wechat", _WECHAT_EN, _lower_key, gate=("wechat", "we chat", "weixin")),
    Detector("address", _ADDRESS_ZH, _compact_key, gate=re.compile(r"[路街道巷弄同段区园厦寓村]\s?[0-9]")),
    Detector("address", _ADDRESS_EN, _compact_key, gate=re.compile(r"[0-9][A-Za-z]?,?\s+[A-Z]")),
    Detector("person", _PERSON_ZH, _person_key, gate=(*_PERSON_ZH_WORDS, "先生", "女士", "小姐", "老师")),
    Detector(
        "person",
        _PERSON_EN,
        _person_key,
        gate=("contact", "name", "ask for", "speak", "cc", "mr", "ms", "miss", "dr"),
    ),
)
