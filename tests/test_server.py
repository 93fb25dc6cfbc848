"""A real uvicorn server on 127.0.0.1: the official OpenAI client against it, and `serve` end to end."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openai import OpenAI

from rag.serve.app import create_app
from rag.serve.state import AppState

Q = "ロボット政策の2027年の目標は？"
REPO = Path(__file__).resolve().parent.parent

# `serve` in a child process, with loading and searching slowed down (our own Pipeline, patched in
# the child only) so the test can watch /healthz say "loading" and SIGTERM meet an in-flight request.
SERVE = """
import sys, time
from rag.pipeline import Pipeline
load, search = Pipeline.load.__func__, Pipeline.search
Pipeline.load = classmethod(lambda cls, *a, **kw: (time.sleep(1.5), load(cls, *a, **kw))[1])
def slow_search(self, *a, **kw):
    print("searching", flush=True)  # tells the test the request is in flight, so it need not guess
    time.sleep(1.5)
    return search(self, *a, **kw)
Pipeline.search = slow_search
from rag.config import get_settings
from rag.serve.server import serve
serve(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), with_ui=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(fake_pipeline) -> Iterator[tuple[str, AppState]]:
    state = AppState(reason="loading")
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(state, with_ui=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}", state
    srv.should_exit = True
    thread.join(timeout=10)


def test_health_goes_from_loading_to_ready(server, fake_pipeline) -> None:
    base, state = server
    loading = httpx.get(f"{base}/healthz")
    assert loading.status_code == 503 and loading.json() == {"status": "unavailable", "reason": "loading"}
    state.swap(fake_pipeline)
    assert httpx.get(f"{base}/healthz").json()["index"] == fake_pipeline.summary()


def test_openai_client_plain_and_streaming(server, fake_pipeline) -> None:
    base, state = server
    state.swap(fake_pipeline)
    client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["report-rag"]
    messages = [{"role": "user", "content": Q}]
    create: Any = client.chat.completions.create  # the messages are plain dicts, as most callers send them
    completion = create(model="report-rag", messages=messages, temperature=0, max_tokens=200)
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    assert "[1]" in content and "\n\n出典:\n[1] 【1-1】" in content  # the Sources list in the asker's language
    extra = completion.model_extra or {}
    assert extra["citations"][0]["section"] == "1-1" and extra["citations"][0]["quote"] in content

    stream = create(model="report-rag", messages=messages, stream=True)
    chunks = list(stream)  # the client stops at "data: [DONE]"; a missing one would hang or raise
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"] == extra["citations"]


def test_openai_client_sees_errors_as_exceptions(server) -> None:
    import openai

    base, _ = server
    client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError) as not_ready:
        client.chat.completions.create(model="report-rag", messages=[{"role": "user", "content": Q}])
    assert not_ready.value.status_code == 503 and "not ready" in not_ready.value.message
    with pytest.raises(openai.UnprocessableEntityError) as no_question:
        client.chat.completions.create(model="report-rag", messages=[{"role": "system", "content": "hi"}])
    assert "user message" in no_question.value.message


def test_serve_loads_in_background_and_drains_on_sigterm(sample_corpus: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "RAG_CORPUS_DIR": str(sample_corpus),
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "RAG_EMBED_MODEL": "hash",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"report-rag serving on {base} (API docs at /docs)"
        # The banner comes once the socket is bound; the index is still loading behind it.
        loading = httpx.get(f"{base}/healthz")
        assert loading.status_code == 503 and loading.json()["reason"] == "loading the model and index"
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/healthz").status_code != 200:
            assert time.monotonic() < deadline, "not ready in 30 s"
            time.sleep(0.1)
        assert proc.stdout.readline().startswith("ready in ")

        results: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: results.append(httpx.post(f"{base}/api/search", json={"query": Q}, timeout=30))
        )
        request.start()
        assert proc.stdout.readline().strip() == "searching"  # the search (slowed to 1.5 s) is in flight
        proc.send_signal(signal.SIGTERM)
        request.join(timeout=30)
        assert results and results[0].status_code == 200 and results[0].json()["hits"]
        # uvicorn re-raises the signal once drained, so the exit status says "terminated by SIGTERM".
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps the child and closes its stdout pipe
