"""Scores: ranking metrics for retrieval; key facts in the direct answer, abstention, quotes and their evidence,
and per-kind outcomes for answers."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from rag.eval.questions import Question
from rag.lang import LANGUAGES
from rag.numbers import is_amount, quantities, same_value
from rag.types import Answer, Citation

KS = tuple(range(1, 11))
# Kinds scored by their own outcome besides key facts: the right section cited first, a help reply.
SECTION_KINDS = ("summary", "structure")
# What answer_metrics collects per language: one list per measure.
ANSWER_TALLIES = ("facts", "wrong", "refused", "cites", "quotes", "evidence", "marks")


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def is_relevant(passage: str, question: Question) -> bool:
    """A passage is relevant when it contains one of the question's gold evidence spans."""
    flat = norm(passage)
    return any(norm(e) in flat for e in question.evidence)


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


def direct_answer(answer: Answer) -> str:
    """What the answer gives first, as the report writes it: the originals of the citations that make up its
    direct answer (the sentence or row it leads with, or a summary's sentences). Key facts are looked for
    here, not in the supporting quotes."""
    return "\n".join(c.original for c in answer.citations[: answer.direct])


def holds_evidence(citation: Citation, question: Question) -> bool:
    """Whether a quote holds gold evidence: an evidence span inside it, or it inside a (longer) span."""
    quote = norm(citation.original)
    return any(norm(e) in quote or (len(quote) >= 10 and quote in norm(e)) for e in question.evidence)


def quotes_its_passage(citation: Citation, passage_text: dict[str, str]) -> bool:
    """Whether each line of a citation's original (a summary quotes several) is in the passage it cites."""
    passage = norm(passage_text.get(citation.chunk_id, ""))
    return bool(passage) and all(norm(line) in passage for line in citation.original.split("\n") if line.strip())


def has_key_facts(answer: Answer, question: Question) -> bool:
    text = norm(direct_answer(answer))
    return not answer.abstained and bool(text) and all(norm(f) in text for f in question.key_facts)


def marks_a_key_fact(answer: Answer, question: Question) -> bool | None:
    """Whether the amount the direct answer marks is one its key facts state (**1,509** for 1509; $9.3 billion
    for 93億ドル), or None when nothing is to judge: no amount marked, or no amount among the key facts."""
    facts = [f for k in question.key_facts for f in quantities(k) if is_amount(f)]
    marked = [m for m in quantities(answer.span or "") if is_amount(m)]
    if answer.abstained or not facts or not marked:
        return None
    return any(same_value(f, m, rounding=True) for f in facts for m in marked)


def answer_metrics(
    questions: Sequence[Question], answers: Sequence[Answer], passage_text: dict[str, str]
) -> dict[str, Any]:
    """Per language and overall: key facts in the direct answer, wrongly refused answerable questions,
    refused unanswerable ones, quotes per answer, the share of quotes holding gold evidence and of marked amounts
    that are a key fact's."""
    groups: dict[str, dict[str, list[Any]]] = {}
    for q, a in zip(questions, answers, strict=True):
        for name in (q.language, "all"):
            d = groups.setdefault(name, {k: [] for k in ANSWER_TALLIES})
            if q.answerable:
                d["wrong"].append(a.abstained)
                d["facts"].append(has_key_facts(a, q))
                if not a.abstained:
                    valid = all(quotes_its_passage(c, passage_text) for c in a.citations)
                    d["cites"].append(valid and bool(a.citations))
                    d["quotes"].append(len(a.citations))
                    d["evidence"].extend(holds_evidence(c, q) for c in a.citations)
                    if (marked := marks_a_key_fact(a, q)) is not None:
                        d["marks"].append(marked)
            elif q.refusable:
                d["refused"].append(a.abstained)
    out = {}
    for name in [*LANGUAGES, "all"]:
        if name not in groups:
            continue
        d = groups[name]
        refused_right = sum(d["refused"])
        refused_all = refused_right + sum(d["wrong"])
        out[name] = {
            "answerable": len(d["facts"]),
            "unanswerable": len(d["refused"]),
            "key_facts": _mean(d["facts"]),
            "wrong_abstention": _mean(d["wrong"]),
            "abstention_recall": _mean(d["refused"]),
            "abstention_precision": refused_right / refused_all if refused_all else 1.0,
            "quotes_per_answer": _mean(d["quotes"]),
            "quotes_with_evidence": _mean(d["evidence"]),
            "valid_citations": _mean(d["cites"]),
            "marked_amounts": len(d["marks"]),
            "marks_right": _mean(d["marks"]),
        }
    return out


def kind_metrics(questions: Sequence[Question], answers: Sequence[Answer]) -> dict[str, Any]:
    """Per kind of question: how many, and how many got the outcome that kind needs (summary and structure:
    the right section cited first; follow-ups and the rest: key facts in the direct answer; help: a help reply;
    unanswerable: refused)."""
    out: dict[str, dict[str, Any]] = {}
    for q, a in zip(questions, answers, strict=True):
        if q.kind in SECTION_KINDS:
            right = not a.abstained and bool(a.citations) and a.citations[0].section_id == q.section
        elif q.kind == "help":
            right = a.intent == "help"
        elif q.refusable:
            right = a.abstained
        else:
            right = has_key_facts(a, q)
        row = out.setdefault(q.kind, {"n": 0, "right": 0})
        row["n"] += 1
        row["right"] += int(right)
    for row in out.values():
        row["rate"] = row["right"] / row["n"]
    return out


def _mean(values: Sequence[Any]) -> float:
    return float(sum(values)) / len(values) if values else 0.0
