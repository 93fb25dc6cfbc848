"""The HTTP edge as plain ASGI: request ids, the body-size limit and one access-log line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.pipeline import ms_since
from rag.serve.errors import error_response
from rag.serve.logs import log_request
from rag.serve.security import is_api_path
from rag.types import Answer

MAX_BODY_BYTES = 64 * 1024
# Gradio's file upload (a question set for the UI's eval tab) has its own, larger limit.
UNLIMITED_PREFIXES = ("/gradio_api/upload",)
# A caller's own request id is echoed only if it cannot smuggle anything into a header or a log line.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PROBE_PATHS = ("/healthz",)


class EdgeMiddleware:
    """Request ids, the body-size limit and one log line per request, as plain ASGI: cheaper than
    ``@app.middleware`` and it never buffers a streamed response."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, log_questions: bool = False):
        self.app = app
        self.max_body = max_body
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")
        request_id = given if REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 0
        # Inner layers note facts here for the access line: the key id, an answer's language and abstention.
        noted = scope.setdefault("state", {})

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self._within_limit(headers, scope, receive, send_with_id)
        finally:  # a 413, an error or a client gone away is logged too (status 0: no response started)
            self._log(scope, noted, request_id, status, started)

    async def _within_limit(self, headers: Headers, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if not path.startswith(UNLIMITED_PREFIXES):
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await self._too_large(path, scope, receive, send)
                return
            if length is None and "transfer-encoding" in headers:
                # A chunked body has no length up front: read it (up to the limit) before the app does.
                body = await self._read_limited(receive)
                if body is None:
                    await self._too_large(path, scope, receive, send)
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _log(self, scope: Scope, noted: dict[str, Any], request_id: str, status: int, started: float) -> None:
        route = getattr(scope.get("route"), "path", None)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "route": route or scope["path"],
            "status": status,
            "latency_ms": ms_since(started),
        }
        fields.update({k: noted[k] for k in ("key_id", "language", "abstained") if k in noted})
        if self.log_questions and "question" in noted:
            fields["question"] = noted["question"]
        log_request(fields, access_level(scope["method"], scope["path"], status))

    async def _read_limited(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see an empty body
            size += len(message.get("body", b""))
            if size > self.max_body:
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body over {self.max_body} bytes: send less"
        await error_response(path, 413, message, "body_too_large")(scope, receive, send)


def access_level(method: str, path: str, status: int) -> int:
    """INFO for what a server log is for: API calls (/api, /v1, /healthz), every POST (the chat UI's questions,
    ratings, uploads and logins are Gradio POSTs) and any request that failed; DEBUG for GETs of the page and
    its files, of which one page load fetches about a hundred."""
    if method == "POST" or status >= 400 or status == 0 or is_api_path(path) or path in PROBE_PATHS:
        return logging.INFO
    return logging.DEBUG


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for a disconnect like a normal request
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def note(request: Request, question: str, answer: Answer | None) -> None:
    """Facts for the access line (EdgeMiddleware reads the scope's state): the question, logged only
    with RAG_LOG_QUESTIONS, and the answer's language and abstention."""
    request.state.question = question
    if answer is not None:
        request.state.language, request.state.abstained = answer.language, answer.abstained


def noting(request: Request, question: str, pieces: Iterator[str | Answer]) -> Iterator[str | Answer]:
    """``pieces`` unchanged, noting the Answer when it comes: a stream's access line is written after its end."""
    note(request, question, None)
    for piece in pieces:
        if isinstance(piece, Answer):
            note(request, question, piece)
        yield piece
