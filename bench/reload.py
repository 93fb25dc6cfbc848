"""Hot swap and feedback benchmark on 127.0.0.1 with the real model and index.

Usage: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m bench.reload [--clients 4] [--seconds 6]

Copies the project's live index build into a temp folder and serves it (API only) with RAG_INDEX_CHECK_S=1, then:
- look / verify: what one watcher look (CURRENT and a stat of each file) and a full checksum verification of
  the real index cost, measured in this process;
- swap: N clients search for S seconds; a copy of the build under a new build id is published the way
  `rag build` does (folder written aside, CURRENT replaced atomically); reports seconds from the flip to
  /healthz showing it, failed requests, and search latency before, around and after the swap;
- feedback: N clients POST /api/feedback for S seconds (one SQLite transaction each, synchronous=FULL).
Bounded in time and count; targets only the server it starts itself. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.loadtest import SERVE, free_port
from rag.config import get_settings
from rag.index import POINTER, current_build, fingerprint, verify_files

REPO = Path(__file__).resolve().parent.parent

QUERIES = ["中国のAIコア産業の規模は？", "How many AI patents did China file?", "中国人形机器人的发展目标是什么？"]


def pct(samples: list[float], q: int) -> float | None:
    if len(samples) < 2:
        return None
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 1)


def per_call_ms(fn: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return round((time.perf_counter() - started) * 1000 / n, 3)


def publish_copy(index_dir: Path) -> tuple[str, float]:
    """A new build id with the same content, made live like `rag build` does; returns it and the flip time."""
    live = current_build(index_dir)
    assert live is not None
    build_id = time.strftime("%Y%m%dT%H%M%S") + "-bench0"
    staging = index_dir / f".staging-{build_id}"
    shutil.copytree(live, staging)
    manifest = json.loads((staging / "manifest.json").read_text(encoding="utf-8"))
    manifest["build_id"] = build_id
    (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    staging.rename(index_dir / f"build-{build_id}")
    tmp = index_dir / f".{POINTER}.bench"
    tmp.write_text(f"build-{build_id}\n", encoding="utf-8")
    flipped = time.perf_counter()
    os.replace(tmp, index_dir / POINTER)
    return build_id, flipped


def hammer(base: str, clients: int, until: threading.Event, send: Any) -> list[tuple[float, float, int]]:
    """(start, seconds, status) of every request made by ``clients`` threads until ``until`` is set."""
    out: list[tuple[float, float, int]] = []

    def run(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            i = worker
            while not until.is_set():
                started = time.perf_counter()
                try:
                    status = send(client, i).status_code
                except httpx.HTTPError:
                    status = 0
                out.append((started, time.perf_counter() - started, status))
                i += 1

    threads = [threading.Thread(target=run, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    until.wait()
    for t in threads:
        t.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    settings = get_settings()
    source = current_build(settings.index_dir)
    assert source is not None, "no index: run `rag build` first"
    result: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds}

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        index_dir.mkdir()
        shutil.copytree(source, index_dir / source.name)
        (index_dir / POINTER).write_text(source.name + "\n", encoding="utf-8")
        result["look_ms"] = per_call_ms(lambda: fingerprint(index_dir), 1000)
        result["verify_ms"] = per_call_ms(lambda: verify_files(index_dir), 5)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = os.environ | {
            "RAG_INDEX_DIR": str(index_dir),
            "RAG_DATA_DIR": str(Path(tmp) / "data"),
            "RAG_INDEX_CHECK_S": "1",
        }
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port), "api"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, text=True
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "server not ready"
                time.sleep(0.2)

            def search(client: httpx.Client, i: int) -> httpx.Response:
                return client.post("/api/search", json={"query": QUERIES[i % len(QUERIES)]})

            stop = threading.Event()
            timeline: dict[str, float] = {}

            def swap_midway() -> None:
                time.sleep(args.seconds / 2)
                build_id, timeline["flip"] = publish_copy(index_dir)
                while httpx.get(f"{base}/healthz", timeout=10).json().get("index", {}).get("build_id") != build_id:
                    time.sleep(0.02)
                timeline["seen"] = time.perf_counter()
                time.sleep(args.seconds / 2)
                stop.set()

            swapper = threading.Thread(target=swap_midway)
            swapper.start()
            requests = hammer(base, args.clients, stop, search)
            swapper.join()
            flip, seen = timeline["flip"], timeline["seen"]
            phases: dict[str, list[float]] = {"before": [], "around": [], "after": []}
            for started, seconds, _ in requests:
                phase = "before" if started < flip - 0.5 else "after" if started > seen + 0.5 else "around"
                phases[phase].append(seconds * 1000)
            result["swap"] = {
                "flip_to_healthz_s": round(seen - flip, 2),
                "requests": len(requests),
                "failed": sum(1 for *_, status in requests if status != 200),
                **{f"{k}_p50_ms": pct(v, 50) for k, v in phases.items()},
                **{f"{k}_p99_ms": pct(v, 99) for k, v in phases.items()},
            }

            def rate(client: httpx.Client, i: int) -> httpx.Response:
                body = {"question": f"質問 {i}", "answer": "回答 [1]", "citations": [], "vote": "up"}
                return client.post("/api/feedback", json=body)

            stop = threading.Event()
            threading.Timer(args.seconds, stop.set).start()
            writes = hammer(base, args.clients, stop, rate)
            latencies = [seconds * 1000 for _, seconds, _ in writes]
            result["feedback"] = {
                "writes": len(writes),
                "failed": sum(1 for *_, status in writes if status != 201),
                "per_s": round(len(writes) / args.seconds, 1),
                "p50_ms": pct(latencies, 50),
                "p99_ms": pct(latencies, 99),
            }
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
