"""Request and response models of /api and /healthz: the contract other tools (and the schema fuzzer) rely on."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rag.feedback import MAX_TEXT_CHARS


# Strict: "5" or true is not a k, and an unknown field is a client bug worth reporting.
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def whole_number(value: Any) -> Any:
    # JSON Schema's "integer" includes 5.0; strict mode alone would refuse it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(whole_number)]
Count = Annotated[int, Field(ge=1, le=50), BeforeValidator(whole_number)]
# A question needs a letter or a digit (Unicode L or N). Stated in the schema (ECMA regex) for clients and
# fuzzers; enforced by the pipeline after normalization, with a friendlier message than a regex mismatch.
WORDY = r"[\p{L}\p{N}]"
USER_TEXT: dict[str, Any] = {"role": {"const": "user"}, "content": {"type": "string", "pattern": WORDY}}


def _text(description: str) -> Any:
    """A required text field that must hold a word (see WORDY)."""
    return Field(min_length=1, description=description, json_schema_extra={"pattern": WORDY})


def _k(what: str) -> Any:
    # Absent (or null): the server's RAG_TOP_K.
    return Field(None, description=f"How many passages to {what} (default: the server's RAG_TOP_K, 5 unless set).")


class SearchRequest(Strict):
    query: str = _text("What to look for, in Japanese, English or Chinese.")
    k: Count | None = _k("return")


class HitTranslation(BaseModel):
    """A passage in the aligned edition: the project's translation; the Japanese original is authoritative."""

    language: Literal["en", "zh"]
    title: str
    heading_path: list[str]
    text: str


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
    translation: HitTranslation | None = Field(
        None, description="The passage in the question's language (the project's translation), when there is one."
    )


class SearchResponse(BaseModel):
    query: str = Field(description="The query as searched, after normalization.")
    language: Literal["ja", "en", "zh"]
    hits: list[HitOut]
    took_ms: float = Field(description="Time spent serving the request, measured at the API edge.")


class HistoryMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(Strict):
    question: str = _text("The question; over the server's limit (1000 characters by default) is a 413.")
    k: Count | None = _k("retrieve")
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
    title: str = Field(description="The section's title in the reader's language.")
    quote: str = Field(description="The quoted words in the reader's language (the project's translation).")
    quote_original: str = Field("", description="The quote as the Japanese original writes it (authoritative).")
    title_original: str = Field("", description="The section's title in the Japanese original.")


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
    intent: Literal["content", "scoped", "table", "meta", "help"] = Field(
        "content",
        description="What the question asked of the report: its content, a chapter or section, a table, its "
        "title/author/date/contents, or help.",
    )
    span: str | None = Field(None, description="The asked-for amount or date, as the answer marks it (**bold**).")
    hits: list[HitOut]
    took_ms: float


# -- feedback (POST /api/feedback) --
class FeedbackCitation(Strict):
    n: int = Field(ge=1)
    chunk_id: str = Field(max_length=200)
    section: str = Field(max_length=200)
    title: str = Field(max_length=2000)
    quote: str = Field(max_length=MAX_TEXT_CHARS)
    quote_original: str = Field("", max_length=MAX_TEXT_CHARS)
    title_original: str = Field("", max_length=2000)


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


API_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 413, 422, 503)}
# Before OpenAPI 3.2 a stream's "schema" describes one server-sent event.
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A chat.completion.chunk as JSON; the last event is [DONE]."},
        "event": {"type": "string"},
    },
}
ASK_SSE_DOC = {"text/event-stream": {"schema": {**SSE_EVENT, "description": '"delta" events, then one "answer"'}}}
