"""Asking a running `rag serve` over HTTP (`rag ask --server URL`): an answer in milliseconds, no model loaded.

The standard library's urllib, not httpx: importing httpx (and the command line it brings) would take longer
than the answer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from rag.errors import InputError, RagError

TIMEOUT_S = 60.0  # an answer written by a slow LLM behind the server can take a while


def ask_server(base_url: str, question: str, k: int | None = None, api_key: str | None = None) -> dict[str, Any]:
    """POST /api/ask on the server at ``base_url`` and return its JSON answer; its errors as one-line RagErrors."""
    body: dict[str, Any] = {"question": question} | ({"k": k} if k is not None else {})
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/ask", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, unknown host, timeout, not JSON
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise RagError(f"cannot reach the server at {base_url} ({reason}): is `rag serve` running?") from exc
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = text[:200] or "no message"
    # The server's 4xx says what was wrong with the question; anything else is the server's problem.
    error = InputError if status in (400, 413, 422) else RagError
    raise error(f"the server answered {status}: {message}")
