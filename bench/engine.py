"""Benchmark: index build, model load, search/ask latency (p50/p95) and peak memory, as JSON.

Run ``python -m bench.engine`` (or ``make bench``) on an idle machine; figures are of this machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rag.config import REPO_ROOT, get_settings


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "n": len(ordered),
    }


def _timed(fn: Callable[[], Any], before: Callable[[], None]) -> float:
    before()
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(rounds: int = 2, warmup: int = 10) -> dict[str, Any]:
    from rag.corpus import load_report
    from rag.embed import embedder_from
    from rag.eval import load_questions
    from rag.index import build_index
    from rag.pipeline import Pipeline

    settings = get_settings()
    started = time.perf_counter()
    embedder = embedder_from(settings)
    model_load_s = time.perf_counter() - started

    report = load_report(settings.corpus_dir)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        manifest, _ = build_index(report, embedder, Path(tmp) / "index", force=True)
        build_s = time.perf_counter() - started
        pipeline = Pipeline.load(settings.model_copy(update={"index_dir": Path(tmp) / "index"}), embedder=embedder)
        loaded = load_questions(settings.questions_file)
        questions = [q.question for q in loaded]
        languages = [q.language for q in loaded] * rounds  # aligned with the timed samples below
        for q in questions[:warmup]:
            pipeline.ask(q)
        # Every question is timed as if new: the cache of translated words is emptied first.
        cold = pipeline.retriever.translator.clear_cache
        search_ms = [_timed(partial(pipeline.search, q), cold) for _ in range(rounds) for q in questions]
        ask_ms = [_timed(partial(pipeline.ask, q), cold) for _ in range(rounds) for q in questions]
        # A question asked again (the UI's examples, a retried request) finds its words' vectors cached.
        warm_ms = [_timed(partial(pipeline.search, q), lambda: None) for _ in range(rounds) for q in questions]
    return {
        "model": embedder.model_id,
        "backend": getattr(embedder, "backend", None),
        "model_load_s": round(model_load_s, 2),
        "index_build_s": round(build_s, 2),
        "index": {k: manifest[k] for k in ("chunks", "units", "terms")},
        "search": _percentiles(search_ms),
        "ask": _percentiles(ask_ms),
        "search_repeated": _percentiles(warm_ms),
        # One forward pass per question in every language: English and Chinese ones meet the edition in their
        # own language (the cross-lingual word expansions, with their word-vector cache, are off by default).
        "search_by_language": {
            lang: _percentiles([ms for ms, ql in zip(search_ms, languages, strict=True) if ql == lang])
            for lang in sorted(set(languages))
        },
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="Passes over the question set.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "bench.json")
    args = parser.parse_args()
    result = run(args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
