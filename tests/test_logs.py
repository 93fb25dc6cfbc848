"""Access lines and log formatting: what a request logs, and what it never logs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rag.serve import logs
from rag.serve.app import create_app
from rag.serve.logs import JsonFormatter, Redactor, TextFormatter
from rag.serve.middleware import MAX_BODY_BYTES, access_level
from rag.serve.security import key_id
from rag.serve.state import AppState

KEY = "k-log-test-0123456789abcdef"
WRONG = "k-wrong-guess-0123456789"
Q = "ロボット政策の2027年の目標は？"


@pytest.fixture
def access_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The access lines logged so far, as the JSON formatter writes them (no secrets given to redact,
    so a key in a line would show)."""
    caplog.set_level(logging.INFO, logger="rag.access")
    formatter = JsonFormatter()

    def lines() -> list[dict[str, Any]]:
        texts = [formatter.format(r) for r in caplog.records if r.name == "rag.access"]
        for text in texts:
            assert KEY not in text and WRONG not in text and "authorization" not in text.lower()
            assert "\n" not in text
        return [json.loads(t) for t in texts]

    return lines


def _client(fake_pipeline: Any, **overrides: Any) -> TestClient:
    settings = fake_pipeline.settings.model_copy(update={"api_keys": SecretStr(KEY), **overrides})
    return TestClient(create_app(AppState(fake_pipeline), with_ui=False, settings=settings))


def _requests(client: TestClient) -> list[str]:
    """A keyed ask, a keyed streamed chat and a wrong key; the request ids, in order."""
    ask = client.post("/api/ask", json={"question": Q}, headers={"Authorization": f"Bearer {KEY}"})
    chat = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": Q}], "stream": True},
        headers={"X-API-Key": KEY, "X-Request-ID": "chat-1"},
    )
    wrong = client.post("/api/ask", json={"question": Q}, headers={"Authorization": f"Bearer {WRONG}"})
    assert ask.status_code == 200 and chat.status_code == 200 and "[DONE]" in chat.text and wrong.status_code == 401
    return [r.headers["x-request-id"] for r in (ask, chat, wrong)]


def test_access_lines_carry_the_facts_but_no_key_or_question(fake_pipeline, access_lines) -> None:
    ids = _requests(_client(fake_pipeline))
    ask, chat, wrong = access_lines()
    assert ask["request_id"] == ids[0] and chat["request_id"] == "chat-1" and wrong["request_id"] == ids[2]
    assert ask["logger"] == "rag.access" and ask["level"] == "INFO"
    assert {k: ask[k] for k in ("method", "path", "route", "status", "language", "abstained", "key_id")} == {
        "method": "POST",
        "path": "/api/ask",
        "route": "/api/ask",
        "status": 200,
        "language": "ja",
        "abstained": False,
        "key_id": key_id(KEY),
    }
    assert isinstance(ask["latency_ms"], float) and ask["latency_ms"] > 0
    # A stream's line is written after its last event, so it knows the answer.
    assert chat["route"] == "/v1/chat/completions" and chat["language"] == "ja" and chat["abstained"] is False
    assert chat["key_id"] == key_id(KEY)
    assert wrong["status"] == 401 and "key_id" not in wrong and "language" not in wrong
    assert all("question" not in line and Q not in json.dumps(line, ensure_ascii=False) for line in (ask, chat))


def test_questions_are_logged_only_when_asked_for(fake_pipeline, access_lines) -> None:
    _requests(_client(fake_pipeline, log_questions=True))
    ask, chat, wrong = access_lines()
    assert ask["question"] == Q and chat["question"] == Q
    assert "question" not in wrong  # refused before the endpoint read it


def test_a_refused_body_is_logged_too(fake_pipeline, access_lines) -> None:
    client = _client(fake_pipeline)
    big = client.post("/api/ask", content=b"x" * (MAX_BODY_BYTES + 1), headers={"X-API-Key": KEY})
    assert big.status_code == 413
    (line,) = access_lines()
    assert line["status"] == 413 and line["route"] == "/api/ask"


def test_redactor_scrubs_bearer_tokens_and_keys() -> None:
    redact = Redactor([KEY, 'k-with"quote-0123456789'])
    assert redact(f"Authorization: Bearer {WRONG}, then") == "Authorization: Bearer [redacted], then"
    assert redact(f"x-api-key={KEY}") == "x-api-key=[redacted]"
    record = logging.LogRecord("lib", logging.WARNING, __file__, 1, "sent %s", ('k-with"quote-0123456789',), None)
    line = JsonFormatter([KEY, 'k-with"quote-0123456789']).format(record)
    assert json.loads(line)["msg"] == "sent [redacted]"
    text = TextFormatter([KEY]).format(logging.LogRecord("lib", logging.ERROR, __file__, 1, KEY, (), None))
    assert text == "ERROR lib: [redacted]"


def test_json_lines_keep_cjk_and_exceptions() -> None:
    try:
        raise ValueError("壊れた")
    except ValueError:
        record = logging.LogRecord("rag.x", logging.ERROR, __file__, 1, "失敗: %s", ("索引",), sys.exc_info())
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "失敗: 索引" in line and entry["level"] == "ERROR" and entry["logger"] == "rag.x"
    assert "ValueError: 壊れた" in entry["exc"] and entry["ts"].endswith("+00:00")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root handlers and the access level that ``configure`` replaces."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], logs.ACCESS.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    logs.ACCESS.setLevel(level)


@pytest.mark.parametrize("json_lines", [True, False])
def test_configure_routes_everything_through_one_handler(
    root_logging: None, capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    logs.configure(json_lines, secrets=[KEY])
    logging.getLogger("some.library").warning("calling with key %s", KEY)
    logs.log_request(
        {"request_id": "r1", "method": "GET", "path": "/v1/models", "status": 200, "latency_ms": 1.25, "key_id": "ab"}
    )
    first, second = capsys.readouterr().err.splitlines()
    if json_lines:
        assert json.loads(first)["msg"] == "calling with key [redacted]"
        access = json.loads(second)
        assert access["msg"] == "GET /v1/models 200 1.2ms id=r1 key_id=ab" and access["status"] == 200
    else:
        assert first == "WARNING some.library: calling with key [redacted]"
        assert second == "INFO rag.access: GET /v1/models 200 1.2ms id=r1 key_id=ab"


def test_page_files_are_logged_at_debug_only(fake_pipeline, caplog: pytest.LogCaptureFixture) -> None:
    """A page load fetches about a hundred files: one INFO line each filled `make run`'s terminal."""
    caplog.set_level(logging.DEBUG, logger="rag.access")
    client = TestClient(create_app(AppState(fake_pipeline), settings=fake_pipeline.settings))
    page = client.get("/")
    assets = [client.get(path) for path in ("/theme.css", "/config", "/docs", "/static-offline-docs/swagger-ui.css")]
    assert page.status_code == 200 and all(r.status_code == 200 for r in assets)
    client.post("/api/ask", json={"question": Q})
    client.get("/healthz")
    client.get("/no/such/page.js")
    levels = {r.fields["path"]: r.levelname for r in caplog.records if r.name == "rag.access"}  # type: ignore[attr-defined]
    assert levels["/api/ask"] == levels["/healthz"] == "INFO"
    assert levels["/no/such/page.js"] == "INFO"  # a failed request is worth a line wherever it went
    assert {levels[p] for p in ("/", "/theme.css", "/config", "/docs", "/static-offline-docs/swagger-ui.css")} == {
        "DEBUG"
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "level"),
    [
        ("POST", "/api/search", 200, logging.INFO),
        ("GET", "/v1/models", 200, logging.INFO),
        ("POST", "/gradio_api/queue/join", 200, logging.INFO),  # a question asked in the chat
        ("GET", "/assets/index-abc.js", 200, logging.DEBUG),
        ("GET", "/gradio_api/heartbeat/x", 200, logging.DEBUG),
        ("GET", "/favicon.ico", 404, logging.INFO),
        ("GET", "/", 0, logging.INFO),  # the client went away before a response
    ],
)
def test_access_level(method: str, path: str, status: int, level: int) -> None:
    assert access_level(method, path, status) == level


def test_configure_shows_page_files_at_debug(root_logging: None) -> None:
    logs.configure(True, level="debug")
    assert logs.ACCESS.isEnabledFor(logging.DEBUG)
    logs.configure(True, level="warning")
    assert logs.ACCESS.isEnabledFor(logging.INFO) and not logs.ACCESS.isEnabledFor(logging.DEBUG)
