"""The HTTP API: search, ask, an OpenAI-compatible chat endpoint, health; a thin layer over Pipeline."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import security
from rag.config import Settings, get_settings
from rag.errors import IndexError_, InputError, RagError
from rag.feedback import FEEDBACK_FILE, MAX_TEXT_CHARS, FeedbackStore, open_store
from rag.lang import INVALID_UNICODE, detect_language
from rag.logs import log_request
from rag.pipeline import Pipeline
from rag.serialize import answer_json, citation_json, generation_json, search_result_json
from rag.types import Answer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MODEL_NAME = "report-rag"
# Gradio's file upload (a question set for the UI's eval tab) has its own, larger limit.
UNLIMITED_PREFIXES = ("/gradio_api/upload",)
# A caller's own request id is echoed only if it cannot smuggle anything into a header or a log line.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Clearer words for the pydantic errors a client most often meets (the rest keep pydantic's message).
VALIDATION_HINTS = {
    "string_unicode": INVALID_UNICODE,
    "extra_forbidden": "unknown field: remove it (see the schema at /docs)",
    "empty": "send a JSON object (the request has none)",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
}
# What FastAPI raises when it cannot even decode the body.
FASTAPI_BODY_ERROR = "There was an error parsing the body"
QUOTE_CHARS = 60  # the full quote is already in the answer text; the Sources list only points at it


class AppState:
    """The live pipeline, or why there is none. Swapping replaces one reference, so a request
    (which reads ``pipeline`` once) uses either the old or the new index, never a mix."""

    def __init__(self, pipeline: Pipeline | None = None, reason: str = "loading", feedback_path: Path | None = None):
        self._pipeline = pipeline
        self.reason = reason
        self._failed = False
        self._lock = threading.Lock()
        self.feedback_path = feedback_path

    @property
    def pipeline(self) -> Pipeline:
        """The live pipeline; raises ``IndexError_`` (HTTP 503) with the reason while there is none."""
        current = self._pipeline
        if current is None:
            if self._failed:  # the reason says what to run; waiting will not help
                raise IndexError_(f"unavailable: {self.reason}")
            raise IndexError_(f"not ready: {self.reason}; retry shortly or see the server log")
        return current

    @property
    def ready(self) -> bool:
        return self._pipeline is not None

    def swap(self, pipeline: Pipeline) -> None:
        with self._lock:
            self._pipeline, self._failed = pipeline, False

    def fail(self, reason: str) -> None:
        with self._lock:
            self._pipeline, self.reason, self._failed = None, reason, True

    def feedback(self) -> FeedbackStore:
        """The ratings store: at ``feedback_path`` (the server's, usable while the index loads), else in
        the live pipeline's data folder."""
        return open_store(self.feedback_path or self.pipeline.settings.data_dir / FEEDBACK_FILE)


# Request and response models: the contract other tools (and the schema fuzzer) rely on.
# Strict: "5" or true is not a k, and an unknown field is a client bug worth reporting.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _whole_number(value: Any) -> Any:
    # JSON Schema's "integer" includes 5.0; strict mode alone would refuse it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Count = Annotated[int, Field(ge=1, le=50), BeforeValidator(_whole_number)]
# A question needs a letter or a digit (Unicode L or N). Stated in the schema (ECMA regex) for clients and
# fuzzers; enforced by the pipeline after normalization, with a friendlier message than a regex mismatch.
WORDY = r"[\p{L}\p{N}]"
USER_TEXT: dict[str, Any] = {"role": {"const": "user"}, "content": {"type": "string", "pattern": WORDY}}


class SearchRequest(Strict):
    query: str = Field(
        min_length=1,
        description="What to look for, in Japanese, English or Chinese.",
        json_schema_extra={"pattern": WORDY},
    )
    k: Count = Field(5, description="How many passages to return.")


class HitOut(BaseModel):
    rank: int
    chunk_id: str
    section: str = Field(description='Section id in the report, e.g. "2-1".')
    title: str
    heading_path: list[str]
    kind: str
    text: str
    score: float
    retrievers: dict[str, int] = Field(description="Rank given by each retriever that found the passage.")


class SearchResponse(BaseModel):
    query: str = Field(description="The query as searched, after normalization.")
    language: Literal["ja", "en", "zh"]
    hits: list[HitOut]
    took_ms: float = Field(description="Time spent serving the request, measured at the API edge.")


class HistoryMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(Strict):
    question: str = Field(
        min_length=1,
        description="The question; over the server's limit (1000 characters by default) is a 413.",
        json_schema_extra={"pattern": WORDY},
    )
    k: Count = Field(5, description="How many passages to retrieve.")
    history: list[HistoryMessage] = Field(
        default_factory=list, max_length=50, description="Earlier turns; a short follow-up is read with them."
    )
    stream: bool = Field(
        False,
        description='Server-sent events: "delta" events with text pieces, then one "answer" event (an AskResponse).',
    )


class CitationOut(BaseModel):
    n: int = Field(description="The [n] marker in the answer text.")
    chunk_id: str
    section: str
    title: str
    quote: str


class RemovedOut(BaseModel):
    text: str
    reason: str


class GenerationOut(BaseModel):
    """Who wrote the answer and what verification did (the extractive answerer, unless an LLM is configured)."""

    generator: Literal["extractive", "llm"] = "extractive"
    fallback: str | None = Field(None, description="Why the LLM's answer was replaced by the extractive one.")
    removed_sentences: list[RemovedOut] = Field(
        default_factory=list, description="Generated sentences that failed verification."
    )
    interrupted: str | None = Field(None, description="Why the LLM stopped after verified text was streamed.")
    standalone_question: str | None = Field(None, description="The question retrieval used (follow-ups rewritten).")


class AskResponse(GenerationOut):
    question: str
    answer: str
    language: Literal["ja", "en", "zh"]
    abstained: bool = Field(description="True when the report has no answer; the text then says so.")
    citations: list[CitationOut]
    hits: list[HitOut]
    took_ms: float


# -- feedback (POST /api/feedback) --
class FeedbackCitation(Strict):
    n: int = Field(ge=1)
    chunk_id: str = Field(max_length=200)
    section: str = Field(max_length=200)
    title: str = Field(max_length=2000)
    quote: str = Field(max_length=MAX_TEXT_CHARS)


class FeedbackRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The question as asked.")
    answer: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The answer being rated.")
    citations: list[FeedbackCitation] = Field(
        max_length=50, description="The answer's citations, as /api/ask gave them."
    )
    vote: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackCreated(BaseModel):
    id: int = Field(description="The rating's id in the feedback store.")


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    index: dict[str, Any] | None = Field(None, description="Model, corpus and build of the live index.")
    reason: str | None = Field(None, description="Why the service is not ready.")


class ErrorBody(BaseModel):
    message: str
    type: str
    status: int


class ErrorResponse(BaseModel):
    error: ErrorBody


# OpenAI-compatible models: only what clients read is declared; extra fields pass through.
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")  # image and audio parts carry other fields; only text is read
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    # OpenAI clients send many optional parameters; the common ones are declared (and ignored),
    # any other is accepted too, so a client upgrade does not break the endpoint.
    model_config = ConfigDict(extra="allow", strict=True)
    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=100,
        description="The last user message is the question; earlier messages are the history.",
        json_schema_extra={"contains": {"type": "object", "required": ["role", "content"], "properties": USER_TEXT}},
    )
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: Annotated[int, Field(ge=1, le=1), BeforeValidator(_whole_number)] = Field(
        1, description="Only one choice is produced."
    )
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: WholeNumber | None = None
    user: str | None = None


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatCompletionMessage
    finish_reason: Literal["stop"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(GenerationOut):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut] = Field(description="Extension: the sources behind the [n] markers.")
    abstained: bool
    language: Literal["ja", "en", "zh"]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody


API_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 413, 422, 503)}
OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": OpenAIErrorResponse} for code in (400, 413, 422, 503)}
# Before OpenAPI 3.2 a stream's "schema" describes one server-sent event.
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A chat.completion.chunk as JSON; the last event is [DONE]."},
        "event": {"type": "string"},
    },
}
SSE_DOC = {"text/event-stream": {"schema": SSE_EVENT}}
ASK_SSE_DOC = {"text/event-stream": {"schema": {**SSE_EVENT, "description": '"delta" events, then one "answer"'}}}
MODEL_CARD = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "report-rag"}


def error_response(path: str, status: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    """The error body for ``path``: OpenAI's shape under /v1 (its clients parse it), ours elsewhere."""
    if path.startswith("/v1/"):
        kind = "invalid_request_error" if status < 500 else "server_error"
        if status == 404:
            kind = "not_found_error"
        body: dict[str, Any] = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    else:
        body = {"error": {"message": message, "type": code, "status": status}}
    return JSONResponse(body, status_code=status)


def _error_code(exc: RagError) -> str:
    """QuestionTooLong -> question_too_long, IndexError_ -> index_error."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__.rstrip("_")).lower()


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
            "latency_ms": _ms_since(started),
        }
        fields.update({k: noted[k] for k in ("key_id", "language", "abstained") if k in noted})
        if self.log_questions and "question" in noted:
            fields["question"] = noted["question"]
        log_request(fields)

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


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for a disconnect like a normal request
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _message_text(content: str | list[ContentPart] | None) -> str:
    """OpenAI content may be a string or a list of parts; only text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(part.text or "" for part in content if part.type == "text")


def sources_text(answer: Answer) -> str:
    """The citations as a plain "Sources" list, for chat clients that show only the content."""
    if not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        quote = c.quote if len(c.quote) <= QUOTE_CHARS else c.quote[:QUOTE_CHARS].rstrip() + "…"
        lines.append(f"[{c.n}] 【{c.section_id}】{c.section_title} — “{quote}”")
    return "\n\nSources:\n" + "\n".join(lines)


def _note(request: Request, question: str, answer: Answer | None) -> None:
    """Facts for the access line (EdgeMiddleware reads the scope's state): the question, logged only
    with RAG_LOG_QUESTIONS, and the answer's language and abstention."""
    request.state.question = question
    if answer is not None:
        request.state.language, request.state.abstained = answer.language, answer.abstained


def _noting(request: Request, question: str, pieces: Iterator[str | Answer]) -> Iterator[str | Answer]:
    """``pieces`` unchanged, noting the Answer when it comes: a stream's access line is written after its end."""
    _note(request, question, None)
    for piece in pieces:
        if isinstance(piece, Answer):
            _note(request, question, piece)
        yield piece


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def create_app(
    state: AppState, *, with_ui: bool = True, max_body: int = MAX_BODY_BYTES, settings: Settings | None = None
) -> FastAPI:
    """The FastAPI app over ``state``.

    Args:
        state: holds the live pipeline; swap a rebuilt one in without restarting.
        with_ui: mount the Gradio chat UI at "/" if ``ui.app`` provides ``mount(app, state)``.
        max_body: request bodies over this many bytes get a 413.
        settings: API keys, rate limit, CORS and access-log options (default: from the environment).
    """
    settings = settings or get_settings()
    keys = security.KeyRing.from_secret(settings.api_keys)
    app = FastAPI(
        title="report-rag",
        description="Grounded, cited Q&A over 中国AI産業の発展現状と将来展望 (ja/en/zh).",
        version="0.1.0",
    )
    security.install(app, settings, keys, error_response)  # inside the edge: its 401s and 429s are logged
    app.add_middleware(EdgeMiddleware, max_body=max_body, log_questions=settings.log_questions)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error_response(request.url.path, exc.status_code, str(exc), _error_code(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(request.url.path, 400, "malformed JSON body: send a valid JSON object", "bad_json")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        kind = "empty" if not where and first.get("type") == "missing" else first.get("type", "")
        message = f"{where or 'body'}: {VALIDATION_HINTS.get(kind) or first.get('msg', 'invalid')}"
        return error_response(request.url.path, 422, message, "validation_error", param=where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:  # bytes that are not UTF-8, say
            return error_response(request.url.path, 400, "malformed JSON body: send UTF-8 encoded JSON", "bad_json")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(request.url.path, exc.status_code, str(exc.detail), code)
        response.headers.update(exc.headers or {})  # 405 keeps its Allow header
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request.url.path, 500, "internal error: see the server log", "internal_error")

    @app.get(
        "/healthz",
        response_model=HealthResponse,
        response_model_exclude_none=True,
        responses={503: {"model": HealthResponse}},
    )
    def healthz() -> Any:
        """200 with the index's identity when ready; 503 with the reason while loading or broken."""
        try:
            summary = state.pipeline.summary()  # read once: a swap or a failure may land in between
        except IndexError_:
            return JSONResponse({"status": "unavailable", "reason": state.reason}, status_code=503)
        return {"status": "ok", "index": summary}

    # Sync endpoints: FastAPI runs them in its threadpool, so CPU-bound retrieval never blocks the loop.
    @app.post("/api/search", response_model=SearchResponse, responses=API_ERRORS)
    def search(body: SearchRequest, request: Request) -> Any:
        """Ranked passages of the report for a query."""
        started = time.perf_counter()
        result = search_result_json(state.pipeline.search(body.query, k=body.k))
        request.state.question, request.state.language = body.query, result["language"]
        result["took_ms"] = _ms_since(started)
        return result

    @app.post("/api/ask", response_model=AskResponse, responses={200: {"content": ASK_SSE_DOC}, **API_ERRORS})
    def ask(body: AskRequest, request: Request) -> Any:
        """An answer quoted from the report (or written by the configured LLM and verified against it),
        with numbered citations, or an abstention."""
        started = time.perf_counter()
        history = [m.model_dump() for m in body.history]
        if body.stream:
            pieces = state.pipeline.ask_stream(body.question, k=body.k, history=history)
            events = _ask_events(_noting(request, body.question, pieces))
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = state.pipeline.ask(body.question, k=body.k, history=history)
        _note(request, body.question, answer)
        result = answer_json(answer)
        result["took_ms"] = _ms_since(started)
        return result

    # -- feedback --
    @app.post("/api/feedback", status_code=201, response_model=FeedbackCreated, responses=API_ERRORS)
    def feedback(body: FeedbackRequest) -> Any:
        """Rate an answer up or down, as the chat UI's thumbs do. 201 only once the rating is committed."""
        citations = [c.model_dump() for c in body.citations]
        store = state.feedback()
        rating = store.add(
            body.question, body.answer, citations, detect_language(body.question), body.vote, body.comment
        )
        return {"id": rating}

    @app.get("/v1/models", response_model=ModelList)
    def models() -> Any:
        """OpenAI-compatible model list: the one model, "report-rag"."""
        return {"object": "list", "data": [MODEL_CARD]}

    @app.get("/v1/models/{model_id}", response_model=ModelCard, responses={404: {"model": OpenAIErrorResponse}})
    def model(model_id: str) -> Any:
        """OpenAI-compatible model lookup."""
        if model_id != MODEL_NAME:
            raise StarletteHTTPException(404, f"model {model_id!r} not found: use {MODEL_NAME!r}")
        return MODEL_CARD

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        responses={200: {"content": SSE_DOC}, **OPENAI_ERRORS},
    )
    def chat(body: ChatRequest, request: Request) -> Any:
        """OpenAI-compatible chat: the last user message is the question, earlier messages the history.
        Citations come in the extra ``citations`` field and as a "Sources" list at the end of the content."""
        messages = [{"role": m.role, "content": _message_text(m.content)} for m in body.messages]
        users = [i for i, m in enumerate(messages) if m["role"] == "user" and m["content"].strip()]
        if not users:
            raise InputError("messages need a user message with the question")
        last = users[-1]
        question = messages[last]["content"]
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if body.stream:
            usage = bool((body.stream_options or {}).get("include_usage"))
            pieces = _noting(request, question, state.pipeline.ask_stream(question, history=messages[:last]))
            events = _stream(completion_id, created, pieces, usage)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = state.pipeline.ask(question, history=messages[:last])
        _note(request, question, answer)
        content = answer.text + sources_text(answer)
        citations = [citation_json(c) for c in answer.citations]
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            # Nothing is generated by a language model, so there are no tokens to count.
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations,
            "abstained": answer.abstained,
            "language": answer.language,
            **generation_json(answer),
        }

    # Routed last, before the UI's mount at "/" (which would answer anything left): any method on one
    # of our paths that no route took is a 405 with Allow, any path under /api or /v1 a JSON 404.
    fallback = _Fallback([r for r in app.routes if isinstance(r, Route)])
    for path in [*dict.fromkeys(r.path for r in fallback.routes), "/api/{rest:path}", "/v1/{rest:path}"]:
        app.router.routes.append(Route(path, fallback))

    if with_ui:
        try:
            from ui.app import mount
        except ImportError as exc:  # no ui package, or its dependencies (gradio) are missing
            log.warning("chat UI not available (%s): serving the API only", exc)
        else:
            mount(app, state, auth=keys.gradio_auth if keys is not None and settings.protect_ui else None)
    return app


class _Fallback:
    """A raw ASGI endpoint, so its routes match every method (a function endpoint would get GET only)."""

    def __init__(self, routes: list[Route]):
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        allowed = sorted({m for r in self.routes if r.path_regex.fullmatch(path) for m in r.methods or ()})
        if allowed:  # raised, so the app's handlers shape the error for this path
            raise StarletteHTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise StarletteHTTPException(404)


def _ask_events(pieces: Iterator[str | Answer]) -> Iterator[str]:
    """/api/ask as server-sent events: "delta" events with text pieces, then the whole "answer"."""
    for piece in pieces:
        if isinstance(piece, Answer):
            data, name = answer_json(piece), "answer"
        else:
            data, name = {"text": piece}, "delta"
        yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(completion_id: str, created: int, pieces: Iterator[str | Answer], usage: bool) -> Iterator[str]:
    """Server-sent events in OpenAI's chat.completion.chunk shape, the answer's pieces as they come (an LLM's
    verified sentence by sentence); the last chunk carries the citations and what verification did."""

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_NAME,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    def delta(part: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": part, "finish_reason": finish}]

    yield event(delta({"role": "assistant", "content": ""}))
    answer: Answer | None = None
    for piece in pieces:
        if isinstance(piece, Answer):
            answer = piece
        else:
            yield event(delta({"content": piece}))
    assert answer is not None, "a stream ends with its Answer"
    if sources := sources_text(answer):
        yield event(delta({"content": sources}))
    citations = [citation_json(c) for c in answer.citations]
    yield event(delta({}, "stop"), citations=citations, **generation_json(answer))
    if usage:  # OpenAI sends usage in one extra chunk with no choices when asked to
        yield event([], usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
    yield "data: [DONE]\n\n"
