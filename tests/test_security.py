"""API keys, rate limiting and CORS: the pieces alone, through the app, and against a real server."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI
from pydantic import SecretStr
from starlette.datastructures import Headers
from test_browser import browser as browser  # the Chromium fixture, for the login test
from test_browser import serve_in_thread

from rag.errors import ConfigError
from rag.serve import security
from rag.serve.app import create_app
from rag.serve.security import KeyRing, RateLimiter, key_id, presented_key
from rag.serve.state import AppState

KEY = "k-test-0123456789abcdef"
OTHER = "k-other-0123456789abcdef"
Q = "ロボット政策の2027年の目標は？"
REPO = Path(__file__).resolve().parent.parent
ORIGIN = "https://reports.example"

MakeClient = Callable[..., TestClient]


class Clock:
    """A hand-driven monotonic clock: bucket arithmetic is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_client(fake_pipeline) -> MakeClient:
    """``make(with_ui=False, **settings)``: a TestClient over the fake pipeline with those settings."""

    def make(with_ui: bool = False, **overrides: Any) -> TestClient:
        if isinstance(overrides.get("api_keys"), str):
            overrides["api_keys"] = SecretStr(overrides["api_keys"])
        settings = fake_pipeline.settings.model_copy(update=overrides)
        return TestClient(create_app(AppState(fake_pipeline), with_ui=with_ui, settings=settings))

    return make


# --- keys ------------------------------------------------------------------------------------------


def test_key_ring_matches_only_configured_keys() -> None:
    ring = KeyRing.from_secret(SecretStr(f" {KEY} ,, {OTHER} "))
    assert ring is not None and len(ring) == 2
    assert ring.match(KEY) == key_id(KEY) and ring.match(OTHER) == key_id(OTHER)
    assert ring.match(KEY + "x") is None and ring.match("") is None and ring.match(None) is None
    assert ring.gradio_auth("anyone", KEY) and not ring.gradio_auth(KEY, "wrong-but-long-enough-guess")
    assert KeyRing.from_secret(None) is None and KeyRing.from_secret(SecretStr(" , ")) is None
    assert len(key_id(KEY)) == 8 and key_id(KEY) not in KEY


def test_key_ring_compares_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # No early exit: a match on the first key costs as many comparisons as a miss.
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(len(a))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", counting)
    ring = KeyRing([KEY, OTHER, "k-third-0123456789abcdef"])
    assert ring.match(KEY) == key_id(KEY)
    assert ring.match("nope-nope-nope-nope") is None
    assert calls == [32] * 6  # three keys each time, all as same-length digests


@pytest.mark.parametrize(
    ("keys", "fix"),
    [
        ("tiny-key", "shorter than 16 characters"),
        ("a key with spaces", "a header cannot carry"),
        ("ключ" * 5, "header"),
    ],
)
def test_bad_keys_are_refused_with_the_fix(keys: str, fix: str) -> None:
    # A setting the server cannot use: a ConfigError (HTTP 500 family), not a client's bad input.
    with pytest.raises(ConfigError, match=fix) as refused:
        KeyRing.from_secret(SecretStr(keys))
    assert "\n" not in str(refused.value) and keys not in str(refused.value)
    assert str(refused.value).startswith("RAG_API_KEYS: ")


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"Authorization": f"Bearer {KEY}"}, KEY),
        ({"authorization": f"bearer   {KEY} "}, KEY),
        ({"X-API-Key": KEY}, KEY),
        ({"Authorization": f"Basic {KEY}"}, None),
        ({"Authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_presented_key(headers: dict[str, str], key: str | None) -> None:
    assert presented_key(Headers(headers)) == key


def test_keys_guard_api_routes_but_not_health_or_docs(make_client: MakeClient) -> None:
    client = make_client(api_keys=f"{KEY},{OTHER}")
    missing = client.post("/api/search", json={"query": Q})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {
        "error": {
            "message": "missing API key: send Authorization: Bearer <key> or X-API-Key: <key>",
            "type": "missing_api_key",
            "status": 401,
        }
    }
    wrong = client.get("/v1/models", headers={"Authorization": "Bearer not-the-key-at-all"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["error"] == {
        "message": "invalid API key: check the key you send",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    # Unknown API paths too: no route list for callers without a key.
    assert client.get("/api/nope").status_code == 401 and client.post("/v1").status_code == 401
    assert client.post("/api/search", json={"query": Q}, headers={"X-API-Key": OTHER}).json()["hits"]
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"] == "report-rag"
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert schema["paths"]["/api/ask"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "401" in schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_without_keys_the_api_is_open(make_client: MakeClient) -> None:
    client = make_client()
    assert client.post("/api/search", json={"query": Q}).status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_ui_login_takes_an_api_key(make_client: MakeClient) -> None:
    client = make_client(with_ui=True, api_keys=KEY)
    assert client.get("/config").status_code == 401  # Gradio's own check: the page shows its login form
    assert client.post("/login", data={"username": "me", "password": "wrong-but-long-enough"}).status_code == 400
    assert client.post("/login", data={"username": "me", "password": KEY}).json() == {"success": True}
    assert client.get("/config").status_code == 200  # the session cookie now stands for the key
    # The API still wants the key itself, not the UI's cookie.
    assert client.post("/api/search", json={"query": Q}).status_code == 401


def test_ui_can_stay_open_while_the_api_is_keyed(make_client: MakeClient) -> None:
    client = make_client(with_ui=True, api_keys=KEY, protect_ui=False)
    assert client.get("/config").status_code == 200
    assert client.post("/api/search", json={"query": Q}).status_code == 401


# --- rate limit --------------------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0  # callers do not share a bucket
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") == pytest.approx(1.0)


def test_buckets_are_bounded_and_idle_ones_dropped() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, max_buckets=5, clock=clock)
    for n in range(50):
        limiter.acquire(f"caller-{n}")
        assert len(limiter) <= 5
    clock.now += 2.0  # time enough for every bucket to refill: they are idle
    limiter.acquire("fresh")
    assert len(limiter) == 1


def test_bucket_is_thread_safe() -> None:
    limiter = RateLimiter(per_minute=1, burst=100, clock=Clock())  # a frozen clock: no refill
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        granted.extend(limiter.acquire("shared") == 0.0 for _ in range(50))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(granted) == 400 and sum(granted) == 100


def test_rate_limit_answers_429_with_retry_after(make_client: MakeClient) -> None:
    client = make_client(rate_limit_per_minute=6, rate_limit_burst=2)  # a token every 10 s
    ok = [client.post("/api/search", json={"query": Q}).status_code for _ in range(2)]
    limited = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": Q}]})
    assert ok == [200, 200] and limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    assert limited.json()["error"]["code"] == "rate_limited" and "retry in" in limited.json()["error"]["message"]
    assert client.post("/api/search", json={"query": Q}).json()["error"]["type"] == "rate_limited"
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))


def test_rate_limit_is_per_key(make_client: MakeClient) -> None:
    client = make_client(api_keys=f"{KEY},{OTHER}", rate_limit_per_minute=1, rate_limit_burst=1)
    first, second = ({"X-API-Key": k} for k in (KEY, OTHER))
    assert client.get("/v1/models", headers=first).status_code == 200
    assert client.get("/v1/models", headers=first).status_code == 429
    assert client.get("/v1/models", headers=second).status_code == 200
    # Wrong keys count against the address: guessing runs into the limit.
    assert client.get("/v1/models", headers={"X-API-Key": "guess-guess-guess-1"}).status_code == 401
    assert client.get("/v1/models", headers={"X-API-Key": "guess-guess-guess-2"}).status_code == 429


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 5), (60, 0)])
def test_zero_disables_the_limit(make_client: MakeClient, per_minute: float, burst: int) -> None:
    client = make_client(rate_limit_per_minute=per_minute, rate_limit_burst=burst)
    assert {client.get("/v1/models").status_code for _ in range(30)} == {200}


# --- CORS --------------------------------------------------------------------------------------------


def test_cors_preflight_needs_no_key(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY, cors_origins=f"{ORIGIN}, http://localhost:3000")
    preflight = client.options(
        "/api/ask",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    # A 401 still carries the CORS header, so the browser's script can read why.
    refused = client.post("/api/search", json={"query": Q}, headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
    allowed = client.post("/api/search", json={"query": Q}, headers={"Origin": ORIGIN, "X-API-Key": KEY})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = client.post("/api/search", json={"query": Q}, headers={"Origin": "https://evil.example", "X-API-Key": KEY})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default(make_client: MakeClient) -> None:
    response = make_client().post("/api/search", json={"query": Q}, headers={"Origin": ORIGIN})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


# --- a real server -----------------------------------------------------------------------------------

SERVE = """
import sys
from rag.config import get_settings
from rag.serve.server import serve
serve(get_settings(), host="127.0.0.1", port=int(sys.argv[1]), with_ui=False)
"""


@pytest.fixture
def keyed_server(sample_corpus: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`serve` in a child process with two keys and a tiny rate limit (4 at once, then 1 a minute)."""
    from serve_process import free_port, hash_settings

    port = free_port()
    env = (
        os.environ
        | hash_settings(sample_corpus, tmp_path)
        | {
            "RAG_API_KEYS": f"{KEY},{OTHER}",
            "RAG_RATE_LIMIT_PER_MINUTE": "1",
            "RAG_RATE_LIMIT_BURST": "4",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _ready(base):
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz").status_code == 200
    except httpx.ConnectError:
        return False


def test_real_server_with_the_openai_client(keyed_server: tuple[str, subprocess.Popen[str]]) -> None:
    base, proc = keyed_server
    messages: Any = [{"role": "user", "content": Q}]

    def client(key: str) -> OpenAI:
        return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)

    with client("not-a-key-of-ours") as stranger, pytest.raises(openai.AuthenticationError) as refused:
        stranger.models.list()
    assert refused.value.status_code == 401 and refused.value.response.headers["www-authenticate"] == "Bearer"
    assert refused.value.code == "invalid_api_key"

    with client(KEY) as keyed:
        assert [m.id for m in keyed.models.list()] == ["report-rag"]
        completion = keyed.chat.completions.create(model="report-rag", messages=messages)
        assert "[1]" in (completion.choices[0].message.content or "")
        with keyed.chat.completions.create(model="report-rag", messages=messages, stream=True) as stream:
            streamed = "".join(c.choices[0].delta.content or "" for c in stream)
        assert streamed == completion.choices[0].message.content
        assert keyed.models.retrieve("report-rag").id == "report-rag"  # the 4th request: the burst is spent
        with pytest.raises(openai.RateLimitError) as limited:
            keyed.models.list()
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60
    assert limited.value.code == "rate_limited"
    # Another key has its own bucket; health checks are never limited.
    with client(OTHER) as other:
        assert other.models.list().data[0].id == "report-rag"
    assert {httpx.get(f"{base}/healthz").status_code for _ in range(10)} == {200}

    proc.terminate()
    _, err = proc.communicate(timeout=30)
    lines = [line for line in err.splitlines() if '"logger": "rag.access"' in line]
    assert len(lines) >= 17 and KEY not in err and OTHER not in err and Q not in err
    assert f'"key_id": "{key_id(KEY)}"' in err and '"status": 429' in err


@pytest.fixture
def keyed_ui(fake_pipeline) -> Iterator[str]:
    """The app with the UI and a key, served on a free 127.0.0.1 port."""
    settings = fake_pipeline.settings.model_copy(update={"api_keys": SecretStr(KEY)})
    with serve_in_thread(create_app(AppState(fake_pipeline), settings=settings)) as url:
        yield url


@pytest.mark.browser
def test_ui_login_in_a_real_browser(keyed_ui: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(keyed_ui)
    password = page.locator("input[type=password]")
    password.wait_for(timeout=30_000)
    assert page.locator("#rr-question").count() == 0  # nothing of the chat before the login
    page.locator("input[type=text]").fill("reader")
    password.fill("not-the-key-at-all")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect Credentials", exact=False).wait_for(timeout=10_000)
    page.locator("input[type=text]").fill("reader")  # Gradio empties the form after a failure
    password.fill(KEY)
    page.get_by_role("button", name="Login").click()
    page.fill("#rr-question textarea", Q)  # waits for the chat to appear after the reload
    page.keyboard.press("Enter")
    page.locator("#rr-chat .rr-sources").first.wait_for(timeout=30_000)
    assert "【1-1】" in page.locator('#rr-chat [data-testid="bot"]').first.inner_text()
    page.close()
