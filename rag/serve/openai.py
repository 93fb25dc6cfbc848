"""The OpenAI-compatible endpoints (/v1/models, /v1/chat/completions, plain and streamed) over the pipeline:
the last user message is the question, the citations come in an extra field and as a "Sources" list."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import InputError
from rag.serialize import citation_json, generation_json
from rag.serve import usage
from rag.serve.middleware import note, noting
from rag.serve.schemas import SSE_EVENT, USER_TEXT, CitationOut, GenerationOut, WholeNumber, whole_number
from rag.serve.state import AppState
from rag.types import Answer

MODEL_NAME = "report-rag"
MODEL_CARD = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "report-rag"}
QUOTE_CHARS = 60  # the full quote is already in the answer text; the Sources list only points at it
NOT_SAMPLED = (
    "No effect: extractive answers are quoted from the report, not sampled; with an LLM configured, the server's "
    "RAG_LLM_TEMPERATURE and RAG_LLM_MAX_TOKENS apply."
)
MAX_TOKENS = (
    "Cuts the message content (the answer and its Sources list) to this many tokens (tiktoken cl100k), "
    'with finish_reason "length".'
)
CHAT_DOC = """OpenAI-compatible chat: the last user message is the question, earlier messages the history.
Citations come in the extra ``citations`` field and as a "Sources" list at the end of the content.

``usage`` counts tokens with tiktoken's cl100k encoding: the prompt is the messages (with OpenAI's framing of 3
tokens per message and 3 for the reply), the completion is the message content. ``max_tokens`` (or
``max_completion_tokens``) cuts the content. ``temperature``, ``top_p``, ``presence_penalty``,
``frequency_penalty``, ``seed``, ``stop`` and ``logit_bias`` have no effect: extractive answers are quoted from the
report, not sampled; with an LLM configured, the server's RAG_LLM_TEMPERATURE and RAG_LLM_MAX_TOKENS apply."""


# OpenAI-compatible models: only what clients read is declared; extra fields pass through.
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")  # image and audio parts carry other fields; only text is read
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    # OpenAI clients send many optional parameters; the common ones are declared (the sampling ones have no
    # effect), any other is accepted too, so a client upgrade does not break the endpoint.
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
    n: Annotated[int, Field(ge=1, le=1), BeforeValidator(whole_number)] = Field(
        1, description="Only one choice is produced."
    )
    temperature: float | None = Field(None, description=NOT_SAMPLED)
    top_p: float | None = Field(None, description=NOT_SAMPLED)
    max_tokens: WholeNumber | None = Field(None, ge=1, description=MAX_TOKENS)
    max_completion_tokens: WholeNumber | None = Field(None, ge=1, description=MAX_TOKENS + " Wins over max_tokens.")
    user: str | None = None


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatCompletionMessage
    finish_reason: Literal["stop", "length"] = Field(description='"length" when max_tokens cut the content.')


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


OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": OpenAIErrorResponse} for code in (400, 413, 422, 503)}
SSE_DOC = {"text/event-stream": {"schema": SSE_EVENT}}


def add_openai_routes(app: FastAPI, state: AppState) -> None:
    """Add the /v1 routes over ``state``'s live pipeline to ``app``."""

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
        description=CHAT_DOC,
    )
    def chat(body: ChatRequest, request: Request) -> Any:
        messages = [{"role": m.role, "content": _message_text(m.content)} for m in body.messages]
        users = [i for i, m in enumerate(messages) if m["role"] == "user" and m["content"].strip()]
        if not users:
            raise InputError("messages need a user message with the question")
        last = users[-1]
        question = messages[last]["content"]
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        prompt = usage.prompt_tokens(messages)
        if body.stream:
            counted = prompt if (body.stream_options or {}).get("include_usage") else None
            pieces = noting(request, question, state.pipeline.ask_stream(question, history=messages[:last]))
            events = _stream(completion_id, created, pieces, usage.Budget(usage.limit(body)), counted)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = state.pipeline.ask(question, history=messages[:last])
        note(request, question, answer)
        content, cut_short = usage.cut(answer.text + sources_text(answer), usage.limit(body))
        citations = [citation_json(c) for c in answer.citations]
        message = {"role": "assistant", "content": content}
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "message": message, "finish_reason": usage.finish_reason(cut_short)}],
            "usage": usage.usage(prompt, content),
            "citations": citations,
            "abstained": answer.abstained,
            "language": answer.language,
            **generation_json(answer),
        }


def _message_text(content: str | list[ContentPart] | None) -> str:
    """OpenAI content may be a string or a list of parts; only text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(part.text or "" for part in content if part.type == "text")


# The "Sources" heading in the reader's language; English and Chinese quotes are the project's translation.
SOURCES_HEADINGS = {
    "ja": "出典:",
    "en": "Sources (quoted from report-rag's English translation; the Japanese original is authoritative):",
    "zh": "来源（引自 report-rag 的中文译文，以日文原文为准）：",
}


def sources_text(answer: Answer) -> str:
    """The citations as a plain "Sources" list in the reader's language, for chat clients that show only the
    content."""
    if not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        first = c.quote.split("\n", 1)[0]
        quote = first if len(first) <= QUOTE_CHARS else first[:QUOTE_CHARS].rstrip() + "…"
        lines.append(f"[{c.n}] 【{c.section_id}】{c.section_title} — “{quote}”")
    heading = SOURCES_HEADINGS.get(answer.language, SOURCES_HEADINGS["en"])
    return f"\n\n{heading}\n" + "\n".join(lines)


def _stream(
    completion_id: str, created: int, pieces: Iterator[str | Answer], budget: usage.Budget, prompt: int | None
) -> Iterator[str]:
    """Server-sent events in OpenAI's chat.completion.chunk shape, the answer's pieces as they come (an LLM's
    verified sentence by sentence), held to ``budget``; the last chunk carries the citations and what
    verification did, and with ``prompt`` tokens counted, one more carries the usage."""

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
        elif fits := budget.take(piece):
            yield event(delta({"content": fits}))
    assert answer is not None, "a stream ends with its Answer"
    if fits := budget.take(sources_text(answer)):
        yield event(delta({"content": fits}))
    citations = [citation_json(c) for c in answer.citations]
    yield event(delta({}, usage.finish_reason(budget.exhausted)), citations=citations, **generation_json(answer))
    if prompt is not None:  # OpenAI sends usage in one extra chunk with no choices when asked to
        yield event([], usage=usage.usage(prompt, budget.sent))
    yield "data: [DONE]\n\n"
