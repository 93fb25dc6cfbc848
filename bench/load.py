"""Load test on 127.0.0.1: concurrent clients on /api/ask and /api/search, and the server's memory.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python -m bench.load [--clients 16] [--seconds 60] [--warmup 60]

Starts the server (real model, the built index; the API only unless --ui) on a free port, warms it up
with one pass over the questions (bounded by --warmup seconds), then runs --clients clients for --seconds
over mixed ja/en/zh questions from corpus/questions.jsonl, half asked and half searched. Prints JSON:
requests, errors, p50/p95/p99 latency, throughput, the server's RSS at ready, after warm-up, every
--sample-every seconds and at the end (with a least-squares growth rate), and the load average, since
the machine may be shared. Bounded in time and count; targets only the server it starts itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench import loadtest

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured run")
    parser.add_argument("--warmup", type=float, default=60.0, help="at most this long for one pass over the calls")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--max-requests", type=int, default=None, help="stop after this many requests")
    parser.add_argument("--questions", type=Path, default=REPO / "corpus" / "questions.jsonl")
    parser.add_argument("--vary", action="store_true", help="join questions in pairs: no text repeats")
    parser.add_argument("--ui", action="store_true", help="mount the chat UI too, as `rag serve` does")
    parser.add_argument("--log", type=Path, default=None, help="write the server's output here")
    args = parser.parse_args()
    if not (REPO / "index" / "CURRENT").exists():
        sys.exit("no built index: run `rag build` first")

    calls = loadtest.mixed_calls(args.questions, vary=args.vary)
    load_before = os.getloadavg()
    with loadtest.server(ui=args.ui, log=args.log) as (base, pid):
        report = loadtest.run(
            base, pid, calls, args.clients, args.seconds, args.warmup, args.sample_every, args.max_requests
        )
    report["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
        "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "note": "a shared machine: other work runs at the same time",
    }
    report["calls"] = {"distinct": len(calls), "routes": ["/api/ask", "/api/search"]}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
