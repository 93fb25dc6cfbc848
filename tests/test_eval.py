import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.eval import (
    RULED_OUT,
    Question,
    _strength,
    answer_metrics,
    calibrate_threshold,
    is_relevant,
    load_questions,
    naive_chunks,
    ranking_metrics,
    run_evaluation,
)
from rag.pipeline import Pipeline
from rag.types import Answer, Citation


def test_ranking_metrics_by_hand() -> None:
    # First relevant at rank 1, at rank 3, and never.
    m = ranking_metrics([[True, False], [False, False, True], [False]], [1, 1, 1])
    assert m["hit@1"] == pytest.approx(1 / 3)
    assert m["hit@5"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 0.5) / 3)
    assert m["curve"][0] == pytest.approx(1 / 3) and m["curve"][2] == pytest.approx(2 / 3)


def test_relevance_ignores_whitespace() -> None:
    q = Question("x", "ja", "?", True, evidence=("約1.2兆元に達している",))
    assert is_relevant("規模は約1.2兆元に\n達している", q)
    assert not is_relevant("規模は約1兆元", q)


def test_calibration_keeps_wrong_abstentions_within_budget() -> None:
    answerable = [0.80 + i * 0.001 for i in range(100)]
    unanswerable = [0.70, 0.75, 0.81, 0.85]
    t = calibrate_threshold(answerable, unanswerable, max_wrong=0.05)
    assert sum(s < t for s in answerable) <= 5
    assert t > 0.75  # both clearly low ones are caught


def test_naive_chunks_cover_the_text() -> None:
    assert "".join(naive_chunks("あ" * 1234, 500)) == "あ" * 1234


def test_bad_question_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "a", "language": "ja", "question": "?"}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(InputError, match=":2:"):
        load_questions(path)


def test_run_evaluation_compares_modes(fake_pipeline: Pipeline) -> None:
    questions = [
        Question(
            "j1",
            "ja",
            "ロボット政策の2027年の目標は？",
            True,
            "1-1",
            ("2027年までに世界の先進レベルに達する",),
            ("2027年",),
        ),
        Question("u1", "ja", "日本の天気は？", False),
    ]
    report = run_evaluation(fake_pipeline, questions, modes=("bm25", "full"))
    assert list(report["retrieval"]) == ["bm25", "full"]
    assert report["retrieval"]["full"]["ja"]["n"] == 1 and report["retrieval"]["full"]["en"]["n"] == 0
    # The one answerable question is answered from its table row, which holds the key fact.
    answer = fake_pipeline.ask(questions[0].question)
    assert not answer.abstained and "2027年" in answer.text
    assert report["answers"]["ja"]["key_facts"] == 1.0 and report["answers"]["ja"]["answerable"] == 1
    assert report["answers"]["ja"]["unanswerable"] == 1
    assert report["thresholds"] == fake_pipeline.answerer.config.abstain_below


def test_answer_metrics_on_a_fixed_set() -> None:
    q = [
        Question("a", "ja", "?", True, key_facts=("490万社",)),
        Question("b", "ja", "?", True, key_facts=("1.2兆元", "2025年")),
        Question("c", "ja", "?", True, key_facts=("100倍",)),
        Question("d", "en", "?", False),
        Question("e", "en", "?", False),
    ]
    cite = Citation(1, "p1", "2-1", "規模", "490万社に達した")
    answers = [
        _answer("…490万社に達した [1]", (cite,)),  # key fact present, valid citation
        _answer("…1.2兆元 [1]", (replace(cite, quote="not in the passage"),)),  # one fact missing, bad citation
        _answer("申し訳ありませんが…", (), abstained=True),  # wrongly refused
        _answer("The report does not cover this question.", (), abstained=True),  # rightly refused
        _answer("…490万社 [1]", (cite,)),  # answered an unanswerable one
    ]
    m = answer_metrics(q, answers, {"p1": "AI関連企業の登録件数は490万社に達した。"})
    assert m["ja"]["key_facts"] == pytest.approx(1 / 3) and m["ja"]["wrong_abstention"] == pytest.approx(1 / 3)
    assert m["ja"]["valid_citations"] == 0.5  # of the two answered: one quote is not in its passage
    assert m["en"]["abstention_recall"] == 0.5 and m["all"]["abstention_precision"] == 0.5
    assert (m["all"]["answerable"], m["all"]["unanswerable"]) == (3, 2)


def test_calibration_answers_with_its_own_pipeline(fake_pipeline: Pipeline) -> None:
    questions = [
        Question("j", "ja", "ロボット政策の2027年の目標は？", True),
        Question("u", "ja", "日本の天気は？", False),
    ]
    before = dict(fake_pipeline.answerer.config.abstain_below)
    report = run_evaluation(fake_pipeline, questions, modes=("bm25",), calibrate=True)
    assert fake_pipeline.answerer.config.abstain_below == before  # the caller's pipeline is left alone
    fitted = report["calibration"]["thresholds"]
    assert report["thresholds"] == {**before, **fitted} and fitted["ja"] > before["ja"]
    calibrated = fake_pipeline.with_thresholds(fitted)
    assert (
        calibrated.retriever is fake_pipeline.retriever
        and calibrated.answerer.config.abstain_below["ja"] == fitted["ja"]
    )


def _answer(text: str, citations: tuple[Citation, ...], abstained: bool = False) -> Answer:
    return Answer("?", "ja", text, abstained, citations, ())


def test_rule_abstentions_count_against_the_calibration_budget(fake_pipeline) -> None:
    # A year the report never mentions abstains whatever the threshold: calibration must see it as refused.
    assert _strength(fake_pipeline, "1999年のロボット政策の目標は？") == RULED_OUT
    assert _strength(fake_pipeline, "ロボット政策の目標は？") > RULED_OUT
