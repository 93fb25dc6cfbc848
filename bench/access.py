"""What access control costs: key check and token bucket alone, and a request through a real server with and without.

Usage: .venv/bin/python -m bench.access [--requests 2000] [--keys 10]

In-process: KeyRing.match (a hit and a miss) and RateLimiter.acquire, per call. End to end: GET /v1/models (no
pipeline work) on a uvicorn server on a free 127.0.0.1 port, sequential over one keep-alive connection, with the
API open and with keys plus a rate limit high enough never to refuse. Bounded in count; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import uvicorn
from pydantic import SecretStr

from rag.config import Settings
from rag.serve.app import create_app
from rag.serve.security import KeyRing, RateLimiter
from rag.serve.state import AppState


def micro(keys: int) -> dict[str, float]:
    ring = KeyRing([f"bench-key-{n:04d}-0123456789abcdef" for n in range(keys)])
    limiter = RateLimiter(per_minute=1e9, burst=10**9)
    n = 20_000

    def us(fn: object) -> float:
        return round(timeit.timeit(fn, number=n) / n * 1e6, 2)  # type: ignore[arg-type]

    return {
        f"key_match_hit_us_{keys}_keys": us(lambda: ring.match("bench-key-0000-0123456789abcdef")),
        f"key_match_miss_us_{keys}_keys": us(lambda: ring.match("not-a-key-at-all-0000000000")),
        "rate_limit_acquire_us": us(lambda: limiter.acquire("key:abcd1234")),
    }


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    app = create_app(AppState(reason="bench"), with_ui=False, settings=settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def latencies(variants: dict[str, tuple[Settings, dict[str, str]]], requests: int) -> dict[str, dict[str, float]]:
    """Every variant on its own server, requests interleaved so machine noise falls on all alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    with ExitStack() as stack:
        clients = {
            name: stack.enter_context(httpx.Client(base_url=stack.enter_context(served(settings)), headers=headers))
            for name, (settings, headers) in variants.items()
        }
        for round_ in range(requests + 100):  # the first 100 rounds warm up
            for name, client in clients.items():
                started = time.perf_counter()
                status = client.get("/v1/models").status_code
                assert status == 200, status
                if round_ >= 100:
                    samples[name].append((time.perf_counter() - started) * 1000)
    report = {}
    for name, values in samples.items():
        cuts = statistics.quantiles(values, n=100)
        report[name] = {"p50_ms": round(cuts[49], 3), "p90_ms": round(cuts[89], 3)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("rag.access").setLevel(logging.WARNING)  # time the check, not the log handler
    keys = [f"bench-key-{n:04d}-0123456789abcdef" for n in range(args.keys)]
    open_settings = Settings()
    keyed = Settings(
        api_keys=SecretStr(",".join(keys)), rate_limit_per_minute=1e9, rate_limit_burst=10**9, cors_origins=""
    )
    report = {
        **micro(1),
        **micro(args.keys),
        **latencies(
            {
                "open": (open_settings, {}),
                f"keys_{args.keys}_and_limit": (keyed, {"Authorization": f"Bearer {keys[-1]}"}),
            },
            args.requests,
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
