"""A real uvicorn server on 127.0.0.1, called with the official OpenAI client."""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from openai import OpenAI

from rag.api import AppState, create_app

Q = "ロボット政策の2027年の目標は？"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(fake_pipeline) -> Iterator[tuple[str, AppState]]:  # type: ignore[no-untyped-def]
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


def test_health_goes_from_loading_to_ready(server, fake_pipeline) -> None:  # type: ignore[no-untyped-def]
    base, state = server
    assert httpx.get(f"{base}/healthz").status_code == 503
    state.swap(fake_pipeline)
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"


def test_openai_client_plain_and_streaming(server, fake_pipeline) -> None:  # type: ignore[no-untyped-def]
    base, state = server
    state.swap(fake_pipeline)
    client = OpenAI(base_url=f"{base}/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == ["report-rag"]
    completion = client.chat.completions.create(model="report-rag", messages=[{"role": "user", "content": Q}])
    content = completion.choices[0].message.content or ""
    assert "[1]" in content and "Sources:" in content and "【1-1】" in content
    extra = completion.model_extra or {}
    assert extra["citations"][0]["section"] == "1-1"
    stream = client.chat.completions.create(model="report-rag", messages=[{"role": "user", "content": Q}], stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"] == extra["citations"]
