import json
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.eval import (
    RULED_OUT,
    Question,
    _strength,
    calibrate_threshold,
    is_relevant,
    load_questions,
    naive_chunks,
    ranking_metrics,
    run_evaluation,
)


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


def test_run_evaluation_compares_modes(fake_pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
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
    assert set(report["retrieval"]) == {"bm25", "full"}
    assert report["retrieval"]["full"]["ja"]["n"] == 1
    assert 0 <= report["answers"]["all"]["key_facts"] <= 1


def test_rule_abstentions_count_against_the_calibration_budget(fake_pipeline) -> None:  # type: ignore[no-untyped-def]
    # A year the report never mentions abstains whatever the threshold: calibration must see it as refused.
    assert _strength(fake_pipeline, "1999年のロボット政策の目標は？") == RULED_OUT
    assert _strength(fake_pipeline, "ロボット政策の目標は？") > RULED_OUT
