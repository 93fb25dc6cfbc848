"""The number normaliser: one reading of 万/億/兆, million/billion, currencies, %, 割, 倍 and dates."""

from __future__ import annotations

import pytest

from rag.numbers import mentioned, quantities, render, render_date, rounds, same_value


def one(text: str) -> tuple[float, str]:
    (q,) = quantities(text)
    return q.value, q.unit


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1091億ドル", 1.091e11, "usd"),
        ("1,091億ドル", 1.091e11, "usd"),
        ("約1.2兆元", 1.2e12, "cny"),
        ("1.2万亿元", 1.2e12, "cny"),
        ("1091亿美元", 1.091e11, "usd"),
        ("490万社", 4.9e6, ""),
        ("9千億元", 9e11, "cny"),
        ("9千万元", 9e7, "cny"),
        ("5千社", 5e3, ""),
        ("$109.1 billion", 1.091e11, "usd"),
        ("US$93 billion", 9.3e10, "usd"),
        ("9.3 billion dollars", 9.3e9, "usd"),
        ("1.2 trillion yuan", 1.2e12, "cny"),
        ("4.9 million companies", 4.9e6, ""),
        ("6,000 companies", 6e3, ""),
        ("６．１％", 6.1, "percent"),
        ("7割弱", 70.0, "percent"),
        ("約12倍", 12.0, "times"),
        ("about 12 times", 12.0, "times"),
        ("2.4元/百万トークン", 2.4, "cny"),
    ],
)
def test_amounts_are_read_with_scale_and_unit(text: str, value: float, unit: str) -> None:
    got_value, got_unit = one(text)
    assert got_value == pytest.approx(value)
    assert got_unit == unit


def test_dates_split_into_year_month_and_day() -> None:
    assert [(q.value, q.unit) for q in quantities("2019年6月17日")] == [(2019, "year"), (6, "month"), (17, "day")]
    assert [(q.value, q.unit) for q in quantities("2023.1.19")] == [(2023, "year"), (1, "month"), (19, "day")]
    (short,) = quantities("22年以降")
    assert short.readings() == (22, 2022)


def test_a_chinese_comma_is_not_a_thousands_separator() -> None:
    assert [q.value for q in quantities("2，2024年")] == [2, 2024]


def test_the_digits_of_a_name_or_a_version_are_not_amounts() -> None:
    names = ("DeepSeek-V3をリリース", "GPT-4.5を公開", "Qwen2.5", "o1モデル", "6G", "バージョン1.5", "1.5版")
    for text in (*names, "version 1.6"):
        assert quantities(text) == [], text
    # A translation must keep them all the same: the edition checks count them.
    assert [q.value for q in quantities("GPT-4.5, 2.5版", in_names=True)] == [4.5, 2.5]
    assert [q.text for q in quantities("2024年版で6nm、US$75")] == ["2024年", "6", "US$75"]


def test_doubling_written_as_a_word_is_twice() -> None:
    for text in ("2020年に比べて倍増", "比2020年翻一番", "density doubled"):
        assert [(q.value, q.unit) for q in quantities(text) if q.unit != "year"] == [(2.0, "times")], text


def test_words_and_numerals_count_only_when_asked() -> None:
    assert [q.value for q in quantities("14 plans")] == [14]
    assert quantities("the 14th Five-Year Plan") == []  # an ordinal is a place in a list, not an amount
    assert [q.value for q in quantities("the 14th Five-Year Plan", in_names=True)] == [14]
    spelled = [q.value for q in quantities("three stages in January, 第十四个五年规划", words=True)]
    assert {3.0, 1.0, 14.0, 5.0} <= set(spelled)


def test_a_scale_error_is_a_different_value() -> None:
    (report,) = quantities("約1.2兆元")
    assert not mentioned(report, "about 1.2 million yuan")
    assert mentioned(report, "about 1.2 trillion yuan")
    (investment,) = quantities("93億ドル")
    assert not mentioned(investment, "$93 billion")
    assert mentioned(investment, "$9.3 billion")


def test_rounding_is_accepted_to_the_digits_written_within_two_percent() -> None:
    (report,) = quantities("1091億ドル")
    for written, ok in [
        ("$109 billion", True),
        ("$110 billion", True),
        ("$1,091 million", False),
        ("$100 billion", False),
    ]:
        assert same_value(report, quantities(written)[0], rounding=True) is ok, written
    # Without rounding only the exact value passes (the edition's checks).
    assert not same_value(report, quantities("$109 billion")[0])
    # Years are never rounded: 2020 is not 2025.
    assert not same_value(quantities("2025年")[0], quantities("2020")[0], rounding=True)


def test_units_must_agree_when_both_are_given() -> None:
    (dollars,) = quantities("93億ドル")
    assert not same_value(dollars, quantities("93亿元")[0])
    assert same_value(dollars, quantities("9.3 billion")[0])  # a table header may carry the currency
    (share,) = quantities("6.1%")
    assert not same_value(share, quantities("6.1")[0])  # a percentage is only ever a percentage


@pytest.mark.parametrize(
    ("text", "en", "zh"),
    [
        ("1091億ドル", "$109.1 billion", "1091亿美元"),
        ("約1.2兆元", "1.2 trillion yuan", "1.2万亿元"),
        ("490万社", "4.9 million", "490万"),
        ("650億元", "65 billion yuan", "650亿元"),
        ("6000社", "6,000", "6000"),
        ("33.3%", "33.3%", "33.3%"),
        ("約12倍", "12 times", "12倍"),
    ],
)
def test_render_in_the_readers_conventions(text: str, en: str, zh: str) -> None:
    (q,) = quantities(text)
    assert render(q, "en") == en
    assert render(q, "zh") == zh
    assert render(q, "ja") == q.text


def test_render_date() -> None:
    assert render_date(2025, 1, None, "en") == "January 2025"
    assert render_date(2019, 6, 17, "en") == "June 17, 2019"
    assert render_date(2025, 1, None, "zh") == "2025年1月"


@pytest.mark.parametrize(
    ("asked", "stated", "agrees"),
    [
        ("世界全体の7割を超えていた", "1,091億ドル(71.7%)", True),
        ("more than $100 billion", "1091億ドル", True),
        ("是否超过了400万家", "490万社", True),
        ("under 5%", "6.1%", False),
        ("7割を超えていた", "65%", False),
        ("more than 100 times", "100倍以上", True),  # the limit itself, as the report writes it
    ],
)
def test_a_number_asked_as_a_limit_is_stated_by_a_value_beyond_it(asked: str, stated: str, agrees: bool) -> None:
    (limit,) = [q for q in quantities(asked) if q.bound]
    assert mentioned(limit, stated) is agrees


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("第3回及び第4回の審査登録を通過した企業", {3, 4}),
        ("第五批通过备案的产品", {5}),
        ("How many passed the fifth round?", {5}),
        ("the 2nd batch", {2}),
        ("round 3 of registrations", {3}),
        ("第15次5か年計画", set()),  # a plan's number, not a round
        ("the first half of 2025", set()),
    ],
)
def test_rounds_are_read_by_their_place(text: str, places: set[int]) -> None:
    assert rounds(text) == places
