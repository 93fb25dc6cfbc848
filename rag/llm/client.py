"""A small client for any OpenAI-compatible chat-completions endpoint: timeouts, retries with backoff, streaming."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from rag.config import Settings
from rag.errors import ConfigError, LLMError

log = logging.getLogger(__name__)

# Worth another attempt: the server is busy, restarting or briefly unreachable.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF = 8.0
ERROR_BODY_CHARS = 200

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0  # seconds for a whole reply, retries and backoff included
    connect_timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.5
    temperature: float = 0.0
    max_tokens: int = 700


def client_from(settings: Settings) -> LLMClient | None:
    """The client for the configured LLM (``RAG_LLM_*``), or None when none is configured."""
    if not settings.llm_base_url:
        return None
    if not settings.llm_model:
        raise ConfigError("RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not: name the model, e.g. llama3.1:8b")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    config = LLMConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.llm_timeout,
        connect_timeout=settings.llm_connect_timeout,
        retries=settings.llm_retries,
        backoff=settings.llm_backoff,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )
    return LLMClient(config)


class LLMClient:
    """Chat completions, plain or streamed. Thread-safe: one pooled ``httpx.Client`` serves all requests.

    Every failure is an ``LLMError`` whose ``reason`` says what happened (llm_timeout, llm_unreachable,
    llm_http_<status>, llm_bad_reply), so callers fall back and report it.
    """

    def __init__(self, config: LLMConfig, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(base_url=config.base_url.rstrip("/") + "/", headers=headers)

    def close(self) -> None:
        self._http.close()

    def complete(self, messages: Messages, *, max_tokens: int | None = None) -> str:
        """The whole reply text of one chat completion."""
        deadline = time.monotonic() + self.config.timeout
        body = self._body(messages, stream=False, max_tokens=max_tokens)
        for attempt in self._attempts(deadline):
            with attempt as send:
                response = send(body, stream=False)
                try:
                    content = response.json()["choices"][0]["message"]["content"]
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise LLMError(f"the LLM's reply is not a chat completion: {exc!r}", "llm_bad_reply") from exc
                if not isinstance(content, str):
                    raise LLMError("the LLM's reply has no text content", "llm_bad_reply")
                return content
        raise AssertionError("unreachable: _attempts raises when they run out")

    def stream(self, messages: Messages) -> Iterator[str]:
        """The reply's text pieces as the server sends them. Retries happen only before the first piece:
        after that, a failure is raised to the caller, who has already shown part of the reply."""
        deadline = time.monotonic() + self.config.timeout
        body = self._body(messages, stream=True)
        for attempt in self._attempts(deadline):
            response: httpx.Response | None = None
            with attempt as send:
                response = send(body, stream=True)
                pieces = self._pieces(response, deadline)
                first = next(pieces, None)  # a server that accepts but never speaks is retried too
            if attempt.error is not None or response is None:
                if response is not None:
                    response.close()
                continue  # _attempts sleeps, then tries again or raises
            try:
                if first is not None:
                    yield first
                yield from pieces
            except httpx.TimeoutException as exc:
                raise LLMError(f"the LLM stopped mid-reply ({exc!r})", "llm_timeout") from exc
            except httpx.TransportError as exc:
                raise LLMError(f"the connection to the LLM broke mid-reply ({exc!r})", "llm_unreachable") from exc
            finally:
                response.close()
            return

    def _body(self, messages: Messages, *, stream: bool, max_tokens: int | None = None) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
            "stream": stream,
        }

    def _attempts(self, deadline: float) -> Iterator[_Attempt]:
        """Attempts until one succeeds; a retryable failure sleeps (exponential backoff, or the server's
        Retry-After) before the next; the last failure, or running out of time, raises."""
        for n in range(self.config.retries + 1):
            attempt = _Attempt(self, deadline)
            yield attempt
            error = attempt.error
            if error is None:
                return
            delay = min(MAX_BACKOFF, self.config.backoff * 2**n)
            if attempt.retry_after is not None:
                delay = min(MAX_BACKOFF, attempt.retry_after)
            if not attempt.retryable or n == self.config.retries or time.monotonic() + delay >= deadline:
                raise error
            log.warning("LLM attempt %d failed (%s); retrying in %.2f s", n + 1, error, delay)
            self._sleep(delay)

    def _pieces(self, response: httpx.Response, deadline: float) -> Iterator[str]:
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise LLMError(f"the LLM's reply took over {self.config.timeout:g} s", "llm_timeout")
            if not line.startswith("data:"):
                continue  # blank separators, comments and "event:" lines
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise LLMError(f"the LLM sent an event that is not JSON: {data[:80]!r}", "llm_bad_reply") from exc
            if "error" in chunk:  # some servers (vLLM, llama.cpp) report a failure mid-stream this way
                raise LLMError(f"the LLM reported an error mid-stream: {chunk['error']}", "llm_error")
            for choice in chunk.get("choices") or ():
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


class _Attempt:
    """One request, as a context manager that turns transport failures into ``LLMError`` and records
    whether another attempt makes sense."""

    def __init__(self, client: LLMClient, deadline: float):
        self._client = client
        self._deadline = deadline
        self.error: LLMError | None = None
        self.retryable = False
        self.retry_after: float | None = None

    def __enter__(self) -> Callable[..., httpx.Response]:
        return self._send

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        config = self._client.config
        if isinstance(exc, httpx.TimeoutException):
            self.error, self.retryable = (
                LLMError(f"no reply from the LLM within the time limit ({exc!r})", "llm_timeout"),
                True,
            )
        elif isinstance(exc, httpx.TransportError):
            message = f"cannot reach the LLM at {config.base_url} ({exc!r}): is the server running?"
            self.error, self.retryable = LLMError(message, "llm_unreachable"), True
        elif isinstance(exc, _StatusError):
            self.error, self.retryable, self.retry_after = exc.error, exc.retryable, exc.retry_after
        else:
            return False  # success, or an LLMError raised while reading: not retried
        return True

    def _send(self, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        config = self._client.config
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.ReadTimeout("no time left")
        timeout = httpx.Timeout(remaining, connect=min(config.connect_timeout, remaining))
        request = self._client._http.build_request("POST", "chat/completions", json=body, timeout=timeout)
        response = self._client._http.send(request, stream=stream)
        if response.status_code != 200:
            text = response.read().decode("utf-8", "replace")[:ERROR_BODY_CHARS]
            response.close()
            raise _StatusError(response, text)
        return response


class _StatusError(Exception):
    def __init__(self, response: httpx.Response, text: str):
        status = response.status_code
        hint = {401: ": check RAG_LLM_API_KEY", 404: ": check RAG_LLM_BASE_URL and RAG_LLM_MODEL"}.get(status, "")
        self.error = LLMError(f"the LLM answered HTTP {status}{hint} ({text.strip()!r})", f"llm_http_{status}")
        self.retryable = status in RETRY_STATUS
        retry_after = response.headers.get("retry-after", "")
        self.retry_after = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None
