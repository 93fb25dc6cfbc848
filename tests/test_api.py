"""The HTTP contract through the real app: shapes, errors and the OpenAI-compatible endpoint."""

import json

import pytest
from fastapi.testclient import TestClient

from rag.api import MAX_BODY_BYTES, AppState, create_app

Q = "ロボット政策の2027年の目標は？"


@pytest.fixture
def client(fake_pipeline) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(AppState(fake_pipeline), with_ui=False))


def test_healthz_reports_the_index(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["index"]["chunks"] > 0


def test_healthz_503_while_not_ready() -> None:
    client = TestClient(create_app(AppState(reason="loading"), with_ui=False))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["reason"] == "loading"
    ask = client.post("/api/ask", json={"question": Q})
    assert ask.status_code == 503 and "not ready" in ask.json()["error"]["message"]


def test_search_shape(client: TestClient) -> None:
    response = client.post("/api/search", json={"query": "ロボット政策", "k": 2})
    assert response.status_code == 200 and response.headers["x-request-id"]
    body = response.json()
    assert body["language"] == "ja" and len(body["hits"]) == 2 and body["took_ms"] >= 0
    assert {"rank", "chunk_id", "section", "title", "text", "score"} <= set(body["hits"][0])


def test_ask_shape_and_citations(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": Q, "history": [{"role": "user", "content": "前の質問"}]}).json()
    assert body["language"] == "ja" and body["abstained"] is False
    assert body["citations"] and body["citations"][0]["section"] == "1-1"
    assert body["citations"][0]["quote"] in body["answer"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"question": 5}, 422),
        ({"question": Q, "unknown": 1}, 422),
        ({"question": Q, "k": 0}, 422),
        ({"question": Q, "k": 1000}, 422),
        ({"question": "   "}, 422),
        ({"question": "🤖🤖🤖"}, 422),
        ({"question": "あ" * 2000}, 413),
    ],
)
def test_ask_errors(client: TestClient, payload: dict, status: int) -> None:  # type: ignore[type-arg]
    response = client.post("/api/ask", json=payload)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_malformed_json_unknown_route_and_big_body(client: TestClient) -> None:
    bad = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]["message"]
    assert client.get("/nope").status_code == 404
    big = client.post("/api/ask", content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert big.status_code == 413


def test_chat_completions_plain_and_streaming(client: TestClient) -> None:
    messages = [{"role": "user", "content": Q}]
    plain = client.post("/v1/chat/completions", json={"model": "report-rag", "messages": messages, "temperature": 0})
    body = plain.json()
    content = body["choices"][0]["message"]["content"]
    assert body["object"] == "chat.completion" and "Sources:" in content and body["citations"]
    with client.stream("POST", "/v1/chat/completions", json={"messages": messages, "stream": True}) as stream:
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"] == body["citations"]
    assert client.get("/v1/models").json()["data"][0]["id"] == "report-rag"


def test_chat_without_user_message_is_422(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert response.status_code == 422


@pytest.mark.integration
def test_real_answers_through_the_api(real_pipeline) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(AppState(real_pipeline), with_ui=False))
    ja = client.post("/api/ask", json={"question": "中国のAIコア産業の規模は2025年にどのくらいですか？"}).json()
    assert ja["language"] == "ja" and not ja["abstained"] and "2-1" in [c["section"] for c in ja["citations"]]
    en = client.post("/api/ask", json={"question": "How many AI-related companies were registered in China by 2025?"})
    body = en.json()
    assert body["language"] == "en" and body["citations"] and all(c["section"] for c in body["citations"])
