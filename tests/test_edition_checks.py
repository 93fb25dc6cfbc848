"""The checks a translated unit must pass (rag/edition_checks.py): numbers with their scale and unit, Latin-script
names, table cells, nothing left untranslated."""

from __future__ import annotations

from rag.edition_checks import translation_problems

ORIGINAL = "2024年に米国の民間AI投資額は1091億ドルで、中国の93億ドルの約12倍。"


def test_a_faithful_translation_passes() -> None:
    english = "In 2024, US private AI investment was $109.1 billion, about 12 times China's $9.3 billion."
    assert translation_problems(ORIGINAL, english, "en") == []
    assert translation_problems(ORIGINAL, "2024年美国民间AI投资额为1091亿美元，约为中国93亿美元的12倍。", "zh") == []


def test_a_scale_error_is_reported_with_the_right_value() -> None:
    english = "In 2024, US private AI investment was $1,091 million, about 12 times China's $93 billion."
    assert translation_problems(ORIGINAL, english, "en") == [
        "number 1091億ドル = $109.1 billion is missing",
        "number 93億ドル = $9.3 billion is missing",
    ]


def test_names_cells_and_leftover_japanese() -> None:
    assert translation_problems("DeepSeekとGPT-4.5", "DeepSeek and GPT-4", "en") == [
        "number 4.5 is missing",
        "name GPT-4.5 is missing",
    ]
    assert translation_problems(" | ②農業 | 耕地", "Agriculture | land", "en") == [
        "table cells: the original has 3, the translation 2"
    ]
    assert translation_problems("AI3年アクション", "AI 3-year action", "en") == []  # AI and 3年, not a name AI3
    assert translation_problems("人型ロボット", "人型ロボット", "zh") == ["Japanese kana left untranslated: ロボット"]
    assert translation_problems("人型", "Humanoid 人型", "en") == ["Chinese characters left in the English: 人型"]
    assert translation_problems("何か", " ", "en") == ["the translation is empty"]


def test_words_and_numerals_may_spell_out_digits() -> None:
    assert translation_problems("第14次5か年計画の3段階", "the three stages of the 14th Five-Year Plan", "en") == []
    assert translation_problems("第14次5か年計画", "第十四个五年规划", "zh") == []
