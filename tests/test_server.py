"""A real uvicorn server on 127.0.0.1: the official OpenAI client against it, and `serve` end to end."""

import json
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
from serve_process import rag, rag_env

from bench import loadtest
from rag.chunking import count_tokens
from rag.feedback import FeedbackStore
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

    # usage in tiktoken's cl100k tokens, as OpenAI counts them: the message (role, text, framing), the content.
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3 + count_tokens("user") + count_tokens(Q) + 3
    assert completion.usage.completion_tokens == count_tokens(content) > 20
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    stream = create(model="report-rag", messages=messages, stream=True)
    chunks = list(stream)  # the client stops at "data: [DONE]"; a missing one would hang or raise
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"] == extra["citations"]

    # max_tokens cuts the content, plain and streamed alike, and says so.
    short = create(model="report-rag", messages=messages, max_tokens=12)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 12
    assert content.startswith(short.choices[0].message.content) and len(short.choices[0].message.content) < len(content)
    streamed = list(create(model="report-rag", messages=messages, max_tokens=12, stream=True,
                           stream_options={"include_usage": True}))  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == short.choices[0].message.content
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "length"
    assert streamed[-1].choices == [] and streamed[-1].usage == short.usage


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


# `serve` with two worker processes, API only (the UI would import Gradio in each).
WORKERS = """
import sys
from rag.config import get_settings
from rag.serve.server import serve
serve(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), with_ui=False, workers=2)
"""


def _fresh(url: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection: the kernel hands each connection to either worker."""
    with httpx.Client(timeout=30) as http:
        return http.request(kwargs.pop("method", "GET"), url, **kwargs)


def _pids(log: Path, path: str) -> set[int]:
    """The processes whose access lines (JSON) show requests to ``path``."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return {line["pid"] for line in lines if line.get("logger") == "rag.access" and line.get("path") == path}


def test_workers_share_the_index_and_the_feedback_file_and_each_swaps_in_a_rebuild(
    sample_corpus: Path, tmp_path: Path
) -> None:
    env = rag_env(sample_corpus, tmp_path)
    log = tmp_path / "server.log"
    with loadtest.server(env=env, code=WORKERS, ready_within=90, log=log) as (base, pid):
        workers = loadtest.descendants(pid)
        deadline = time.monotonic() + 60  # /healthz is 200 once one worker is ready: wait for both
        while log.read_text().count("ready in ") < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        build = _fresh(f"{base}/healthz").json()["index"]["build_id"]
        for n in range(40):
            assert _fresh(f"{base}/healthz").json()["index"]["build_id"] == build
            search = _fresh(f"{base}/api/search", method="POST", json={"query": Q})
            rating = {"question": f"{Q} {n}", "answer": "…", "citations": [], "vote": "up"}
            assert (
                search.status_code == 200
                and _fresh(f"{base}/api/feedback", method="POST", json=rating).status_code == 201
            )
        assert len(_pids(log, "/api/search")) == 2 and _pids(log, "/api/search") <= set(workers)
        # Both workers wrote to the one SQLite file (WAL, a busy timeout): every rating is there once.
        assert len(_pids(log, "/api/feedback")) == 2
        rows = FeedbackStore(tmp_path / "data" / "feedback.sqlite3").export()
        assert sorted(r["question"] for r in rows) == sorted(f"{Q} {n}" for n in range(40))

        rebuilt = rag(env, "build", "--force", "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        new = json.loads(rebuilt.stdout)["manifest"]["build_id"]
        deadline = time.monotonic() + 30
        while not all(_fresh(f"{base}/healthz").json()["index"]["build_id"] == new for _ in range(20)):
            assert time.monotonic() < deadline, "a worker kept the old build"
            time.sleep(0.2)
