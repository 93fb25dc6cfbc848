"""API benchmark on 127.0.0.1: time to ready, API overhead over the engine, /api/search throughput per worker count.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python -m bench.api [--seconds 20] [--clients 8] [--rounds 40] [--workers 1,2]

For each worker count in turn, starts `rag serve --workers N` (UI included, as a user runs it) on a free port
over the already built index, then:
- ready: seconds from spawning the process to the banner (socket bound) and to /healthz 200;
- overhead (first worker count only): the same queries through pipeline.search in this process and
  POST /api/search (rounds x 5 queries each, interleaved, after a warm-up), p50/p90 of both, and per
  request the client latency minus the server's took_ms (what HTTP, validation and JSON cost);
- throughput: N concurrent clients (one keep-alive connection each) for S seconds on /api/search over every
  question of corpus/questions.jsonl, languages interleaved (ja, en, zh, ...), after a 5 s warm-up;
- memory: the resident memory of the server's processes at the end.
With two worker counts or more, each one's requests/s over the first's. Bounded in time and count; targets
only the servers it starts itself. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import loadtest

REPO = Path(__file__).resolve().parent.parent

QUERIES = [
    "中国のAIコア産業の規模は？",
    "How many AI patents did China file?",
    "中国人形机器人的发展目标是什么？",
    "DeepSeekの出力価格",
    "What are the main challenges for China's AI industry?",
]


def start_server(port: int, workers: int = 1) -> tuple[subprocess.Popen[str], dict[str, float], float]:
    """Spawn `rag serve`; a reader thread timestamps its stdout lines (banner, "ready in")."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "rag"), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    marks: dict[str, float] = {}

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("report-rag serving on"):
                marks["listening_s"] = round(time.perf_counter() - started, 2)
            elif line.startswith("ready in"):  # one line per worker: the last is when all are loaded
                marks["loaded_s"] = round(time.perf_counter() - started, 2)
                marks["ready_lines"] = marks.get("ready_lines", 0) + 1

    threading.Thread(target=read, daemon=True).start()
    return server, marks, started


def wait_ready(base: str, started: float, limit: float = 180) -> float:
    while time.perf_counter() - started < limit:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return round(time.perf_counter() - started, 2)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    sys.exit(f"server not ready within {limit:.0f} s")


def latency(base: str, rounds: int) -> dict[str, float]:
    """The same queries through pipeline.search in this process and POST /api/search, interleaved so
    both see the same machine state. The server's took_ms (endpoint start to JSON ready) splits the
    HTTP cost from the engine's: overhead = client latency - took_ms, per request."""
    from rag.pipeline import Pipeline

    pipeline = Pipeline.load()
    engine, client_ms, overhead = [], [], []
    with httpx.Client(base_url=base, timeout=30) as client:
        for q in QUERIES * 2:  # warm-up: first calls pay for lazy initialisation
            pipeline.search(q)
            client.post("/api/search", json={"query": q}).raise_for_status()
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                pipeline.search(q)
                engine.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                response = client.post("/api/search", json={"query": q})
                elapsed = (time.perf_counter() - t) * 1000
                response.raise_for_status()
                client_ms.append(elapsed)
                overhead.append(elapsed - response.json()["took_ms"])
    return {
        "requests": len(client_ms),
        "engine_search_p50_ms": loadtest.percentile(engine, 50),
        "engine_search_p90_ms": loadtest.percentile(engine, 90),
        "http_search_p50_ms": loadtest.percentile(client_ms, 50),
        "http_search_p90_ms": loadtest.percentile(client_ms, 90),
        "http_minus_engine_p50_ms": round(loadtest.percentile(client_ms, 50) - loadtest.percentile(engine, 50), 2),
        "api_overhead_p50_ms": loadtest.percentile(overhead, 50),
        "api_overhead_p90_ms": loadtest.percentile(overhead, 90),
    }


def throughput(base: str, clients: int, seconds: float) -> dict[str, Any]:
    questions = loadtest.mixed_questions(REPO / "corpus" / "questions.jsonl")
    calls = [loadtest.Call("/api/search", {"query": q}) for q in questions]
    loadtest.drive(base, calls, clients, 5.0)  # warm-up: every worker meets all three languages
    return loadtest.drive(base, calls, clients, seconds) | {"distinct_queries": len(calls)}


def measure(workers: int, args: argparse.Namespace, with_latency: bool) -> dict[str, Any]:
    port = loadtest.free_port()
    base = f"http://127.0.0.1:{port}"
    server, marks, started = start_server(port, workers)
    try:
        ready_s = wait_ready(base, started)
        if workers > 1:  # /healthz is 200 once one worker is ready: wait for all of them
            deadline = time.perf_counter() + 120
            while marks.get("ready_lines", 0) < workers and time.perf_counter() < deadline:
                time.sleep(0.1)
        lat = latency(base, args.rounds) if with_latency else None
        load = throughput(base, args.clients, args.seconds)
        rss = loadtest.tree_rss_mib(server.pid)
    finally:
        server.terminate()  # SIGTERM: the server drains and exits
        server.wait(timeout=60)
    result: dict[str, Any] = {
        "workers": workers,
        "startup": {"process_to_listening_s": marks.get("listening_s"), "process_to_ready_s": ready_s},
        "throughput": load,
        "server_rss_mib": rss,
    }
    return result | ({"latency": lat} if lat is not None else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="throughput run length")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the throughput run")
    parser.add_argument("--rounds", type=int, default=40, help="latency rounds over the 5 queries")
    parser.add_argument("--workers", default="1", help="comma-separated worker counts, measured in turn")
    args = parser.parse_args()
    if not (REPO / "index" / "CURRENT").exists():
        sys.exit("no built index: run `rag build` first (this measures start-up over a built index)")
    counts = [int(n) for n in args.workers.split(",")]
    load_before = os.getloadavg()
    runs = [measure(n, args, with_latency=i == 0) for i, n in enumerate(counts)]
    report: dict[str, Any] = {"runs": runs}
    if len(runs) > 1:
        first = runs[0]["throughput"]["requests_per_s"]
        report["requests_per_s_over_first"] = {
            str(r["workers"]): round(r["throughput"]["requests_per_s"] / first, 2) for r in runs[1:]
        }
    report["loadavg_1_5_15"] = {"before": [round(x, 2) for x in load_before], "after": list(os.getloadavg())}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
