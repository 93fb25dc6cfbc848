"""Load test: concurrent clients against a `rag serve` it starts on 127.0.0.1, with the server's memory.

Bounded in time and in count; it only ever targets the server process it spawned itself, whose
resident memory it reads from /proc/<pid>/status (Linux).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rag.config import REPO_ROOT

# The server as `rag serve` runs it, minus the UI unless asked; `python -c` from the repository imports
# this checkout's code even when the virtualenv's `rag` script points at another one.
SERVE = """
import sys
from rag.config import get_settings
from rag.serve.server import serve
serve(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), with_ui=sys.argv[2] == "ui")
"""


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]


@dataclass
class Tally:
    """What the clients saw; filled by many threads under one lock."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float, outcome: str, ok: bool) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            self.statuses[outcome] = self.statuses.get(outcome, 0) + 1
            self.errors += not ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(samples: Sequence[float], q: int) -> float:
    if len(samples) < 2:
        return round(samples[0], 2) if samples else 0.0
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 2)


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc/<pid>/status (VmRSS is in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}: is it a Linux process that is still running?")


def descendants(pid: int) -> list[int]:
    """The process ids of ``pid``'s children, their children and so on (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (a server's worker processes), in MiB."""
    return round(sum(rss_mib(p) for p in [pid, *descendants(pid)]), 1)


def mixed_questions(questions: Path, vary: bool = False) -> list[str]:
    """Questions of the eval set, languages interleaved (ja, en, zh, ja, ...). With ``vary`` each question is
    joined with another of its language (thousands of texts, none repeated within a run of a few minutes),
    to see whether memory grows with question variety."""
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_language: dict[str, list[str]] = {}
    for row in rows:
        by_language.setdefault(row["language"], []).append(row["question"])
    if vary:
        by_language = {
            lang: [f"{a} {b}" for i, a in enumerate(qs) for b in qs[i + 1 :]] for lang, qs in by_language.items()
        }
    # Every question, the languages taking turns until the shorter lists run out.
    return [q for group in itertools.zip_longest(*by_language.values()) for q in group if q is not None]


def mixed_calls(questions: Path, limit: int | None = None, vary: bool = False) -> list[Call]:
    """``mixed_questions``, each as /api/ask and /api/search in turn, so every client meets all three
    languages and both routes."""
    return [
        Call("/api/ask", {"question": q}) if i % 2 == 0 else Call("/api/search", {"query": q})
        for i, q in enumerate(mixed_questions(questions, vary)[:limit])
    ]


def drive(
    base: str, calls: Sequence[Call], clients: int, seconds: float, max_requests: int | None = None
) -> dict[str, Any]:
    """``clients`` threads, one keep-alive connection each, send ``calls`` round-robin (each starting
    at its own offset) until ``seconds`` pass or ``max_requests`` are sent in all."""
    tally = Tally()
    deadline = time.perf_counter() + seconds
    budget = iter(range(max_requests)) if max_requests else None
    budget_lock = threading.Lock()

    def take() -> bool:
        if time.perf_counter() >= deadline:
            return False
        if budget is None:
            return True
        with budget_lock:
            return next(budget, None) is not None

    def client(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            n = offset
            while take():
                call = calls[n % len(calls)]
                started = time.perf_counter()
                try:
                    status = http.post(call.path, json=call.body).status_code
                    outcome, ok = str(status), status == 200
                except httpx.HTTPError as exc:
                    outcome, ok = type(exc).__name__, False
                tally.add((time.perf_counter() - started) * 1000, outcome, ok)
                n += 1

    threads = [threading.Thread(target=client, args=(i * len(calls) // clients,)) for i in range(clients)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    total = len(tally.latencies_ms)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "errors": tally.errors,
        "statuses": tally.statuses,
        "requests_per_s": round(total / elapsed, 2) if elapsed else 0.0,
        "latency_p50_ms": percentile(tally.latencies_ms, 50),
        "latency_p95_ms": percentile(tally.latencies_ms, 95),
        "latency_p99_ms": percentile(tally.latencies_ms, 99),
    }


@contextmanager
def server(
    env: dict[str, str] | None = None,
    ui: bool = False,
    ready_within: float = 180,
    log: Path | None = None,
    code: str = SERVE,
) -> Iterator[tuple[str, int]]:
    """Start `rag serve` (or ``code``, given the port and "ui"/"api") on a free port of 127.0.0.1, yield
    (base URL, pid) once /healthz is 200, and stop it with SIGTERM (it drains) at the end."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output = log.open("w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port), "ui" if ui else "api"],
        cwd=REPO_ROOT,
        env=os.environ | (env or {}),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + ready_within
        while not _healthy(base):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {proc.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready within {ready_within:.0f} s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        stop(proc, timeout=60)
        if log:
            output.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM (the server drains its requests), then SIGKILL if it has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run(
    base: str,
    pid: int,
    calls: Sequence[Call],
    clients: int,
    seconds: float,
    warmup_s: float = 0.0,
    sample_every: float = 5.0,
    max_requests: int | None = None,
) -> dict[str, Any]:
    """Warm up (one pass of every call, bounded by ``warmup_s``), then load; the server's RSS at ready,
    after warm-up, every ``sample_every`` seconds during the load and at the end."""
    rss: dict[str, Any] = {"ready_mib": rss_mib(pid)}
    if warmup_s > 0:
        drive(base, calls, clients, warmup_s, max_requests=len(calls))
    rss["after_warmup_mib"] = rss_mib(pid)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.wait(sample_every):
            samples.append((round(time.perf_counter() - started, 1), rss_mib(pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load = drive(base, calls, clients, seconds, max_requests=max_requests)
    stop.set()
    sampler.join()
    rss["end_mib"] = rss_mib(pid)
    rss["samples"] = samples
    rss["growth_mib_per_s"] = growth(samples)
    return {"load": load, "rss": rss}


def growth(samples: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of RSS over time (MiB/s); None with fewer than three samples."""
    if len(samples) < 3:
        return None
    return round(statistics.linear_regression([t for t, _ in samples], [m for _, m in samples]).slope, 4)
