"""The OpenAI-compatible client against a real scripted server: replies, retries, backoff, timeouts, errors."""

import socket
import time

import pytest
from openai_server import Reply, ScriptedLLM

from rag.errors import LLMError
from rag.llm.client import LLMClient, LLMConfig

MESSAGES = [{"role": "user", "content": "hello"}]


def client_for(server: ScriptedLLM, sleeps: list[float] | None = None, **overrides: object) -> LLMClient:
    config = LLMConfig(**{"base_url": server.url, "model": "scripted", "backoff": 0.01, **overrides})  # type: ignore[arg-type]
    return LLMClient(config, sleep=(lambda s: sleeps.append(s)) if sleeps is not None else time.sleep)


def test_plain_completion_sends_model_key_and_settings(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply("こんにちは"))
    client = client_for(llm_server, api_key="sk-test", max_tokens=50)
    assert client.complete(MESSAGES) == "こんにちは"
    body = llm_server.requests[0]
    assert body["model"] == "scripted" and body["messages"] == MESSAGES and body["stream"] is False
    assert body["max_tokens"] == 50 and body["temperature"] == 0.0
    assert llm_server.headers[0]["authorization"] == "Bearer sk-test"


def test_no_key_sends_no_authorization(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply("ok"))
    assert client_for(llm_server).complete(MESSAGES) == "ok"
    assert "authorization" not in llm_server.headers[0]


def test_streaming_yields_the_pieces_in_order(llm_server: ScriptedLLM) -> None:
    text = "A fairly long reply that the server sends in small pieces."
    llm_server.reply(Reply(text))
    pieces = list(client_for(llm_server).stream(MESSAGES))
    assert len(pieces) > 3 and "".join(pieces) == text
    assert llm_server.requests[0]["stream"] is True


def test_retries_busy_server_with_exponential_backoff(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply(status=503, text="busy"), Reply(status=502, text="restarting"), Reply("finally"))
    sleeps: list[float] = []
    assert client_for(llm_server, sleeps, retries=2, backoff=0.25).complete(MESSAGES) == "finally"
    assert len(llm_server.requests) == 3 and sleeps == [0.25, 0.5]


def test_retry_after_is_honoured(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply(status=429, text="slow down", retry_after="1.5"), Reply("ok"))
    sleeps: list[float] = []
    assert client_for(llm_server, sleeps).complete(MESSAGES) == "ok"
    assert sleeps == [1.5]


def test_gives_up_after_the_retries_with_the_status(llm_server: ScriptedLLM) -> None:
    llm_server.default = Reply(status=500, text="boom")
    with pytest.raises(LLMError) as err:
        client_for(llm_server, [], retries=2).complete(MESSAGES)
    assert err.value.reason == "llm_http_500" and "boom" in str(err.value)
    assert len(llm_server.requests) == 3


def test_client_errors_are_not_retried_and_say_what_to_check(llm_server: ScriptedLLM) -> None:
    llm_server.default = Reply(status=401, text="bad key")
    with pytest.raises(LLMError) as err:
        client_for(llm_server, []).complete(MESSAGES)
    assert err.value.reason == "llm_http_401" and "RAG_LLM_API_KEY" in str(err.value)
    assert len(llm_server.requests) == 1


def test_slow_server_times_out_within_the_deadline(llm_server: ScriptedLLM) -> None:
    llm_server.default = Reply("too late", delay=5)
    started = time.monotonic()
    with pytest.raises(LLMError) as err:
        client_for(llm_server, timeout=0.5, retries=3).complete(MESSAGES)
    assert err.value.reason == "llm_timeout"
    assert time.monotonic() - started < 2.0  # retries never run past the whole reply's deadline


def test_unreachable_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", retries=1), sleep=lambda s: None)
    with pytest.raises(LLMError) as err:
        client.complete(MESSAGES)
    assert err.value.reason == "llm_unreachable" and "is the server running" in str(err.value)


def test_malformed_reply(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply(raw='{"choices": []}'))
    with pytest.raises(LLMError) as err:
        client_for(llm_server).complete(MESSAGES)
    assert err.value.reason == "llm_bad_reply"


def test_a_failure_mid_stream_is_raised_after_the_pieces_already_sent(llm_server: ScriptedLLM) -> None:
    llm_server.reply(Reply("0123456789abcdefghij", error_after=2))
    received: list[str] = []
    with pytest.raises(LLMError) as err:
        for piece in client_for(llm_server).stream(MESSAGES):
            received.append(piece)
    assert "".join(received) == "0123456789abcd" and err.value.reason == "llm_error"
    assert len(llm_server.requests) == 1  # what was shown cannot be taken back: no retry
