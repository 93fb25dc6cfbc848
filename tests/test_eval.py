import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer import RULED_OUT
from rag.errors import InputError
from rag.eval import (
    Question,
    answer_metrics,
    calibrate_threshold,
    is_relevant,
    kind_metrics,
    load_questions,
    naive_chunks,
    ranking_metrics,
    render_table,
    run_evaluation,
)
from rag.eval.run import _strength
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
    # and no higher than that buys: 0.81 would cost an answerable question and catch nothing more
    assert t < 0.80


def test_calibration_refuses_no_answerable_question_for_nothing() -> None:
    assert calibrate_threshold([0.5, 0.6, 0.7], [0.55], max_wrong=0.5) == pytest.approx(0.575)
    assert calibrate_threshold([0.5, 0.6, 0.7], [0.9], max_wrong=0.5) < 0.5  # nothing to catch: refuse none


def test_naive_chunks_cover_the_text() -> None:
    assert "".join(naive_chunks("あ" * 1234, 500)) == "あ" * 1234


def test_bad_question_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "a", "language": "ja", "question": "?"}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(InputError, match=":2:"):
        load_questions(path)
    path.write_text(json.dumps({"id": "a", "language": "ja", "question": "?", "split": "dev"}) + "\n")
    with pytest.raises(InputError, match=":1: split must be one of tune, test"):
        load_questions(path)


ROBOT = Question(
    "j1", "ja", "ロボット政策の2027年の目標は？", True, "1-1", ("2027年までに世界の先進レベルに達する",), ("2027年",)
)


def test_run_evaluation_compares_modes_on_each_split(fake_pipeline: Pipeline) -> None:
    questions = [
        ROBOT,
        replace(ROBOT, id="j2", split="test"),
        Question("u1", "ja", "日本の天気は？", False, kind="unanswerable", split="test"),
    ]
    report = run_evaluation(fake_pipeline, questions, modes=("bm25", "full"))
    assert report["splits"] == {"tune": 1, "test": 2}
    assert list(report["retrieval"]["tune"]) == ["bm25", "full"]
    assert report["retrieval"]["test"]["full"]["ja"]["n"] == 1 and report["retrieval"]["test"]["full"]["en"]["n"] == 0
    # The answerable question is answered from its table row, which holds the key fact.
    assert report["answers"]["tune"]["ja"]["key_facts"] == 1.0 and report["answers"]["tune"]["ja"]["answerable"] == 1
    # Japan appears nowhere in the report: refused.
    assert report["answers"]["test"]["ja"]["unanswerable"] == 1
    assert report["answers"]["test"]["ja"]["abstention_recall"] == 1.0
    assert report["kinds"]["test"] == {
        "fact": {"n": 1, "right": 1, "rate": 1.0},
        "unanswerable": {"n": 1, "right": 1, "rate": 1.0},
    }
    table = render_table(report)
    assert "tune:   1" in table and "test:   1" in table
    only_tune = run_evaluation(fake_pipeline, questions, modes=("bm25",), splits=("tune",))
    assert list(only_tune["retrieval"]) == ["tune"] and list(only_tune["answers"]) == ["tune"]


def test_answer_metrics_look_at_the_direct_answer_only() -> None:
    q = [
        Question("a", "ja", "?", True, evidence=("490万社に達した",), key_facts=("490万社",)),
        Question("b", "ja", "?", True, evidence=("約1.2兆元",), key_facts=("1.2兆元", "2025年")),
        Question("c", "ja", "?", True, key_facts=("100倍",)),
        Question("d", "en", "?", False, kind="unanswerable"),
        Question("e", "en", "?", False, kind="unanswerable"),
        Question("f", "en", "hi", False, kind="help"),
    ]
    cite = Citation(1, "p1", "2-1", "規模", "490万社に達した")
    other = Citation(2, "p1", "2-1", "規模", "AI関連企業の登録件数は")
    answers = [
        # key fact in the direct answer; its support holds no evidence
        _answer("…490万社に達した [1]\n- “AI関連企業の登録件数は” [2]", (cite, other)),
        # a key fact only in the supporting quote does not count; its citation is not in the passage
        _answer("…[1] [2]", (replace(cite, quote="not in the passage"), replace(cite, n=2, quote="1.2兆元 2025年"))),
        _answer("申し訳ありませんが…", (), abstained=True),  # wrongly refused
        _answer("The report does not cover this question.", (), abstained=True),  # rightly refused
        _answer("…490万社 [1]", (cite,)),  # answered an unanswerable one
        _answer("Ask me about the report…", (), intent="help"),  # help is neither refused nor answered
    ]
    m = answer_metrics(q, answers, {"p1": "AI関連企業の登録件数は490万社に達した。"})
    assert m["ja"]["key_facts"] == pytest.approx(1 / 3) and m["ja"]["wrong_abstention"] == pytest.approx(1 / 3)
    assert m["ja"]["valid_citations"] == 0.5  # of the two answered: one quote is not in its passage
    assert m["ja"]["quotes_per_answer"] == 2.0 and m["ja"]["quotes_with_evidence"] == 0.25
    assert m["en"]["abstention_recall"] == 0.5 and m["all"]["abstention_precision"] == 0.5
    assert (m["all"]["answerable"], m["all"]["unanswerable"]) == (3, 2)
    kinds = kind_metrics(q, answers)
    assert kinds["help"] == {"n": 1, "right": 1, "rate": 1.0} and kinds["unanswerable"]["right"] == 1


def test_a_whole_summary_is_the_direct_answer() -> None:
    q = Question("s", "en", "Summarize chapter 1", True, "1のまとめ", ("連動している",), ("連動",), kind="summary")
    parts = (Citation(1, "p", "1のまとめ", "t", "a", "政策は"), Citation(2, "p", "1のまとめ", "t", "b", "連動している"))
    summary = Answer("?", "en", "…", False, parts, (), direct=2, intent="scoped")
    assert answer_metrics([q], [summary], {"p": "政策は連動している"})["en"]["key_facts"] == 1.0
    assert kind_metrics([q], [summary])["summary"]["right"] == 1
    assert (
        kind_metrics([q], [replace(summary, citations=(replace(parts[0], section_id="2-1"),))])["summary"]["right"] == 0
    )


def test_calibration_fits_on_the_tuning_part_and_answers_with_its_own_pipeline(fake_pipeline: Pipeline) -> None:
    questions = [
        Question("j", "ja", "ロボット政策の2027年の目標は？", True),
        Question("u", "ja", "人型ロボットの天気は？", False, kind="unanswerable"),
        Question("t", "ja", "人型ロボットの映画は？", False, kind="unanswerable", split="test"),
    ]
    before = dict(fake_pipeline.answerer.config.abstain_below)
    report = run_evaluation(fake_pipeline, questions, modes=("bm25",), calibrate=True)
    assert fake_pipeline.answerer.config.abstain_below == before  # the caller's pipeline is left alone
    assert report["calibration"]["fitted_on"] == "tune" and report["calibration"]["questions"] == 2
    fitted = report["calibration"]["thresholds"]
    assert report["thresholds"] == {**before, **fitted} and fitted["ja"] > before["ja"]
    calibrated = fake_pipeline.with_thresholds(fitted)
    assert (
        calibrated.retriever is fake_pipeline.retriever
        and calibrated.answerer.config.abstain_below["ja"] == fitted["ja"]
    )


def _answer(text: str, citations: tuple[Citation, ...], abstained: bool = False, intent: str = "content") -> Answer:
    return Answer("?", "ja", text, abstained, citations, (), intent=intent)


def test_rule_abstentions_count_against_the_calibration_budget(fake_pipeline: Pipeline) -> None:
    # A year the report never mentions abstains whatever the threshold: calibration must see it as refused.
    assert _strength(fake_pipeline, Question("y", "ja", "1999年のロボット政策の目標は？", False)) == RULED_OUT
    assert (_strength(fake_pipeline, Question("r", "ja", "ロボット政策の目標は？", True)) or 0) > RULED_OUT
    # Questions that never abstain (help, a chapter asked for whole) are not calibrated on.
    assert _strength(fake_pipeline, Question("h", "ja", "こんにちは", False, kind="help")) is None
    assert _strength(fake_pipeline, Question("c", "ja", "第1章のまとめは？", True, kind="summary")) is None


def test_a_marked_amount_is_right_when_a_key_fact_states_it() -> None:
    q = Question("m", "en", "How many companies?", True, evidence=("6000社に増加",), key_facts=("6000社",))
    shares = Question("s", "en", "What share?", True, evidence=("40%に当たる",), key_facts=("40%",))
    cite = Citation(1, "p", "2-2", "t", "…6,000…", "6000社に増加")
    right = Answer("?", "en", "…**6,000** [1]", False, (cite,), (), span="6,000")
    wrong = replace(right, span="4.9 million")
    unmarked = replace(right, span=None)
    m = answer_metrics(
        [q, q, q, shares], [right, wrong, unmarked, replace(right, span="9.3 billion")], {"p": "6000社に増加"}
    )
    # the unmarked answer is not judged; a count is never a share's right mark
    assert m["en"]["marked_amounts"] == 3 and m["en"]["marks_right"] == pytest.approx(1 / 3)
