"""Follow-up questions (rag/followup.py): rewritten by substituting into the previous question, by the LLM when
one is configured and answers, else joined to it."""

from __future__ import annotations

import pytest

from rag.followup import core, standalone_question, substitute

HISTORY = [
    {"role": "user", "content": "ロボット政策の目標は？"},
    {"role": "assistant", "content": "…"},
]


def asked(previous: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": previous}, {"role": "assistant", "content": ""}]


@pytest.mark.parametrize(
    ("previous", "followup", "language", "standalone"),
    [
        # a year, and a year relative to the previous one
        (
            "What was the size of China's core AI industry in 2025?",
            "and in 2024?",
            "en",
            "What was the size of China's core AI industry in 2024?",
        ),
        ("2025年の中国のAIコア産業の規模は？", "2023年は？", "ja", "2023年の中国のAIコア産業の規模は？"),
        # (kept relative, as the report writes it: 前年の約9千万元 beside 2025年)
        ("中国AIコア産業の2025年の規模は？", "前年は？", "ja", "中国AIコア産業の2025年の前年の規模は？"),
        ("2025年中国AI核心产业规模是多少？", "那上一年呢？", "zh", "2025年的上一年中国AI核心产业规模是多少？"),
        (
            "What was the size of China's core AI industry in 2025?",
            "And the year before?",
            "en",
            "What was the size of China's core AI industry in the year before 2025?",
        ),
        # a month alone keeps the year
        (
            "2024年5月にリリースされたDeepSeekのモデルは？",
            "12月は？",
            "ja",
            "2024年12月にリリースされたDeepSeekのモデルは？",
        ),
        (
            "Which OpenAI model was released in April 2025?",
            "And in August?",
            "en",
            "Which OpenAI model was released in August 2025?",
        ),
        # a name for a name across scripts, before the word they share
        ("对比表中，豆包系列的主要特点是什么？", "那Gemini系列呢？", "zh", "对比表中，Gemini系列的主要特点是什么？"),
        # a date with its month
        (
            "2024年7月に工信部が出した指針は？",
            "では2023年10月は？",
            "ja",
            "2023年10月に工信部が出した指針は？",
        ),
        # a country
        ("中国的AI私人投资是多少？", "那美国呢？", "zh", "美国的AI私人投资是多少？"),
        (
            "How much did China invest privately in AI in 2024?",
            "And the UK?",
            "en",
            "How much did UK invest privately in AI in 2024?",
        ),
        # a product name, an ordinal, a quoted term
        ("When was DeepSeek-V3 released?", "And DeepSeek-V2?", "en", "When was DeepSeek-V2 released?"),
        (
            "Claude-3.5 Sonnetはいつリリースされましたか？",
            "Claude Opus 4は？",
            "ja",
            "Claude Opus 4はいつリリースされましたか？",
        ),
        (
            "審査登録で、第1回に通過した製品は何件でしたか？",
            "第2回は何件？",
            "ja",
            "審査登録で、第2回に通過した製品は何件でしたか？",
        ),
        ("在“API调用”模式中，收费方式是什么？", "那“解决方案”模式呢？", "zh", "在“解决方案”模式中，收费方式是什么？"),
        # a word in the same frame: the one before what both share is swapped
        (
            "上流で、ストレージの代表企業はどこですか？",
            "じゃあバッテリーの代表企業は？",
            "ja",
            "上流で、バッテリーの代表企業はどこですか？",
        ),
        (
            "What are the API input prices of GPT-4.5?",
            "And the output price?",
            "en",
            "What are the API output prices of GPT-4.5?",
        ),
    ],
)
def test_a_follow_up_is_substituted_into_the_previous_question(
    previous: str, followup: str, language: str, standalone: str
) -> None:
    assert standalone_question(followup, language, asked(previous)) == standalone


def test_new_content_joins_a_substituted_question() -> None:
    got = substitute("Who issued China's AI governance principles in June 2019?", "And the July 2020 standard guide?")
    assert got == "Who issued China's AI governance principles in July 2020? standard guide"


def test_without_anything_to_substitute_the_follow_up_joins_the_previous_question() -> None:
    assert standalone_question("では2027年は？", "ja", HISTORY) == "ロボット政策の目標は？ 2027年"
    english = [{"role": "user", "content": "How big is China's AI industry?"}]
    assert standalone_question("Which field came second?", "en", english) == (
        "How big is China's AI industry? Which field came second"
    )


def test_openers_and_tails_are_not_content() -> None:
    assert core("And in 2024?") == "2024"
    assert core("じゃあバッテリーの代表企業は？") == "バッテリーの代表企業"
    assert core("那美国呢？") == "美国"


def test_a_standalone_question_or_no_history_is_left_alone() -> None:
    long = "中国のAIコア産業の規模は2025年にどのくらいに達しましたか？"
    assert standalone_question(long, "ja", HISTORY) == long
    assert standalone_question("では2027年は？", "ja", None) == "では2027年は？"
    only_answers = [{"role": "assistant", "content": "…"}, {"role": "user", "content": "  "}]
    assert standalone_question("では2027年は？", "ja", only_answers) == "では2027年は？"


def test_an_opener_marks_a_follow_up_whatever_its_length() -> None:
    question = "and what does the report say about the targets for humanoid robots in that plan?"
    assert len(question) > 40
    assert standalone_question(question, "en", HISTORY).startswith("ロボット政策の目標は？ ")


def test_the_rewrite_is_used_when_it_answers_and_the_rule_when_it_does_not() -> None:
    calls: list[tuple[str, str]] = []

    def rewrite(previous: str, question: str) -> str | None:
        calls.append((previous, question))
        return "2027年のロボット政策の目標は？"

    assert standalone_question("では2027年は？", "ja", HISTORY, rewrite) == "2027年のロボット政策の目標は？"
    assert calls == [("ロボット政策の目標は？", "では2027年は？")]
    assert standalone_question("では2027年は？", "ja", HISTORY, lambda p, q: None) == "ロボット政策の目標は？ 2027年"
