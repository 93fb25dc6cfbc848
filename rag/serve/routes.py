"""The service's own routes: /healthz, /api/search, /api/ask (plain or as server-sent events), /api/feedback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.errors import IndexError_
from rag.lang import detect_language
from rag.pipeline import ms_since
from rag.serialize import answer_json, search_result_json
from rag.serve.middleware import note, noting
from rag.serve.schemas import (
    API_ERRORS,
    ASK_SSE_DOC,
    AskRequest,
    AskResponse,
    FeedbackCreated,
    FeedbackRequest,
    HealthResponse,
    SearchRequest,
    SearchResponse,
)
from rag.serve.state import AppState
from rag.types import Answer


def add_api_routes(app: FastAPI, state: AppState) -> None:
    """Add /healthz and the /api routes to ``app``, over ``state``'s live pipeline (read once per request)."""

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
        result["took_ms"] = ms_since(started)
        return result

    @app.post("/api/ask", response_model=AskResponse, responses={200: {"content": ASK_SSE_DOC}, **API_ERRORS})
    def ask(body: AskRequest, request: Request) -> Any:
        """An answer quoted from the report (or written by the configured LLM and verified against it),
        with numbered citations, or an abstention."""
        started = time.perf_counter()
        history = [m.model_dump() for m in body.history]
        if body.stream:
            pieces = state.pipeline.ask_stream(body.question, k=body.k, history=history)
            events = _ask_events(noting(request, body.question, pieces))
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        answer = state.pipeline.ask(body.question, k=body.k, history=history)
        note(request, body.question, answer)
        result = answer_json(answer)
        result["took_ms"] = ms_since(started)
        return result

    @app.post("/api/feedback", status_code=201, response_model=FeedbackCreated, responses=API_ERRORS)
    def feedback(body: FeedbackRequest) -> Any:
        """Rate an answer up or down, as the chat UI's thumbs do. 201 only once the rating is committed."""
        # Stored as sent: a client of the API before citations had their originals sends none.
        citations = [c.model_dump(exclude_unset=True) for c in body.citations]
        store = state.feedback()
        rating = store.add(
            body.question, body.answer, citations, detect_language(body.question), body.vote, body.comment
        )
        return {"id": rating}


def _ask_events(pieces: Iterator[str | Answer]) -> Iterator[str]:
    """/api/ask as server-sent events: "delta" events with text pieces, then the whole "answer"."""
    for piece in pieces:
        if isinstance(piece, Answer):
            data, name = answer_json(piece), "answer"
        else:
            data, name = {"text": piece}, "delta"
        yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
