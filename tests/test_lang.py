import pytest

from rag.errors import InputError, QuestionTooLong
from rag.lang import clean_question, detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("中国のAIコア産業の規模は?", "ja"),
        ("中国AI産業規模", "ja"),  # kanji only, Japanese forms
        ("GPT-4.5の価格は", "ja"),
        ("中国人工智能核心产业的规模是多少？", "zh"),
        ("人形机器人政策", "zh"),
        ("DeepSeek是什么", "zh"),
        ("中國人工智慧產業的規模為何？", "zh"),  # traditional Chinese
        ("How large is China's core AI industry?", "en"),
        ("What share does 中国 have of AI patents?", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_clean_question_normalizes_and_strips_controls() -> None:
    assert clean_question("  ＡＩ\u200f の\x00規模\u202e  は？ ", 100) == "AI の規模 は?"


@pytest.mark.parametrize("bad", ["", "   \n\t", "👍🔥", "?!…", "\u200f\u200e"])
def test_clean_question_rejects_empty_or_symbol_only(bad: str) -> None:
    with pytest.raises(InputError):
        clean_question(bad, 100)


def test_clean_question_rejects_too_long() -> None:
    with pytest.raises(QuestionTooLong, match="shorten"):
        clean_question("あ" * 101, 100)


def test_lone_surrogate_is_dropped() -> None:
    assert clean_question("AI\ud800規模", 100) == "AI規模"
