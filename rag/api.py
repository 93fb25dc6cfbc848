"""The HTTP API: search, ask, an OpenAI-compatible chat endpoint, health; a thin layer over Pipeline."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import IndexError_, InputError, RagError
from rag.pipeline import Pipeline
from rag.serialize import answer_json, citation_json, search_result_json
from rag.types import Answer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MODEL_NAME = "report-rag"


class AppState:
    """The live pipeline, or why there is none yet. Swapping replaces one reference, so a
    request uses either the old or the new index, never a mix."""

    def __init__(self, pipeline: Pipeline | None = None, reason: str = "loading"):
        self._pipeline = pipeline
        self.reason = reason
        self._lock = threading.Lock()

    @property
    def pipeline(self) -> Pipeline:
        current = self._pipeline
        if current is None:
            raise IndexError_(f"not ready: {self.reason}")
        return current

    @property
    def ready(self) -> bool:
        return self._pipeline is not None

    def swap(self, pipeline: Pipeline) -> None:
        with self._lock:
            self._pipeline = pipeline

    def fail(self, reason: str) -> None:
        with self._lock:
            self._pipeline, self.reason = None, reason


# Request and response models: the contract other tools rely on.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(Strict):
    query: str = Field(min_length=1, description="What to look for, in Japanese, English or Chinese.")
    k: int = Field(5, ge=1, le=50)


class HitOut(BaseModel):
    rank: int
    chunk_id: str
    section: str
    title: str
    heading_path: list[str]
    kind: str
    text: str
    score: float
    retrievers: dict[str, int]


class SearchResponse(BaseModel):
    query: str
    language: Literal["ja", "en", "zh"]
    hits: list[HitOut]
    took_ms: float


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(Strict):
    question: str = Field(min_length=1)
    k: int = Field(5, ge=1, le=50)
    history: list[Message] = Field(default_factory=list, max_length=50)


class CitationOut(BaseModel):
    n: int
    chunk_id: str
    section: str
    title: str
    quote: str


class AskResponse(BaseModel):
    question: str
    answer: str
    language: Literal["ja", "en", "zh"]
    abstained: bool
    citations: list[CitationOut]
    hits: list[HitOut]
    took_ms: float


class ChatMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    # OpenAI clients send many optional parameters (temperature, max_tokens, user…); they are accepted.
    model_config = ConfigDict(extra="allow")
    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: bool = False


class HealthResponse(BaseModel):
    status: str
    index: dict[str, Any] | None = None
    reason: str | None = None


class ErrorBody(BaseModel):
    message: str
    type: str
    status: int


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 413, 422, 503)}


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "status": status}}, status_code=status)


def _message_text(content: str | list[dict[str, Any]] | None) -> str:
    """OpenAI content may be a string or a list of parts; only text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def sources_text(answer: Answer) -> str:
    """The citations as a plain "Sources" list for clients that show only the content."""
    if not answer.citations:
        return ""
    lines = [f"[{c.n}] 【{c.section_id}】{c.section_title} — “{c.quote}”" for c in answer.citations]
    return "\n\nSources:\n" + "\n".join(lines)


def create_app(state: AppState, *, with_ui: bool = True) -> FastAPI:
    """The FastAPI app over ``state``; mounts the Gradio chat UI at "/" when available."""
    app = FastAPI(
        title="report-rag",
        description="Grounded, cited Q&A over 中国AI産業の発展現状と将来展望 (ja/en/zh).",
        version="0.1.0",
    )

    @app.middleware("http")
    async def limits_and_ids(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        length = request.headers.get("content-length")
        # The UI's file upload (a question set for the eval tab) has Gradio's own, larger limit.
        limited = not request.url.path.startswith("/gradio_api/upload")
        if limited and length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            response: Response = _error(413, f"request body over {MAX_BODY_BYTES} bytes: send less", "too_large")
        else:
            started = time.perf_counter()
            response = await call_next(request)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "route": request.url.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        response.headers["X-Request-ID"] = request_id
        return response

    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return _error(exc.status_code, str(exc), type(exc).__name__.rstrip("_"))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed JSON body: send a valid JSON object", "bad_request")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where or 'body'}: {first.get('msg', 'invalid')}", "validation_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "http_error")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "internal error: see the server log", "internal_error")

    @app.get("/healthz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    def healthz() -> Any:
        if not state.ready:
            return JSONResponse({"status": "unavailable", "reason": state.reason}, status_code=503)
        return {"status": "ok", "index": state.pipeline.summary()}

    @app.post("/api/search", response_model=SearchResponse, responses=ERRORS)
    def search(body: SearchRequest) -> Any:
        return search_result_json(state.pipeline.search(body.query, k=body.k))

    @app.post("/api/ask", response_model=AskResponse, responses=ERRORS)
    def ask(body: AskRequest) -> Any:
        history = [m.model_dump() for m in body.history]
        return answer_json(state.pipeline.ask(body.question, k=body.k, history=history))

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "report-rag"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    def chat(body: ChatRequest) -> Any:
        messages = [{"role": m.role, "content": _message_text(m.content)} for m in body.messages]
        users = [i for i, m in enumerate(messages) if m["role"] == "user" and m["content"].strip()]
        if not users:
            raise InputError("messages need a user message with the question")
        question = messages[users[-1]]["content"]
        answer = state.pipeline.ask(question, history=messages[: users[-1]])
        content = answer.text + sources_text(answer)
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        citations = [citation_json(c) for c in answer.citations]
        if not body.stream:
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_NAME,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "citations": citations,
                "abstained": answer.abstained,
                "language": answer.language,
            }
        return StreamingResponse(_stream(completion_id, created, content, citations), media_type="text/event-stream")

    if with_ui:
        try:
            from ui.app import mount
        except ImportError:  # pragma: no cover - the UI package ships with the project
            log.warning("ui package not importable: serving the API only")
        else:
            mount(app, state)
    return app


def _stream(completion_id: str, created: int, content: str, citations: list[dict[str, Any]]) -> Iterator[str]:
    """Server-sent events in OpenAI's chat.completion.chunk shape; the last chunk carries the citations."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    # The extractive answer is ready at once; lines stream so clients render progressively.
    for line in content.splitlines(keepends=True):
        yield event({"content": line})
    yield event({}, "stop", citations=citations)
    yield "data: [DONE]\n\n"
