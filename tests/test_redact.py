"""PII detection and redaction: validated IDs, cards and USCCs; phones; emails; tokens."""

from __future__ import annotations

import dataclasses
import random

import pytest

from copilot._redact import PII_KINDS, PiiMatch, Redactor, find_pii, redact_text

# --- independent check-character helpers (written from the standards, not imported) ---


def make_id(first17: str) -> str:
    """Complete a 17-digit ID prefix with its GB 11643 check character."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def wrong_last(code: str, alphabet: str = "0123456789") -> str:
    """``code`` with a different, same-alphabet last character."""
    return code[:-1] + next(ch for ch in alphabet if ch != code[-1].upper())


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit."""
    for check in "0123456789":
        digits = [int(d) for d in partial + check][::-1]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return partial + check
    raise AssertionError("unreachable")


USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(first17: str) -> str:
    """Complete a 17-character USCC prefix with its GB 32100-2015 check character."""
    total = sum(USCC_CHARS.index(ch) * 3**i % 31 for i, ch in enumerate(first17))
    return first17 + USCC_CHARS[(31 - total % 31) % 31]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(m.kind, m.value) for m in find_pii(text)]


FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")

VALID_IDS = [
    make_id("11010519491231002"),  # 11010519491231002X, the common textbook example
    make_id("44030620000229123"),  # leap day
    make_id("31011519900307123"),
    make_id("51010720991231456"),
    make_id("11010119000101001"),
]
VALID_CARDS = [
    luhn_complete("622202123456789"),  # 16 digits, UnionPay BIN
    luhn_complete("622848001234567890"),  # 19 digits
    luhn_complete("411111111111111"),  # 16 digits, Visa test BIN
    luhn_complete("37828224631000"),  # 15 digits
    luhn_complete("401288888888"),  # 13 digits
]


# --- API shape ----------------------------------------------------------------


def test_kinds_and_match_shape() -> None:
    assert PII_KINDS[:5] == ("phone", "id_card", "email", "bank_card", "uscc")
    assert set(PII_KINDS[5:]) == {"landline", "intl_phone", "ssn", "passport", "wechat", "address", "person"}
    match = find_pii("电话13812345678")[0]
    assert match == PiiMatch(kind="phone", start=2, end=13, value="13812345678")
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.start = 0  # type: ignore[misc]


def test_counts_has_every_kind_and_is_a_copy() -> None:
    redactor = Redactor()
    assert redactor.counts == dict.fromkeys(PII_KINDS, 0)
    redactor.counts["phone"] = 99
    assert redactor.counts["phone"] == 0


# --- resident ID ------------------------------------------------------------------


def test_textbook_id_is_valid() -> None:
    assert VALID_IDS[0] == "11010519491231002X"


@pytest.mark.parametrize("ident", VALID_IDS)
def test_valid_id_found(ident: str) -> None:
    text = f"客户身份证号：{ident}，请核实。"
    start = text.index(ident)
    assert find_pii(text) == [PiiMatch("id_card", start, start + 18, ident)]


@pytest.mark.parametrize("ident", VALID_IDS)
def test_id_with_wrong_check_character_not_found(ident: str) -> None:
    for check in "0123456789X":
        if check != ident[-1]:
            assert find_pii(f"身份证 {ident[:-1]}{check} 号") == []


def test_invalid_id_is_not_reported_as_a_card_even_if_it_passes_luhn() -> None:
    invalid = next(
        card for n in range(1000) if (card := luhn_complete(f"31011519900307{n:03d}")) != make_id(card[:-1])
    )
    assert find_pii(invalid) == []


def test_eighteen_digit_card_outside_id_format_is_a_card() -> None:
    card = luhn_complete("62170012345678901")  # digits 7-10 are "1234", not a birth year
    assert kinds(card) == [("bank_card", card)]


def test_id_check_x_accepts_lower_case() -> None:
    ident = VALID_IDS[0].lower()
    assert kinds(f"ID: {ident}") == [("id_card", ident)]


@pytest.mark.parametrize(
    "first17",
    [
        "11010518991231001",  # year 1899
        "11010521000101001",  # year 2100
        "11010519901301001",  # month 13
        "11010519900001001",  # month 00
        "11010519900230001",  # 30 February
        "11010519000229001",  # 1900 is not a leap year
        "11010519900431001",  # 31 April
        "01010519900101001",  # area code cannot start with 0
    ],
)
def test_id_with_impossible_birth_date_not_found(first17: str) -> None:
    assert find_pii(make_id(first17)) == []


def test_id_grouped_6_8_4_found_and_same_token() -> None:
    ident = VALID_IDS[2]
    grouped = f"{ident[:6]} {ident[6:14]} {ident[14:]}"
    assert kinds(f"证件 {grouped} 。") == [("id_card", grouped)]
    assert Redactor().redact(f"{grouped} / {ident}") == "[ID_1] / [ID_1]"


def test_id_inside_longer_digit_run_not_found() -> None:
    ident = VALID_IDS[2]
    assert find_pii("9" + ident) == []
    assert find_pii(ident + "9") == []


@pytest.mark.parametrize("ident", VALID_IDS[1:])
def test_no_phone_reported_inside_a_valid_id(ident: str) -> None:
    assert [m.kind for m in find_pii(ident)] == ["id_card"]


def test_no_phone_reported_inside_an_invalid_id() -> None:
    # "19900307123" inside looks like a mobile number; the naive regex fires on it.
    invalid = wrong_last(make_id("31011519900307123"))
    assert "19900307123" in invalid
    assert find_pii(f"号码 {invalid} 结束") == []


def test_valid_id_that_passes_luhn_is_an_id_not_a_card() -> None:
    both = next(
        ident
        for n in range(1000)
        if (ident := make_id(f"11010519880808{n:03d}")) == luhn_complete(ident[:-1])
    )
    assert kinds(both) == [("id_card", both)]
    assert redact_text(both) == "[ID_1]"


# --- bank card --------------------------------------------------------------------


@pytest.mark.parametrize("card", VALID_CARDS)
def test_valid_card_found(card: str) -> None:
    assert kinds(f"卡号{card}，户名张三") == [("bank_card", card)]


@pytest.mark.parametrize("card", VALID_CARDS)
def test_card_failing_luhn_not_found(card: str) -> None:
    assert find_pii(f"card {wrong_last(card)} end") == []


@pytest.mark.parametrize("sep", [" ", "-"])
def test_card_grouped_in_fours_found_and_same_token(sep: str) -> None:
    card = VALID_CARDS[1]  # 19 digits: 4-4-4-4-3
    grouped = sep.join(card[i : i + 4] for i in range(0, len(card), 4))
    assert kinds(f"请转到 {grouped} 。") == [("bank_card", grouped)]
    assert Redactor().redact(f"{grouped} {card}") == "[CARD_1] [CARD_1]"


def test_card_amex_grouping_found() -> None:
    card = luhn_complete("37828224631000")
    grouped = f"{card[:4]} {card[4:10]} {card[10:]}"
    assert kinds(grouped) == [("bank_card", grouped)]


def test_card_length_and_leading_zero_limits() -> None:
    assert find_pii(luhn_complete("40128888888")) == []  # 12 digits
    assert find_pii(luhn_complete("6222021234567890123")) == []  # 20 digits
    assert find_pii(luhn_complete("022202123456789")) == []  # leading zero
    assert find_pii("1234 5678 9012 3456 7890 1234") == []  # 24 digits in fours


# --- unified social credit code ---------------------------------------------------


def test_commonly_cited_uscc_is_valid() -> None:
    code = "91350100M000100Y43"
    assert make_uscc(code[:17]) == code
    assert kinds(f"统一社会信用代码：{code}。") == [("uscc", code)]


@pytest.mark.parametrize(
    "first17", ["91110000MA01ABCDE", "12100000400000624", "52310115MJ4927581", "Y1440300708461136"]
)
def test_generated_uscc_found(first17: str) -> None:
    code = make_uscc(first17)
    assert kinds(f"USCC {code}") == [("uscc", code)]


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91350100M000100Y4X", "91350100M000100Y40"])
def test_uscc_with_wrong_check_character_not_found(code: str) -> None:
    assert find_pii(f"代码 {code}") == []


def test_uscc_with_excluded_letters_or_bad_shape_not_found() -> None:
    assert find_pii("91350100M0001O0Y43") == []  # O is not in the charset
    assert find_pii("9135A100M000100Y43") == []  # division code must be digits
    assert find_pii("X91350100M000100Y43") == []  # part of a longer token


def test_uscc_lower_case_shares_the_upper_case_token() -> None:
    code = "91350100M000100Y43"
    assert Redactor().redact(f"{code.lower()} {code}") == "[USCC_1] [USCC_1]"


# --- mobile phone -----------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "8613812345678",
        "0086 13812345678",
        "(+86) 138 1234 5678",
    ],
)
def test_phone_forms_found_and_share_one_token(phone: str) -> None:
    text = f"请拨打{phone}联系我"
    assert kinds(text) == [("phone", phone)]
    redactor = Redactor()
    assert redactor.redact(text) == "请拨打[PHONE_1]联系我"
    assert redactor.redact("或者 13812345678") == "或者 [PHONE_1]"
    assert redactor.counts["phone"] == 1


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_every_mobile_prefix_found(prefix: str) -> None:
    assert kinds(f"tel {prefix}012345678") == [("phone", f"{prefix}012345678")]


@pytest.mark.parametrize(
    "number", ["1381234567", "138123456789", "12812345678", "10012345678", "23812345678"]
)
def test_not_a_mobile(number: str) -> None:
    assert find_pii(f"号 {number} 号") == []


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("（+86）138 1234 5678", "（+86）[PHONE_1]"),  # full-width brackets: prefix stays
        ("电话:+86１３８１２３４５６７８", "电话:[PHONE_1]"),
        ("tel.0086-138-1234-5678。", "tel.[PHONE_1]。"),
        ("5+8613812345678", "5+[PHONE_1]"),
    ],
)
def test_phone_prefix_edges(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


def test_phone_inside_email_is_the_email() -> None:
    assert kinds("邮箱 13812345678@163.com") == [("email", "13812345678@163.com")]


# --- email ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("联系zhang.san@example.com谢谢", "zhang.san@example.com"),
        ("Mail me at first.last+tag@mail.example.co.uk.", "first.last+tag@mail.example.co.uk"),
        ("(bob_o-neil%x@sub-domain.example.cn)", "bob_o-neil%x@sub-domain.example.cn"),
        ("...alice@example.org", "alice@example.org"),
        ("邮箱：wang＠qq．com。", "wang＠qq．com"),
    ],
)
def test_email_found(text: str, email: str) -> None:
    assert kinds(text) == [("email", email)]


@pytest.mark.parametrize("text", ["a@b", "user@localhost", "@example.com", "x@.com", "例如 @张三 请看"])
def test_not_an_email(text: str) -> None:
    assert find_pii(text) == []


def test_email_case_shares_token() -> None:
    assert redact_text("Bob@Example.COM bob@example.com") == "[EMAIL_1] [EMAIL_1]"


# --- full-width forms -------------------------------------------------------------


def test_full_width_digits_every_numeric_kind() -> None:
    ident, card = VALID_IDS[0], VALID_CARDS[0]
    wide_phone = "＋８６ １３８－１２３４－５６７８"
    wide_id, wide_card = ident.translate(FULL_WIDTH), card.translate(FULL_WIDTH)
    text = f"电话{wide_phone}，身份证{wide_id}，卡号{wide_card}。"
    assert kinds(text) == [("phone", wide_phone), ("id_card", wide_id), ("bank_card", wide_card)]
    redactor = Redactor()
    assert redactor.redact(text) == "电话[PHONE_1]，身份证[ID_1]，卡号[CARD_1]。"
    assert redactor.redact(f"13812345678 {ident} {card}") == "[PHONE_1] [ID_1] [CARD_1]"


def test_ideographic_space_grouping() -> None:
    assert kinds("手机１３８\u3000１２３４\u3000５６７８") == [
        ("phone", "１３８\u3000１２３４\u3000５６７８")
    ]


# --- tokens: determinism, numbering, idempotence --------------------------------


def test_numbering_per_kind_in_order_of_first_appearance() -> None:
    redactor = Redactor()
    first = redactor.redact("a@x.com 13900001111 b@x.com 13812345678 a@x.com")
    assert first == "[EMAIL_1] [PHONE_1] [EMAIL_2] [PHONE_2] [EMAIL_1]"
    second = redactor.redact("13812345678, c@x.com, 139 0000 1111")
    assert second == "[PHONE_2], [EMAIL_3], [PHONE_1]"
    assert redactor.counts == dict.fromkeys(PII_KINDS, 0) | {"phone": 2, "email": 3}


def test_redact_text_starts_fresh_each_call() -> None:
    assert redact_text("13900001111") == "[PHONE_1]"
    assert redact_text("13812345678") == "[PHONE_1]"


def test_same_input_same_output_across_redactors() -> None:
    text = f"张三 13812345678 {VALID_IDS[1]} z@s.cn {VALID_CARDS[0]} 91350100M000100Y43"
    assert Redactor().redact(text) == Redactor().redact(text)


MIXED = (
    f"Hi 王经理，我是 Alice（alice.chen@acme.com.cn），手机 +86 139 1234 5678。"
    f"贵司统一社会信用代码 91350100M000100Y43 已核对；法人身份证 {VALID_IDS[0]}，"
    f"回款账户 {VALID_CARDS[0]}。Please call 13912345678 before 2026-11-20 about the "
    "1,280,000 元 quote (order 2026112001)."
)


def test_mixed_chinese_english_sentence() -> None:
    assert redact_text(MIXED) == (
        "Hi 王经理，我是 Alice（[EMAIL_1]），手机 [PHONE_1]。"
        "贵司统一社会信用代码 [USCC_1] 已核对；法人身份证 [ID_1]，"
        "回款账户 [CARD_1]。Please call [PHONE_1] before 2026-11-20 about the "
        "1,280,000 元 quote (order 2026112001)."
    )


def test_redacting_redacted_text_is_a_no_op() -> None:
    redactor = Redactor()
    once = redactor.redact(MIXED)
    assert redactor.redact(once) == once
    assert redact_text(once) == once
    assert find_pii(once) == []


def test_existing_placeholder_numbers_are_not_reused() -> None:
    redactor = Redactor()
    out = redactor.redact("之前的 [PHONE_1] 和 [EMAIL_7]，新的 13812345678 与 n@x.com")
    assert out == "之前的 [PHONE_1] 和 [EMAIL_7]，新的 [PHONE_2] 与 [EMAIL_8]"
    assert redactor.redact("n@x.com") == "[EMAIL_8]"


# --- false positives --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "报价 1,280,000 元，折扣 15%，含税 ¥1,450,000.00",
        "会议定在 2026-11-20 14:30，或 2026年11月20日",
        "订单号 2026112001，另一单 1381234567",
        "version 1.13.812345678, build 20261120",
        "数量 13800 台，单价 12345.67 元",
        "项目编号 PRJ-2026-0001-0042",
        "ISBN 978-7-111-54742-6",
        "时间戳 2026-11-20T06:02:00+08:00",
    ],
)
def test_no_false_positives_on_ordinary_numbers(text: str) -> None:
    assert find_pii(text) == []
    assert redact_text(text) == text


# --- robustness -------------------------------------------------------------------

FUZZ_ALPHABET = (
    "0123456789" * 6
    + "０１２３４５６７８９Xx"
    + " -－\u3000+()@.＠．_%,"
    + "abcXYZMNQ"
    + "电话身份证号卡"
    + "\u0000\ud800\U0001f600\u0660\u0661"
)


def test_random_strings_never_raise_and_keep_invariants() -> None:
    rng = random.Random(20261120)
    for _ in range(3000):
        text = "".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(0, 80)))
        matches = find_pii(text)
        previous_end = 0
        for m in matches:
            assert m.kind in PII_KINDS
            assert previous_end <= m.start < m.end <= len(text)
            assert text[m.start : m.end] == m.value
            previous_end = m.end
        redactor = Redactor()
        once = redactor.redact(text)
        assert redactor.redact(once) == once
        assert sum(redactor.counts.values()) <= len(matches)


def test_embedded_pii_found_in_random_noise() -> None:
    rng = random.Random(7)
    noise = "电话号码在这里 ，。：（）"
    for _ in range(200):
        pii = rng.choice([VALID_IDS[3], VALID_CARDS[2], "13712345678", "q@w.cn"])
        text = "".join(rng.choice(noise) for _ in range(10)) + pii + rng.choice(noise)
        assert [m.value for m in find_pii(text)] == [pii]


def test_pathological_inputs() -> None:
    for text in ["", "@" * 5000, "a." * 5000 + "@", "1" * 10000, "1 " * 5000, "[PHONE_" + "9" * 50]:
        redact_text(text)
    assert redact_text("[PHONE_" + "9" * 50 + "] 13812345678").endswith("[PHONE_1]")
