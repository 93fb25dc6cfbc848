"""`rag serve` (API only, hash embedder) in a child process on a free port of 127.0.0.1, and `rag` commands
beside it: for tests that need a real server to rebuild under, break files behind or kill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.loadtest import free_port, stop

REPO = Path(__file__).resolve().parent.parent
SERVE = """
import sys
from rag.config import get_settings
from rag.serve.server import serve
serve(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), with_ui=False)
"""
RAG = "from rag.cli import run; run()"


def hash_settings(corpus: Path, root: Path) -> dict[str, str]:
    """RAG_* settings for ``corpus`` with the hash embedder, index and data under ``root``."""
    return {
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(root / "index"),
        "RAG_DATA_DIR": str(root / "data"),
        "RAG_EMBED_MODEL": "hash",
    }


def rag_env(corpus: Path, root: Path, **extra: str) -> dict[str, str]:
    """Settings for a server and `rag` commands over ``corpus``, with index and data under ``root``;
    the index is looked at every 0.1 s so tests wait little for a swap."""
    return os.environ | hash_settings(corpus, root) | {"RAG_INDEX_CHECK_S": "0.1", **extra}


def rag(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `rag` command line (this checkout's) to completion."""
    return subprocess.run(
        [sys.executable, "-c", RAG, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


class Served:
    def __init__(self, proc: subprocess.Popen[str], base: str):
        self.proc = proc
        self.base = base

    def health_until(self, done: Callable[[httpx.Response], bool], timeout: float = 30) -> httpx.Response:
        """Poll /healthz until ``done`` holds for its response (which is returned)."""
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.get(f"{self.base}/healthz", timeout=10)
            if done(response):
                return response
            assert time.monotonic() < deadline, f"/healthz never got there: {response.status_code} {response.text}"
            time.sleep(0.05)

    def serving_build(self, build_id: str, timeout: float = 30) -> None:
        """Wait until /healthz is 200 with ``build_id`` live."""
        self.health_until(lambda r: r.status_code == 200 and r.json()["index"]["build_id"] == build_id, timeout)


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Served]:
    """A server listening (the banner printed); the index may still be loading. Its stderr goes to ``log``."""
    port = free_port()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()  # printed once the socket is bound; "" if the child died
            assert banner.startswith("report-rag serving on"), f"server did not start: {log.read_text()}"
            yield Served(proc, f"http://127.0.0.1:{port}")
        finally:
            stop(proc, timeout=30)
            proc.communicate()
