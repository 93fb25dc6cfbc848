"""What a question asks of the report as a document (rag/intents.py), in three languages and two numeral systems."""

from __future__ import annotations

import pytest

from rag.intents import answer_type, asks_count, asks_money, asks_quantity, classify, list_position


@pytest.mark.parametrize(
    ("question", "language", "kind", "sections", "broad"),
    [
        ("Summarize chapter 4", "en", "scoped", ("4のまとめ",), True),
        ("第3章のまとめは？", "ja", "scoped", ("3のまとめ",), True),
        ("第二章的总结是什么？", "zh", "scoped", ("2のまとめ",), True),
        ("What's the bottom line of chapter three?", "en", "scoped", ("3のまとめ",), True),
        ("What does the conclusion say?", "en", "scoped", ("5のまとめ",), True),
        ("What does section 2-3 say?", "en", "scoped", ("2-3",), True),
        ("【4-2】には何が書かれていますか", "ja", "scoped", ("4-2",), True),
        ("第3-2节讲了什么？", "zh", "scoped", ("3-2",), True),
        # a question of its own inside a section is scoped to it, not broad
        (
            "Who participates in building China's AI supply chain according to section 2-5?",
            "en",
            "scoped",
            ("2-5",),
            False,
        ),
        ("1-4節の表には何がありますか", "ja", "scoped", ("1-4",), True),
        ("What is in the table on the commercialization of US and Chinese large models?", "en", "table", (), True),
        ("中国のAIコア産業の規模は？", "ja", "content", (), False),
    ],
)
def test_structure(question: str, language: str, kind: str, sections: tuple[str, ...], broad: bool) -> None:
    intent = classify(question, language)
    assert (intent.kind, intent.sections, intent.broad) == (kind, sections, broad)


@pytest.mark.parametrize(
    ("question", "language", "kind", "fields"),
    [
        ("hi", "en", "help", ()),
        ("What can you do?", "en", "help", ()),
        ("こんにちは", "ja", "help", ()),
        ("你能做什么？", "zh", "help", ()),
        ("Who wrote this report?", "en", "meta", ("author",)),
        ("このレポートは誰がいつ書いたものですか？", "ja", "meta", ("author", "date")),
        ("报告一共分几章？", "zh", "meta", ("toc",)),
        ("这份报告的标题是什么？", "zh", "meta", ("title",)),
        # the author's view is a content question, and so is a product's release date
        ("著者は何を挙げていますか？", "ja", "content", ()),
        ("When was DeepSeek-V3 released?", "en", "content", ()),
    ],
)
def test_help_and_metadata(question: str, language: str, kind: str, fields: tuple[str, ...]) -> None:
    intent = classify(question, language)
    assert (intent.kind, intent.fields) == (kind, fields)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much did the US invest privately in AI in 2024?", "amount"),
        ("中国のAIコア産業の規模はどのくらいですか？", "amount"),
        ("When was DeepSeek-V3 released?", "date"),
        ("人形机器人创新发展指导意见是什么时候发布的？", "date"),
        ("Which data source is the chart based on?", "source"),
        ("Where does the patent data come from?", "source"),
        ("What are the US's main revenue sources?", "list"),  # sources of revenue, not of data
        ("Why is monetisation hard?", "why"),
        ("What are the main challenges?", "list"),
        ("Who applied with the platform?", "who"),
        ("Tell me about humanoid robots.", "other"),
    ],
)
def test_answer_type(question: str, kind: str) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "position"),
    [
        ("3番目の課題は？", 3),
        ("二つ目は？", 2),
        ("最初に挙げられているのは何ですか？", 1),
        ("那第六个呢？", 6),
        ("And the third one?", 3),
        ("What is the 2nd item?", 2),
        # a follow-up glued to its previous question names its own position last
        ("What is the first direction? the third one", 3),
        # names and rounds, not list positions
        ("In the 15th Five-Year Plan, what are the directions?", None),
        ("第15次5か年計画の方向性は？", None),
        ("第2回は何件？", None),
        ("How did it grow in the first half of 2025?", None),
    ],
)
def test_list_position(question: str, position: int | None) -> None:
    assert list_position(question) == position


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("What's the takeaway of the last chapter?", "5のまとめ"),
        ("最後の章のまとめは？", "5のまとめ"),
        ("最后一章的总结是什么？", "5のまとめ"),  # not chapter 一
        ("最初の章のまとめは？", "1のまとめ"),
        ("Summarize the first chapter", "1のまとめ"),
    ],
)
def test_a_chapter_named_by_its_place_is_its_summary(question: str, section: str) -> None:
    intent = classify(question, "en", last_chapter=5)
    assert intent.kind == "scoped" and intent.sections == (section,)
    assert classify("What's the takeaway of the last chapter?", "en", last_chapter=7).sections == ("7のまとめ",)


@pytest.mark.parametrize(
    ("question", "money", "count"),
    [
        ("How much did the US invest privately in AI in 2024?", True, False),
        # naming a sum of money as what is asked for asks for the sum
        ("What is DeepSeek's annual revenue?", True, False),
        ("What was iFLYTEK's net profit in 2024?", True, False),
        ("What is SenseTime's market capitalization?", True, False),
        # ... but not when the sum only qualifies what is asked for
        ("What are the main revenue sources?", False, False),
        ("What was the price gap between US and Chinese models?", False, False),
        ("How many AI engineers work in China?", False, True),
        ("How many times cheaper is DeepSeek?", False, False),
        ("How many percentage points did it grow?", False, False),
        ("AI関連企業は何社ですか？", False, True),
        ("データセンターをいくつ運営していますか？", False, True),  # いくつ: how many, with no counter
        ("投資額はいくらですか？", True, False),
        ("字节跳动有多少名员工？", False, True),
        ("中国AI工程师的数量有多少？", False, False),  # 多少 alone: how many or how much
        ("美国的价格是中国的多少倍？", False, False),
    ],
)
def test_asked_for_a_sum_of_money_or_a_count(question: str, money: bool, count: bool) -> None:
    assert (asks_money(question), asks_count(question)) == (money, count)
    assert asks_quantity(question) or not count  # a count asked for is a quantity asked for
