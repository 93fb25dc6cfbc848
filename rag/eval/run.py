"""Running the evaluation: every retrieval mode side by side, then the full pipeline's answers, each on the
tuning and the held-out test part of the question set; abstention thresholds are fitted on the tuning part only."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.eval.metrics import answer_metrics, is_relevant, kind_metrics, ranking_metrics
from rag.eval.questions import SPLITS, Question
from rag.lang import LANGUAGES
from rag.retrieve import MODES as RETRIEVAL_MODES

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

MODES = ("baseline", *RETRIEVAL_MODES)  # the baseline: fixed 500-character windows, dense retrieval only
NAIVE_CHUNK_CHARS = 500
# Questions whose answer is not a passage found by search: the report's metadata, a help reply.
NOT_RETRIEVED = ("meta", "help")

SearchFn = Callable[[Question], list[str]]  # question -> ranked passage texts (top 10)


def retrieval_questions(questions: Sequence[Question]) -> list[Question]:
    return [q for q in questions if q.answerable and q.kind not in NOT_RETRIEVED]


def evaluate_retrieval(questions: Sequence[Question], search: SearchFn, all_passages: Sequence[str]) -> dict[str, Any]:
    """Metrics per language and overall for one retrieval mode."""
    rows: dict[str, list[tuple[list[bool], int]]] = {lang: [] for lang in LANGUAGES}
    lengths: list[int] = []
    for q in retrieval_questions(questions):
        ranked = search(q)[:10]
        lengths.extend(len(p) for p in ranked[:5])
        total = sum(is_relevant(p, q) for p in all_passages)
        rows[q.language].append(([is_relevant(p, q) for p in ranked], total))
    out: dict[str, Any] = {}
    for lang, items in rows.items():
        out[lang] = ranking_metrics([r for r, _ in items], [t for _, t in items])
    everything = [item for items in rows.values() for item in items]
    out["all"] = ranking_metrics([r for r, _ in everything], [t for _, t in everything])
    out["all"]["mean_passage_chars"] = statistics.mean(len(p) for p in all_passages)
    out["all"]["mean_retrieved_chars"] = statistics.mean(lengths) if lengths else 0.0
    return out


def naive_chunks(text: str, size: int = NAIVE_CHUNK_CHARS) -> list[str]:
    """The baseline: fixed windows of raw text, blind to sections and tables."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def dense_search_over(texts: Sequence[str], vectors: np.ndarray, encode_query: Callable[[str], np.ndarray]) -> SearchFn:
    """Brute-force dense search over an ad-hoc passage list (used for the naive baseline)."""

    def search(question: Question) -> list[str]:
        sims = vectors @ encode_query(question.question)
        return [texts[i] for i in np.argsort(-sims)[:10]]

    return search


def _pipeline_search(pipeline: Pipeline, mode: str) -> SearchFn:
    return lambda q: [h.chunk.text for h in pipeline.search(q.question, k=10, mode=mode, history=q.history).hits]


def by_split(questions: Sequence[Question]) -> dict[str, list[Question]]:
    return {split: [q for q in questions if q.split == split] for split in SPLITS}


def run_evaluation(
    pipeline: Pipeline,
    questions: Sequence[Question],
    modes: Sequence[str] = MODES,
    calibrate: bool = False,
    splits: Sequence[str] = SPLITS,
) -> dict[str, Any]:
    """Every retrieval mode side by side in one run, then the full pipeline's answers, for the tuning and the
    test part each (or only those in ``splits``). With ``calibrate`` the abstention thresholds are fitted on
    the tuning part first."""
    chunks = pipeline.index.chunks
    passages = [c.text for c in chunks]
    parts = {split: qs for split, qs in by_split(questions).items() if split in splits}
    if calibrate and "tune" not in parts:
        parts = {"tune": by_split(questions)["tune"], **parts}
    report: dict[str, Any] = {
        "questions": len(questions),
        "splits": {split: len(qs) for split, qs in parts.items()},
        "retrieval": {split: {} for split in parts},
    }
    for mode in modes:
        if mode == "baseline":
            naive = naive_chunks(pipeline.report.text)
            vectors = pipeline.embedder.encode_passages(naive)
            search = dense_search_over(naive, vectors, lambda q: pipeline.embedder.encode_queries([q])[0])
            all_passages: Sequence[str] = naive
        else:
            search, all_passages = _pipeline_search(pipeline, mode), passages
        for split, qs in parts.items():
            report["retrieval"][split][mode] = evaluate_retrieval(qs, search, all_passages)
    answering = pipeline
    if calibrate:
        signals = [(q, _strength(pipeline, q)) for q in parts["tune"]]
        report["calibration"] = fit_thresholds([q for q, s in signals if s is not None],
                                               [s for _, s in signals if s is not None])  # fmt: skip
        # A pipeline of its own answers with the fitted thresholds: the caller's is left as it was.
        answering = pipeline.with_thresholds(report["calibration"]["thresholds"])
    # A passage as the report shows it: under its headings (an answer may lead with a numbered one).
    texts = {c.id: f"{c.context}\n{c.text}" for c in chunks}
    report["answers"], report["kinds"] = {}, {}
    for split, qs in parts.items():
        answers = [answering.ask(q.question, history=q.history) for q in qs]
        report["answers"][split] = answer_metrics(qs, answers, texts)
        report["kinds"][split] = kind_metrics(qs, answers)
    report["thresholds"] = dict(answering.answerer.config.abstain_below)
    return report


def _strength(pipeline: Pipeline, question: Question) -> float | None:
    """How well the report covers the question, as the answerer measures it (below any threshold when a rule
    refuses anyway, so those refusals use the budget too); None for questions that never abstain (help, the
    report's metadata, a chapter or section asked for as a whole)."""
    scored, hits = pipeline.retrieve_for_answer(question.question, history=question.history)
    if scored.intent.kind in ("help", "meta") or scored.intent.broad:
        return None
    return pipeline.answerer.evidence(pipeline.standalone(question.question, question.history), scored, hits).coverage


# Refusing an answer the report holds is the costlier mistake. Of the 3% of answerable questions the target
# allows to be refused, the coverage cut may take half, as cross-validation on the tuning questions estimates it
# (a cut fitted and scored on the same questions flatters itself); the rules (names, numbers) take the rest.
MAX_WRONG_ABSTENTION = 0.015
BUDGETS = tuple(i / 200 for i in range(4))  # budgets tried when fitting: 0%, 0.5%, 1%, 1.5%
FOLDS = 5


def calibrate_threshold(answerable: Sequence[float], unanswerable: Sequence[float], max_wrong: float) -> float:
    """The coverage cut that refuses as many ``unanswerable`` questions as refusing at most ``max_wrong`` of
    ``answerable`` allows; the lowest such cut, so no answerable question is refused for nothing in return."""
    scores = sorted(set(answerable) | set(unanswerable))
    candidates = [scores[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(scores)]
    best, caught = candidates[0], 0
    for t in candidates:
        within = sum(s < t for s in answerable) / max(len(answerable), 1) <= max_wrong
        if within and sum(s < t for s in unanswerable) > caught:
            best, caught = t, sum(s < t for s in unanswerable)
    return float(best)


def cross_validated_budget(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, float]:
    """The largest budget whose cut, fitted on four fifths of the questions and applied to the fifth, wrongly
    refuses at most MAX_WRONG_ABSTENTION of them across the folds; and that estimated rate."""
    chosen, estimate = 0.0, 0.0
    for budget in BUDGETS:
        wrong = total = 0
        for fold in range(FOLDS):
            fit_ans = [s for i, s in enumerate(answerable) if i % FOLDS != fold]
            fit_una = [s for i, s in enumerate(unanswerable) if i % FOLDS != fold]
            held = [s for i, s in enumerate(answerable) if i % FOLDS == fold]
            cut = calibrate_threshold(fit_ans, fit_una, budget) if fit_ans and fit_una else float("-inf")
            wrong += sum(s < cut for s in held)
            total += len(held)
        rate = wrong / max(total, 1)
        if rate <= MAX_WRONG_ABSTENTION:
            chosen, estimate = budget, rate
    return chosen, estimate


def fit_thresholds(questions: Sequence[Question], strengths: Sequence[float]) -> dict[str, Any]:
    """Per-language abstention thresholds fitted on ``questions`` (the tuning part), each with the budget chosen
    by cross-validation and its estimated rate of wrong refusals."""
    thresholds, budgets = {}, {}
    for lang in LANGUAGES:
        ans = [s for q, s in zip(questions, strengths, strict=True) if q.language == lang and q.answerable]
        una = [s for q, s in zip(questions, strengths, strict=True) if q.language == lang and q.refusable]
        if not (ans and una):
            thresholds[lang] = 0.0
            continue
        budget, estimate = cross_validated_budget(ans, una)
        thresholds[lang] = calibrate_threshold(ans, una, budget)
        budgets[lang] = {"budget": budget, "cross_validated_wrong_abstention": round(estimate, 4)}
    return {"thresholds": thresholds, "budgets": budgets, "fitted_on": "tune", "questions": len(questions)}
