"""Evaluation over the question set: retrieval metrics per mode and language, answer quality, calibration."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import InputError
from rag.lang import LANGUAGES
from rag.retrieve import MODES as RETRIEVAL_MODES
from rag.types import Answer

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

KS = tuple(range(1, 11))
MODES = ("baseline", *RETRIEVAL_MODES)  # the baseline: fixed 500-character windows, dense retrieval only
NAIVE_CHUNK_CHARS = 500


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    question: str
    answerable: bool
    section: str = ""
    evidence: tuple[str, ...] = ()
    key_facts: tuple[str, ...] = ()


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; a bad line is reported with its number."""
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read question set {path} ({exc}): give a UTF-8 JSONL file") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(
                Question(
                    id=str(data["id"]),
                    language=str(data["language"]),
                    question=str(data["question"]),
                    answerable=bool(data.get("answerable", True)),
                    section=str(data.get("section", "")),
                    evidence=tuple(data.get("evidence", ())),
                    key_facts=tuple(data.get("key_facts", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}:{number}: not a question object ({exc}): each line needs id, language, question"
            ) from exc
        if questions[-1].language not in LANGUAGES:
            raise InputError(f"{path}:{number}: language must be one of {', '.join(LANGUAGES)}")
    if not questions:
        raise InputError(f"{path} holds no questions")
    return questions


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def is_relevant(passage: str, question: Question) -> bool:
    """A passage is relevant when it contains one of the question's gold evidence spans."""
    flat = _norm(passage)
    return any(_norm(e) in flat for e in question.evidence)


def ranking_metrics(relevance: Sequence[Sequence[bool]], n_relevant: Sequence[int]) -> dict[str, Any]:
    """hit@k curve, MRR@10 and nDCG@10 (binary gains) over ranked relevance lists."""
    hits = {k: 0.0 for k in KS}
    mrr = ndcg = 0.0
    for rels, total in zip(relevance, n_relevant, strict=True):
        first = next((i for i, r in enumerate(rels[:10]) if r), None)
        for k in KS:
            hits[k] += first is not None and first < k
        if first is not None:
            mrr += 1.0 / (first + 1)
        dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(rels[:10]) if r)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(max(total, 1), 10)))
        ndcg += dcg / ideal
    n = max(len(relevance), 1)
    return {
        "n": len(relevance),
        "hit@1": hits[1] / n,
        "hit@5": hits[5] / n,
        "hit@10": hits[10] / n,
        "mrr@10": mrr / n,
        "ndcg@10": ndcg / n,
        "curve": [hits[k] / n for k in KS],
    }


SearchFn = Callable[[str], list[str]]  # question -> ranked passage texts (top 10)


def evaluate_retrieval(questions: Sequence[Question], search: SearchFn, all_passages: Sequence[str]) -> dict[str, Any]:
    """Metrics per language and overall for one retrieval mode."""
    rows: dict[str, list[tuple[list[bool], int]]] = {lang: [] for lang in LANGUAGES}
    lengths: list[int] = []
    for q in questions:
        if not q.answerable:
            continue
        ranked = search(q.question)[:10]
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


def answer_metrics(
    questions: Sequence[Question], answers: Sequence[Answer], passage_text: dict[str, str]
) -> dict[str, Any]:
    """Key facts, abstention and citation validity, per language and overall."""
    per: dict[str, dict[str, list[bool]]] = {}
    for q, a in zip(questions, answers, strict=True):
        for group in (q.language, "all"):
            d = per.setdefault(group, {"facts": [], "abst_ans": [], "abst_unans": [], "cites": []})
            valid = all(c.chunk_id in passage_text and c.quote in passage_text[c.chunk_id] for c in a.citations)
            if q.answerable:
                d["abst_ans"].append(a.abstained)
                d["facts"].append(not a.abstained and all(f in a.text for f in q.key_facts))
                if not a.abstained:
                    d["cites"].append(valid and bool(a.citations))
            else:
                d["abst_unans"].append(a.abstained)
    out = {}
    for group, d in per.items():
        abstained_right = sum(d["abst_unans"])
        abstained_all = abstained_right + sum(d["abst_ans"])
        out[group] = {
            "key_facts": _mean(d["facts"]),
            "abstention_precision": abstained_right / abstained_all if abstained_all else 1.0,
            "abstention_recall": _mean(d["abst_unans"]),
            "wrong_abstention": _mean(d["abst_ans"]),
            "valid_citations": _mean(d["cites"]),
            "answerable": len(d["facts"]),
            "unanswerable": len(d["abst_unans"]),
        }
    return out


def _mean(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def calibrate_threshold(answerable: Sequence[float], unanswerable: Sequence[float], max_wrong: float = 0.05) -> float:
    """The highest evidence-strength cut that wrongly refuses at most ``max_wrong`` of the
    answerable questions: refusing an answer the report holds is the costlier mistake, so the
    cut catches as many unanswerable questions as that budget allows."""
    scores = sorted(set(answerable) | set(unanswerable))
    candidates = [scores[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(scores)]
    best = candidates[0]
    for t in candidates:
        if sum(s < t for s in answerable) / max(len(answerable), 1) <= max_wrong:
            best = t
    return float(best)


def naive_chunks(text: str, size: int = NAIVE_CHUNK_CHARS) -> list[str]:
    """The baseline: fixed windows of raw text, blind to sections and tables."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def render_table(report: dict[str, Any]) -> str:
    """A plain-text table of the retrieval metrics, one block per mode."""
    lines = [f"{'mode':<9} {'lang':<4} {'n':>3} {'hit@1':>6} {'hit@5':>6} {'hit@10':>6} {'MRR@10':>7} {'nDCG@10':>7}"]
    for mode, by_lang in report["retrieval"].items():
        for lang in (*LANGUAGES, "all"):
            m = by_lang[lang]
            lines.append(
                f"{mode:<9} {lang:<4} {m['n']:>3} {m['hit@1']:>6.3f} {m['hit@5']:>6.3f} {m['hit@10']:>6.3f}"
                f" {m['mrr@10']:>7.3f} {m['ndcg@10']:>7.3f}"
            )
        lines.append(
            f"{'':<9} mean passage {by_lang['all']['mean_passage_chars']:.0f} chars"
            f" (retrieved top-5: {by_lang['all']['mean_retrieved_chars']:.0f})"
        )
    if "answers" in report:
        lines.append("")
        lines.append(f"{'answers':<9} {'lang':<4} {'facts':>6} {'abstP':>6} {'abstR':>6} {'wrongAb':>7} {'cites':>6}")
        for lang, m in report["answers"].items():
            lines.append(
                f"{'full':<9} {lang:<4} {m['key_facts']:>6.3f} {m['abstention_precision']:>6.3f}"
                f" {m['abstention_recall']:>6.3f} {m['wrong_abstention']:>7.3f} {m['valid_citations']:>6.3f}"
            )
    return "\n".join(lines)


def plot_curves(report: dict[str, Any], path: Path) -> None:
    """hit@k curves per mode, one panel per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (*LANGUAGES, "all")
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    for ax, lang in zip(axes, panels, strict=True):
        for mode, by_lang in report["retrieval"].items():
            ax.plot(KS, by_lang[lang]["curve"], marker="o", markersize=3, label=mode)
        ax.set_title(f"{lang} (n={report['retrieval']['full'][lang]['n']})" if "full" in report["retrieval"] else lang)
        ax.set_xlabel("k")
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hit@k")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def dense_search_over(texts: Sequence[str], vectors: np.ndarray, encode_query: Callable[[str], np.ndarray]) -> SearchFn:
    """Brute-force dense search over an ad-hoc passage list (used for the naive baseline)."""

    def search(question: str) -> list[str]:
        sims = vectors @ encode_query(question)
        return [texts[i] for i in np.argsort(-sims)[:10]]

    return search


def run_evaluation(
    pipeline: Pipeline, questions: Sequence[Question], modes: Sequence[str] = MODES, calibrate: bool = False
) -> dict[str, Any]:
    """Every retrieval mode side by side in one run, then the full pipeline's answers.

    With ``calibrate`` the abstention thresholds are fitted on the question set first; the
    report then also gives two-fold held-out figures so the fit's optimism is visible.
    """
    chunks = pipeline.index.chunks
    passages = [c.text for c in chunks]
    report: dict[str, Any] = {"questions": len(questions), "retrieval": {}}
    for mode in modes:
        if mode == "baseline":
            naive = naive_chunks(pipeline.report.text)
            vectors = pipeline.embedder.encode_passages(naive)
            search = dense_search_over(naive, vectors, lambda q: pipeline.embedder.encode_queries([q])[0])
            report["retrieval"][mode] = evaluate_retrieval(questions, search, naive)
        else:
            search = _pipeline_search(pipeline, mode)
            report["retrieval"][mode] = evaluate_retrieval(questions, search, passages)
    strengths = [_strength(pipeline, q.question) for q in questions]
    answering = pipeline
    if calibrate:
        report["calibration"] = fit_thresholds(questions, strengths)
        # A pipeline of its own answers with the fitted thresholds: the caller's is left as it was.
        answering = pipeline.with_thresholds(report["calibration"]["thresholds"])
    answers = [answering.ask(q.question) for q in questions]
    report["answers"] = answer_metrics(questions, answers, {c.id: c.text for c in chunks})
    report["thresholds"] = dict(answering.answerer.config.abstain_below)
    return report


RULED_OUT = -1.0  # below every cosine


def _pipeline_search(pipeline: Pipeline, mode: str) -> SearchFn:
    return lambda q: [h.chunk.text for h in pipeline.search(q, k=10, mode=mode).hits]


def _strength(pipeline: Pipeline, question: str) -> float:
    """Evidence strength for calibration; below any threshold when a rule (a number the quoted sections
    lack, an instruction to ignore the report) abstains anyway, so those abstentions use the budget too."""
    scored = pipeline.retriever.score(question)
    hits = pipeline.retriever.hits(scored, pipeline.settings.top_k)
    quotes = pipeline.answerer.candidate_quotes(question, scored, hits)
    if quotes and pipeline.answerer.abstains_by_rule(question, scored.language, quotes):
        return RULED_OUT
    return pipeline.answerer.evidence_strength(quotes)


def fit_thresholds(questions: Sequence[Question], strengths: Sequence[float]) -> dict[str, Any]:
    """Per-language abstention thresholds, plus two-fold held-out error rates."""

    def fit(indices: Sequence[int]) -> dict[str, float]:
        out = {}
        for lang in LANGUAGES:
            ans = [strengths[i] for i in indices if questions[i].language == lang and questions[i].answerable]
            una = [strengths[i] for i in indices if questions[i].language == lang and not questions[i].answerable]
            out[lang] = calibrate_threshold(ans, una) if ans and una else 0.0
        return out

    everything = list(range(len(questions)))
    folds = [everything[0::2], everything[1::2]]
    wrong = missed = n_ans = n_una = 0
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        thresholds = fit(train)
        for i in test:
            below = strengths[i] < thresholds[questions[i].language]
            if questions[i].answerable:
                n_ans += 1
                wrong += below
            else:
                n_una += 1
                missed += not below
    return {
        "thresholds": fit(everything),
        "heldout_wrong_abstention": wrong / max(n_ans, 1),
        "heldout_abstention_recall": 1 - missed / max(n_una, 1),
    }
