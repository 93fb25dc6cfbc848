"""The load test tool, short and bounded: 4 clients for 5 s against a real server subprocess on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from pathlib import Path

from bench import loadtest

QUESTIONS = Path(__file__).resolve().parent.parent / "corpus" / "questions.jsonl"


def test_calls_mix_languages_and_routes() -> None:
    calls = loadtest.mixed_calls(QUESTIONS, limit=60)
    assert Counter(c.path for c in calls) == {"/api/ask": 30, "/api/search": 30}
    first = [str(c.body.get("question") or c.body.get("query")) for c in calls[:3]]
    assert first[0].startswith("「中国製造2025」")  # ja, then en, then zh: interleaved
    assert first[1].isascii() and not first[2].isascii()
    varied = loadtest.mixed_calls(QUESTIONS, vary=True)
    texts = [str(c.body) for c in varied]
    assert len(varied) > 3000 and len(set(texts)) == len(texts)


def test_growth_is_the_least_squares_slope() -> None:
    assert loadtest.growth([(0, 100.0), (10, 101.0), (20, 102.0)]) == 0.1
    assert loadtest.growth([(0, 100.0), (10, 100.0)]) is None  # too few samples to tell


def test_short_load_has_no_errors_and_reports_memory(served) -> None:
    base, pid = served
    calls = loadtest.mixed_calls(QUESTIONS)
    report = loadtest.run(base, pid, calls, clients=4, seconds=5, sample_every=1, max_requests=5000)
    load, rss = report["load"], report["rss"]
    assert load["requests"] > 0 and load["errors"] == 0 and set(load["statuses"]) == {"200"}
    assert 0 < load["latency_p50_ms"] <= load["latency_p95_ms"] <= load["latency_p99_ms"]
    assert load["requests_per_s"] > 0 and load["clients"] == 4
    # The server's resident memory, sampled once a second while the clients ran, and its slope.
    times = [t for t, _ in rss["samples"]]
    assert len(times) >= 3 and all(b - a >= 0.9 for a, b in itertools.pairwise(times)) and times[-1] <= 5.5
    assert rss["growth_mib_per_s"] == loadtest.growth(rss["samples"])
    # rss_mib reads VmRSS from /proc/<pid>/status: the same figure statm gives in pages.
    assert abs(loadtest.rss_mib(pid) - _statm_rss_mib(pid)) < 2


def _statm_rss_mib(pid: int) -> float:
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
