"""Sentence-level verification of generated answers."""

import pytest

from rag.llm.verify import (
    SentenceBuffer,
    attribute,
    check_sentence,
    cited_numbers,
    matches_language,
    split_sentences,
)

PASSAGES = [
    "AI関連企業の登録件数は2025年に490万社に達した。",
    "2024年に米国の民間AI投資額は1091億ドルで、中国の93億ドルの約12倍。",
    "人型ロボットの「脳」を開発する。",
]
TEXT = "登録件数は490万社に達した[1]。米国は1091億ドル[2]。\n- 「脳」を開発する [3]. Done"


def test_sentences_keep_their_markers_and_join_back() -> None:
    sentences = split_sentences(TEXT)
    assert "".join(sentences) == TEXT
    assert sentences[:2] == ["登録件数は490万社に達した[1]。", "米国は1091億ドル[2]。\n"]
    assert sentences[2] == "- 「脳」を開発する [3]. "


def test_the_buffer_gives_the_same_sentences_however_the_text_is_split() -> None:
    expected = split_sentences(TEXT)
    for size in range(1, 12):
        buffer = SentenceBuffer()
        out = [s for i in range(0, len(TEXT), size) for s in buffer.feed(TEXT[i : i + size])]
        assert [*out, *buffer.flush()] == expected, size


def test_a_marker_being_written_stays_with_its_sentence() -> None:
    buffer = SentenceBuffer()
    assert list(buffer.feed("It grew. [")) == []
    assert list(buffer.feed("1] Then")) == ["It grew. [1] "]


def test_cited_numbers_read_every_marker_form() -> None:
    assert cited_numbers("a [1][3] b [2, 4] c ［５］ d [2、6]") == (1, 3, 2, 4, 5, 6)


@pytest.mark.parametrize(
    ("sentence", "language", "reason"),
    [
        ("登録件数は2025年に490万社に達した[1]。", "ja", None),
        ("It reached 4.9 million companies in 2025 [1].", "en", None),  # 490万 = 4.9 million
        ("US private AI investment was $109.1 billion, about 12 times China's [2].", "en", None),
        ("2024年美国私人AI投资为1091亿美元 [2]。", "zh", None),
        ("The report calls it the robot “脳” [3].", "en", None),
        ("1. It reached 4.9 million [1].", "en", None),  # a list number is not a claim
        ("The report does not cover this.", "en", None),
        ("登録件数は490万社に達した[4]。", "ja", "cites [4], which is not one of the 3 passages"),
        ("登録件数は2025年に520万社に達した[1]。", "ja", "number 520万 = 5200000 is not in the passages it cites"),
        ("登録件数は490万社に達した[2]。", "ja", "number 490万 = 4900000 is not in the passages it cites"),  # wrong one
        ("登録件数は490万社に達した。", "ja", "number 490万 = 4900000 is not in any cited passage (it cites none)"),
        # The scale counts, not the digits: 93億ドル is $9.3 billion, 1091億ドル is $109.1 billion.
        (
            "China invested $93 billion [2].",
            "en",
            "number $93 billion = 93000000000 usd is not in the passages it cites",
        ),
        (
            "The US invested $1,091 million [2].",
            "en",
            "number $1,091 million = 1091000000 usd is not in the passages it cites",
        ),
        ("The US invested about $109 billion [2].", "en", None),  # a rounding of $109.1 billion
        ("The year was 2030 [1].", "en", "number 2030 is not in the passages it cites"),
        ("報告書は「AIの脳を作る」と述べている[3]。", "ja", "quote “AIの脳を作る” is not in the passages it cites"),
        ("登録件数は490万社に達した[1]。", "en", "not written in en"),
        ("The number of companies reached 4.9 million [1].", "ja", "not written in ja"),
        ("登録件数は490万社に達した[1]。", "zh", "not written in zh"),
    ],
)
def test_check_sentence(sentence: str, language: str, reason: str | None) -> None:
    assert check_sentence(sentence, PASSAGES, language).reason == reason


def test_a_claim_is_recited_to_the_passage_that_holds_it() -> None:
    assert attribute("登録件数は490万社に達した。", PASSAGES, "ja") == "登録件数は490万社に達した[1]。"
    assert attribute("登録件数は490万社に達した［２］。", PASSAGES, "ja") == "登録件数は490万社に達した[1]。"
    assert (
        attribute("It reached 4.9 million companies [3].\n", PASSAGES, "en")
        == "It reached 4.9 million companies [1].\n"
    )
    assert attribute("登録件数は2025年に520万社に達した[1]。", PASSAGES, "ja") is None  # in no passage
    assert attribute("The report does not cover this.", PASSAGES, "en") is None  # nothing to check


def test_a_trillion_is_not_a_million() -> None:
    core = ["中国のAIコア産業の規模は2025年に約1.2兆元に達した。"]
    assert check_sentence("It reached about 1.2 trillion yuan [1].", core, "en").reason is None
    wrong = check_sentence("China's core AI industry reached approximately 1.2 million yuan [1].", core, "en")
    assert wrong.reason == "number 1.2 million yuan = 1200000 cny is not in the passages it cites"


def test_language_ignores_quoted_report_words() -> None:
    assert matches_language("The report names “人型ロボットの脳” as the first goal [3].", "en")
    assert not matches_language("报告提到了机器人的大脑", "ja")
