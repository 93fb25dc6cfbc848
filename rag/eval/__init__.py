"""Evaluation over the question set: retrieval per mode and language, answers and per-kind outcomes, each on
the tuning part and the held-out test part."""

from rag.eval.metrics import answer_metrics, is_relevant, kind_metrics, ranking_metrics
from rag.eval.questions import KINDS, SPLITS, Question, load_questions
from rag.eval.report import plot_curves, render_table
from rag.eval.run import (
    MODES,
    calibrate_threshold,
    evaluate_retrieval,
    fit_thresholds,
    naive_chunks,
    run_evaluation,
)

__all__ = [
    "KINDS",
    "MODES",
    "SPLITS",
    "Question",
    "answer_metrics",
    "calibrate_threshold",
    "evaluate_retrieval",
    "fit_thresholds",
    "is_relevant",
    "kind_metrics",
    "load_questions",
    "naive_chunks",
    "plot_curves",
    "ranking_metrics",
    "render_table",
    "run_evaluation",
]
