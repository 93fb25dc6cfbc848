"""Follow-up questions (rag/followup.py): read with the previous question, or rewritten by the LLM when it can."""

from __future__ import annotations

from rag.followup import standalone_question

HISTORY = [
    {"role": "user", "content": "ロボット政策の目標は？"},
    {"role": "assistant", "content": "報告書には次のように記されています。…"},
]


def test_a_short_follow_up_is_joined_to_the_previous_user_question() -> None:
    assert standalone_question("では2027年は？", "ja", HISTORY) == "ロボット政策の目標は？ では2027年は？"
    english = [{"role": "user", "content": "How big is China's AI industry?"}]
    assert standalone_question("And in 2024?", "en", english) == "How big is China's AI industry? And in 2024?"


def test_a_standalone_question_or_no_history_is_left_alone() -> None:
    long = "中国のAIコア産業の規模は2025年にどのくらいに達しましたか？"
    assert standalone_question(long, "ja", HISTORY) == long
    assert standalone_question("では2027年は？", "ja", None) == "では2027年は？"
    only_answers = [{"role": "assistant", "content": "…"}, {"role": "user", "content": "  "}]
    assert standalone_question("では2027年は？", "ja", only_answers) == "では2027年は？"


def test_an_opener_marks_a_follow_up_whatever_its_length() -> None:
    question = "and what does the report say about the targets for humanoid robots in that plan?"
    assert len(question) > 40
    assert standalone_question(question, "en", HISTORY) == f"ロボット政策の目標は？ {question}"


def test_the_rewrite_is_used_when_it_answers_and_the_rule_when_it_does_not() -> None:
    asked: list[tuple[str, str]] = []

    def rewrite(previous: str, question: str) -> str | None:
        asked.append((previous, question))
        return "2027年のロボット政策の目標は？"

    assert standalone_question("では2027年は？", "ja", HISTORY, rewrite) == "2027年のロボット政策の目標は？"
    assert asked == [("ロボット政策の目標は？", "では2027年は？")]
    assert (
        standalone_question("では2027年は？", "ja", HISTORY, lambda p, q: None)
        == "ロボット政策の目標は？ では2027年は？"
    )
