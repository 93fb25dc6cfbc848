"""Generated answers to number questions against a real LLM: how many the verifier accepts, how many fall back
to the extractive answer (and why), how many are refused, and how many accepted ones hold a wrong value.

Run against any OpenAI-compatible server (see the README's "Generated answers with an LLM"):

    RAG_LLM_BASE_URL=http://127.0.0.1:8080/v1 RAG_LLM_MODEL=local python -m bench.llm_numbers
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.numbers import Quantity, is_amount, quantities, same_value

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.types import Answer


@dataclass(frozen=True)
class NumberQuestion:
    language: str
    question: str
    value: str  # the right amount as the report writes it


NUMBER_QUESTIONS = (
    NumberQuestion("en", "What was the size of China's core AI industry in 2025?", "1.2兆元"),
    NumberQuestion("en", "How much did the US invest privately in AI in 2024?", "1091億ドル"),
    NumberQuestion("en", "How much private AI investment did China attract in 2024?", "93億ドル"),
    NumberQuestion("en", "How many AI-related companies were registered in China by 2025?", "490万社"),
    NumberQuestion("en", "How much AI and data investment and financing was reported in China in 2024?", "650億元"),
    NumberQuestion("ja", "中国のAIコア産業の規模は2025年にどのくらいですか？", "1.2兆元"),
    NumberQuestion("ja", "2024年の英国の民間AI投資額はいくらですか？", "45億ドル"),
    NumberQuestion("ja", "AI専属の企業は何社に増えましたか？", "6000社"),
    NumberQuestion("ja", "コンピュータサイエンスのAI論文引用数で中国が占める割合は？", "22.6%"),
    NumberQuestion("zh", "2024年美国民间AI投资额是多少？", "1091億ドル"),
    NumberQuestion("zh", "2025年中国人工智能核心产业规模是多少？", "1.2兆元"),
    NumberQuestion("zh", "截至2025年中国AI相关企业注册数量达到多少？", "490万社"),
    NumberQuestion("zh", "Manus的内测申请人数突破了多少？", "200万人"),
)
# Why a generated answer may be replaced by the extractive one: verification, or the LLM failing.
KNOWN_FALLBACKS = {None, "uncited", "too_short", "unverified", "wrong_language", "not_in_report"}


def known_fallback(reason: str | None) -> bool:
    return reason in KNOWN_FALLBACKS or (reason or "").startswith("llm_")


def holds_wrong_value(answer: Answer, right: str) -> bool:
    """Whether an accepted answer states an amount of the right kind that is not the right one, and never the
    right one (a generated answer that says $93 billion for 93億ドル)."""
    gold = next(q for q in quantities(right) if is_amount(q))
    stated = [q for q in quantities(answer.text) if is_amount(q) and _same_kind(q, gold)]
    return bool(stated) and not any(same_value(gold, q, rounding=True) for q in stated)


def _same_kind(q: Quantity, gold: Quantity) -> bool:
    money = {"usd", "cny", "jpy", "eur"}
    if gold.unit in money:
        return q.unit in money or (not q.unit and q.scale > 1)
    return q.unit == gold.unit


def run(pipeline: Pipeline) -> dict[str, Any]:
    """Ask every number question; the outcome of each and the counts."""
    rows = []
    for item in NUMBER_QUESTIONS:
        started = time.perf_counter()
        answer = pipeline.ask(item.question)
        outcome = "refused" if answer.abstained else ("accepted" if answer.generator == "llm" else "fell back")
        rows.append(
            {
                "language": item.language,
                "question": item.question,
                "outcome": outcome,
                "fallback": answer.fallback,
                "removed": [r.reason for r in answer.removed],
                "wrong_value": outcome == "accepted" and holds_wrong_value(answer, item.value),
                "seconds": round(time.perf_counter() - started, 1),
                "answer": answer.text,
            }
        )
    counts = Counter(r["outcome"] for r in rows)
    return {"rows": rows, "counts": dict(counts), "wrong_values": sum(r["wrong_value"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="Print every answer as JSON.")
    args = parser.parse_args()
    from rag.config import get_settings
    from rag.pipeline import Pipeline

    settings = get_settings()
    if not settings.llm_base_url:
        raise SystemExit("set RAG_LLM_BASE_URL and RAG_LLM_MODEL to an OpenAI-compatible server first")
    report = run(Pipeline.load(settings))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for row in report["rows"]:
        flag = " WRONG VALUE" if row["wrong_value"] else ""
        head = f"{row['language']} {row['outcome']:<9} {row['fallback'] or '':<14} {row['seconds']:>5}s"
        print(f"{head} {row['question']}{flag}")
    print(f"counts: {report['counts']}; accepted answers holding a wrong value: {report['wrong_values']}")


if __name__ == "__main__":
    main()
