"""How errors look over HTTP: one JSON body per failure (OpenAI's shape under /v1), and the handlers that
turn a RagError, a validation error, a 404/405 or an unexpected exception into it."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RagError
from rag.lang import INVALID_UNICODE

log = logging.getLogger(__name__)

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


def error_code(exc: RagError) -> str:
    """QuestionTooLong -> question_too_long, IndexError_ -> index_error."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__.rstrip("_")).lower()


def install_handlers(app: FastAPI) -> None:
    """Every error ``app`` can meet answers with ``error_response``: a RagError with its status, invalid
    bodies as 400 or 422 with the first problem named, 404 and 405 from routing, anything else as 500."""

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error_response(request.url.path, exc.status_code, str(exc), error_code(exc))

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
