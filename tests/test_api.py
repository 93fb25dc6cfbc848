"""The HTTP contract through the real app: shapes, errors and the OpenAI-compatible endpoint."""

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.chunking import count_tokens
from rag.pipeline import Pipeline
from rag.serve.app import create_app
from rag.serve.middleware import MAX_BODY_BYTES
from rag.serve.state import AppState

Q = "ロボット政策の2027年の目標は？"
JSON = {"content-type": "application/json"}
SECTION_RE = re.compile(r"^\d+-\d+$|^\d+のまとめ$")  # "2-1", "4のまとめ"


@pytest.fixture
def client(fake_pipeline) -> TestClient:
    return TestClient(create_app(AppState(fake_pipeline), with_ui=False))


def test_healthz_reports_the_index(client: TestClient, fake_pipeline) -> None:
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "index": fake_pipeline.summary()}
    assert body["index"]["chunks"] > 0


def test_not_ready_is_503_everywhere_until_swapped(fake_pipeline) -> None:
    state = AppState(reason="loading")
    client = TestClient(create_app(state, with_ui=False))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json() == {"status": "unavailable", "reason": "loading"}
    ask = client.post("/api/ask", json={"question": Q})
    assert ask.status_code == 503 and "not ready: loading" in ask.json()["error"]["message"]
    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": Q}]})
    assert chat.status_code == 503 and chat.json()["error"]["type"] == "server_error"
    state.swap(fake_pipeline)
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/ask", json={"question": Q}).status_code == 200
    state.fail("index corrupted: run `rag build`")
    assert client.get("/healthz").json()["reason"] == "index corrupted: run `rag build`"


def test_search_shape(client: TestClient) -> None:
    response = client.post("/api/search", json={"query": "ロボット政策", "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "ロボット政策" and body["language"] == "ja"
    assert len(body["hits"]) == 2 and body["took_ms"] > 0
    hit = body["hits"][0]
    assert {"rank", "chunk_id", "section", "title", "text", "score"} <= set(hit)
    assert hit["rank"] == 1 and hit["section"] == "1-1" and [h["rank"] for h in body["hits"]] == [1, 2]


def test_top_k_setting_is_the_default_k(fake_pipeline: Pipeline) -> None:
    settings = fake_pipeline.settings.model_copy(update={"top_k": 3})
    pipeline = Pipeline(settings, fake_pipeline.report, fake_pipeline.embedder, fake_pipeline.index)
    client = TestClient(create_app(AppState(pipeline), with_ui=False))
    assert len(client.post("/api/search", json={"query": Q}).json()["hits"]) == 3
    assert len(client.post("/api/ask", json={"question": Q}).json()["hits"]) == 3
    assert len(client.post("/api/search", json={"query": Q, "k": 1}).json()["hits"]) == 1
    assert len(client.post("/api/search", json={"query": Q, "k": None}).json()["hits"]) == 3


@pytest.mark.parametrize(("query", "language"), [("robot policy", "en"), ("机器人政策的目标是什么", "zh")])
def test_search_detects_the_language(client: TestClient, query: str, language: str) -> None:
    assert client.post("/api/search", json={"query": query}).json()["language"] == language


def test_ask_shape_and_citations(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": Q}).json()
    assert body["language"] == "ja" and body["abstained"] is False and body["took_ms"] > 0
    assert body["citations"] and body["citations"][0]["section"] == "1-1"
    for c in body["citations"]:
        assert set(c) == {"n", "chunk_id", "section", "title", "quote", "quote_original", "title_original"}
        assert c["quote_original"] == c["quote"] and c["title_original"] == c["title"]  # a Japanese question
        assert f"[{c['n']}]" in body["answer"]
    # The table row reads as its columns: the row's own cells are all in the answer.
    assert all(cell in body["answer"] for cell in body["citations"][0]["quote"].split(" | "))
    assert body["intent"] == "content" and "span" in body
    assert {c["chunk_id"] for c in body["citations"]} <= {h["chunk_id"] for h in body["hits"]}


def test_ask_passes_history_to_the_pipeline(client: TestClient, fake_pipeline) -> None:
    history = [{"role": "user", "content": "DeepSeekとGPT-4.5"}]
    body = client.post("/api/ask", json={"question": "価格差は？", "history": history}).json()
    with_history = [h.chunk.id for h in fake_pipeline.ask("価格差は？", history=history).hits]
    alone = [h.chunk.id for h in fake_pipeline.ask("価格差は？").hits]
    assert [h["chunk_id"] for h in body["hits"]] == with_history != alone


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"question": 5}, 422),
        ({"question": Q, "k": "5"}, 422),
        ({"question": Q, "unknown": 1}, 422),
        ({"question": Q, "k": 0}, 422),
        ({"question": Q, "k": 1000}, 422),
        ({"question": Q, "history": [{"role": "robot", "content": "x"}]}, 422),
        ({"question": ""}, 422),
        ({"question": "   "}, 422),
        ({"question": "🤖🤖🤖"}, 422),
        ({"question": "？！…"}, 422),
        ({"question": "あ" * 2000}, 413),
    ],
)
def test_ask_errors(client: TestClient, payload: dict, status: int) -> None:
    response = client.post("/api/ask", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status and error["message"] and "Traceback" not in response.text
    if status == 413:
        assert error["type"] == "question_too_long" and "2000" in error["message"]


def test_search_errors(client: TestClient) -> None:
    assert client.post("/api/search", json={"query": "x", "k": 51}).status_code == 422
    assert client.post("/api/search", json={"k": 3}).json()["error"]["message"] == "query: Field required"
    assert client.post("/api/search", json={"query": "?!", "k": 3}).json()["error"]["type"] == "input_error"


def test_malformed_json_unknown_route_and_wrong_method(client: TestClient) -> None:
    bad = client.post("/api/ask", content=b"{not json", headers=JSON)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "bad_json"
    for path in ("/nope", "/api/nope"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    for method, path, allow in [
        ("GET", "/api/search", "POST"),
        ("TRACE", "/healthz", "GET"),
        ("QUERY", "/v1/models", "GET"),
    ]:
        wrong = client.request(method, path)
        assert wrong.status_code == 405 and wrong.headers["allow"] == allow and wrong.json()["error"]["message"]


def test_errors_stay_json_with_the_ui_mounted(fake_pipeline) -> None:
    # Gradio, mounted at "/", would otherwise answer whatever our routes leave.
    client = TestClient(create_app(AppState(fake_pipeline)))
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.post("/api/search", json={"query": "ロボット"}).json()["hits"]
    assert client.get("/api/nope").json()["error"]["type"] == "not_found"
    assert client.post("/v1/nope").json()["error"]["type"] == "not_found_error"
    wrong = client.delete("/api/ask")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and wrong.json()["error"]["status"] == 405


def test_body_limit_with_and_without_length(client: TestClient) -> None:
    big = b'{"question": "' + b"x" * MAX_BODY_BYTES + b'"}'
    sized = client.post("/api/ask", content=big, headers=JSON)
    assert sized.status_code == 413 and sized.json()["error"]["type"] == "body_too_large"
    # A generator body goes out chunked, without Content-Length: the limit must still hold.
    chunked = client.post("/api/ask", content=iter([big[:1000], big[1000:]]), headers=JSON)
    assert chunked.status_code == 413
    small = client.post("/api/ask", content=iter([b'{"question": ', json.dumps(Q).encode() + b"}"]), headers=JSON)
    assert small.status_code == 200 and small.json()["citations"]


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id;<x>"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", made)
    assert client.get("/nope").headers["x-request-id"]  # errors carry one too


def test_chat_completions_plain_and_streaming(client: TestClient) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": Q}]
    params = {"model": "report-rag", "messages": messages, "temperature": 0.7, "top_p": 0.5, "logprobs": False}
    plain = client.post("/v1/chat/completions", json=params)
    body = plain.json()
    assert plain.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "report-rag"
    content = body["choices"][0]["message"]["content"]
    answer, sources = content.split("\n\n出典:\n")  # the Sources list in the asker's language
    assert body["citations"] and body["language"] == "ja" and body["abstained"] is False
    first = body["citations"][0]
    assert sources.splitlines()[0].startswith(f"[1] 【{first['section']}】{first['title']} — “")
    assert "[1]" in answer

    with client.stream("POST", "/v1/chat/completions", json={"messages": messages, "stream": True}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"] == body["citations"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_chat_stream_usage_chunk_when_asked(client: TestClient) -> None:
    payload = {"messages": [{"role": "user", "content": Q}], "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=payload) as stream:
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    usage = json.loads(events[-2])
    content = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert usage["choices"] == [] and events[-1] == "[DONE]"
    assert usage["usage"]["completion_tokens"] == count_tokens(content) > 0
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]


def test_chat_sampling_parameters_change_nothing_and_max_tokens_cuts(client: TestClient) -> None:
    messages = [{"role": "user", "content": Q}]
    plain = client.post("/v1/chat/completions", json={"messages": messages}).json()
    sampled = client.post(
        "/v1/chat/completions", json={"messages": messages, "temperature": 1.5, "top_p": 0.1, "seed": 7}
    ).json()
    assert sampled["choices"] == plain["choices"] and sampled["usage"] == plain["usage"]
    whole = plain["choices"][0]["message"]["content"]
    for field in ("max_tokens", "max_completion_tokens"):
        cut = client.post("/v1/chat/completions", json={"messages": messages, field: 5}).json()
        assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 5
        assert whole.startswith(cut["choices"][0]["message"]["content"]) and cut["citations"] == plain["citations"]
    roomy = client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 4000}).json()
    assert roomy["choices"] == plain["choices"]
    assert client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 0}).status_code == 422
    schema = client.get("/openapi.json").json()
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert "temperature" in chat["description"] and "no effect" in chat["description"]


def test_chat_reads_the_last_user_message_with_content_parts(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": "DeepSeekとGPT-4.5"},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": [{"type": "text", "text": "価格差は？"}]},
    ]
    chat = client.post("/v1/chat/completions", json={"messages": messages}).json()
    ask = client.post("/api/ask", json={"question": "価格差は？", "history": messages[:2]}).json()
    assert chat["citations"] == ask["citations"] and chat["choices"][0]["message"]["content"].startswith(ask["answer"])


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": [{"role": "system", "content": "hi"}]}, None),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": Q}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": Q}], "stream": "yes"}, "stream"),
    ],
)
def test_chat_errors_use_openais_shape(client: TestClient, payload: dict, param: str | None) -> None:
    response = client.post("/v1/chat/completions", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_v1_not_found_and_models(client: TestClient) -> None:
    missing = client.get("/v1/nope").json()["error"]
    assert missing["type"] == "not_found_error" and missing["code"] == "not_found"
    assert client.get("/v1/models").json()["data"] == [
        {"id": "report-rag", "object": "model", "created": 0, "owned_by": "report-rag"}
    ]
    assert client.get("/v1/models/report-rag").json()["id"] == "report-rag"
    assert client.get("/v1/models/gpt-4").status_code == 404


def test_openapi_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/healthz",
        "/api/search",
        "/api/ask",
        "/api/feedback",
        "/v1/models",
        "/v1/models/{model_id}",
        "/v1/chat/completions",
    }
    ask = schema["paths"]["/api/ask"]["post"]["responses"]
    assert ask["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert ask["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskResponse")
    chat = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert set(chat["200"]["content"]) == {"application/json", "text/event-stream"}
    assert chat["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIErrorResponse")
    assert schema["components"]["schemas"]["SearchRequest"]["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


@pytest.mark.integration
def test_real_answers_through_the_api(real_pipeline) -> None:
    client = TestClient(create_app(AppState(real_pipeline), with_ui=False))
    ja = client.post("/api/ask", json={"question": "中国のAIコア産業の規模は2025年にどのくらいですか？"}).json()
    assert ja["language"] == "ja" and not ja["abstained"] and "2-1" in [c["section"] for c in ja["citations"]]
    assert "1.2兆元" in ja["answer"]
    en = client.post("/api/ask", json={"question": "How many AI-related companies were registered in China by 2025?"})
    body = en.json()
    assert body["language"] == "en" and not body["abstained"] and body["citations"]
    assert all(SECTION_RE.match(c["section"]) for c in body["citations"]), body["citations"]
    # English from the edition, the Japanese original in the citation.
    assert "**4.9 million**" in body["answer"] and "490万社" in body["citations"][0]["quote_original"]
    assert body["citations"][0]["title"] != body["citations"][0]["title_original"]
    chat = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "中国人形机器人的发展目标是什么？"}]}
    )
    completion = chat.json()
    assert completion["language"] == "zh" and completion["citations"]
    assert (
        "\n\n来源（引自 report-rag 的中文译文，以日文原文为准）：\n[1] 【"
        in completion["choices"][0]["message"]["content"]
    )


def sse(response: Any) -> list[tuple[str, Any]]:
    """(event name, data) pairs of a server-sent event stream."""
    events, name = [], "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, line[6:] if line[6:] == "[DONE]" else json.loads(line[6:])))
            name = "message"
    return events


def test_ask_without_an_llm_says_extractive(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": Q}).json()
    assert body["generator"] == "extractive" and body["fallback"] is None and body["removed_sentences"] == []
    assert body["interrupted"] is None and body["standalone_question"] == body["question"]


def test_ask_streams_deltas_then_the_answer(client: TestClient) -> None:
    plain = client.post("/api/ask", json={"question": Q}).json()
    with client.stream("POST", "/api/ask", json={"question": Q, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    *deltas, (name, final) = events
    assert name == "answer" and {n for n, _ in deltas} == {"delta"}
    assert "".join(d["text"] for _, d in deltas) == final["answer"] == plain["answer"]
    assert final["citations"] == plain["citations"]


def test_ask_stream_refuses_a_bad_question_before_streaming(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "🤖🤖", "stream": True})
    assert response.status_code == 422 and response.json()["error"]["type"] == "input_error"


def llm_client(pipeline: Any) -> TestClient:
    return TestClient(create_app(AppState(pipeline), with_ui=False))


def test_ask_with_an_llm_reports_removed_sentences(llm_pipeline, llm_server) -> None:
    from openai_server import Reply

    llm_server.default = Reply("政策は5カ年計画に連動している[3]。予算は900億元だ[3]。")
    body = llm_client(llm_pipeline()).post("/api/ask", json={"question": Q}).json()
    assert body["generator"] == "llm" and body["fallback"] is None
    assert body["answer"] == "政策は5カ年計画に連動している[3]。"
    assert body["removed_sentences"] == [
        {"text": "予算は900億元だ[3]。", "reason": "number 900億元 = 90000000000 cny is not in the passages it cites"}
    ]
    # The LLM cited the third passage it was given: the third hit.
    assert [c["n"] for c in body["citations"]] == [3]
    assert body["citations"][0]["chunk_id"] == body["hits"][2]["chunk_id"]


def test_chat_stream_with_an_llm_carries_verified_citations_in_the_last_chunk(llm_pipeline, llm_server) -> None:
    from openai_server import Reply

    llm_server.default = Reply("政策は5カ年計画に連動している[3]。参考は[8]にある。")
    client = llm_client(llm_pipeline())
    third = client.post("/api/search", json={"query": Q}).json()["hits"][2]  # the passage the LLM cites as [3]
    payload = {"messages": [{"role": "user", "content": Q}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        events = [data for _, data in sse(response)]
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert (
        content.startswith(f"政策は5カ年計画に連動している[3]。\n\n出典:\n[3] 【{third['section']}】{third['title']}")
        and "[8]" not in content
    )
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and [c["n"] for c in last["citations"]] == [3]
    assert last["generator"] == "llm" and last["removed_sentences"][0]["reason"].startswith("cites [8]")


def test_chat_with_a_failing_llm_falls_back_and_says_why(llm_pipeline, llm_server, client: TestClient) -> None:
    from openai_server import Reply

    llm_server.default = Reply(status=503, text="overloaded")
    messages = [{"role": "user", "content": Q}]
    body = llm_client(llm_pipeline(llm_retries=1)).post("/v1/chat/completions", json={"messages": messages}).json()
    extractive = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["fallback"] == "llm_http_503" and body["generator"] == "extractive"
    assert body["choices"] == extractive["choices"] and body["citations"] == extractive["citations"]
