"""knowledge/_text.py: the one place text is folded, split and made plain."""

from __future__ import annotations

import pytest

from knowledge import chat_length, clauses, detect_language, fold, fold_map, is_cjk, plain_text, sentences


def test_fold_is_width_case_and_apostrophe_blind() -> None:
    assert fold("ＳｔａｒＭａｐ’s") == "starmap's"
    folded, index = fold_map("ﬁ价")  # one char folds to two: the map points back
    assert folded == "fi价" and index == (0, 0, 1)
    assert fold_map("abc") == ("abc", None)


def test_cjk_and_language() -> None:
    assert is_cjk("价") and is_cjk("カ") and not is_cjk("a") and not is_cjk("")
    assert detect_language("价格太高了 ok") == "zh" and detect_language("The price is too high, 太高") == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一。二？三！四；", ["一。", "二？", "三！", "四；"]),
        ("St. Mary's and Dr. Li agreed. Next step?", ["St. Mary's and Dr. Li agreed.", "Next step?"]),
        (
            "Version 2.5 ships, e.g. in Q3. U.S. data stays.",
            ["Version 2.5 ships, e.g. in Q3.", "U.S. data stays."],
        ),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_clauses() -> None:
    assert clauses("你好，我们 ok. Then, 8.5折!") == ["你好", "我们 ok", "Then", "8.5折"]


def test_chat_length_counts_characters_in_zh_and_words_in_en() -> None:
    assert chat_length("价格 很 合理。", "zh") == 6
    assert chat_length("The price is fair.", "en") == 4


def test_plain_text_drops_markup_links_controls_and_bidi() -> None:
    text = "## 案例\n- 缺货率下降 **18%**\n- 详见 https://x.example/y [报告](http://a.example)\u202e\x1b[31m"
    assert plain_text(text) == "案例，缺货率下降 18%，详见 报告"
    assert (
        plain_text("# Case\n* Out of stock down 18%\n* Days fell") == "Case. Out of stock down 18%. Days fell"
    )
