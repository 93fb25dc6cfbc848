"""The chat UI's API for Gradio clients (gradio_client, @gradio/client): /ask and /search, as plain text and JSON.

The UI's own event handlers are private: they take and return the chat's widgets (HTML messages, server-side
state), which is no interface for a program. These two take a question and give what /api/ask and /api/search
give, with Gradio's queue and login in front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.errors import RagError
from rag.serialize import citation_json, hit_json

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

MAX_K = 50  # as /api/ask and /api/search allow
CONCURRENCY = 8  # as the chat's own questions


def live(get: Callable[[], Pipeline]) -> Pipeline:
    """The pipeline the server holds now, or a gr.Error the user (or client) sees while there is none."""
    try:
        return get()
    except RagError as exc:
        raise gr.Error(str(exc)) from exc
    except Exception as exc:  # the server's state raises while the index is (re)loading
        raise gr.Error(f"The index is not ready yet ({exc}); try again in a moment.") from exc


def add_api(get_pipeline: Callable[[], Pipeline]) -> None:
    """Declare /ask and /search in the Blocks being built."""

    def ask(question: str, k: int = 5) -> dict[str, Any]:
        """Answer a question about the report (Japanese, English or Chinese) from the k passages retrieved for it.

        Returns JSON: the answer as plain text (its [n] markers point at the citations), its language, whether
        the report holds no answer (abstained), and the citations: section, title and quote, with the Japanese
        original of a translated quote.
        """
        try:
            answer = live(get_pipeline).ask(question, k=_k(k))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return {
            "answer": answer.text,
            "language": answer.language,
            "abstained": answer.abstained,
            "citations": [citation_json(c) for c in answer.citations],
        }

    def search(query: str, k: int = 5) -> list[dict[str, Any]]:
        """The k passages of the report that best match the query, best first, as JSON (section, title, text,
        score, the rank each retriever gave, and the passage in the query's language when translated)."""
        try:
            result = live(get_pipeline).search(query, k=_k(k))
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return [hit_json(hit) for hit in result.hits]

    gr.api(ask, api_name="ask", concurrency_limit=CONCURRENCY)
    gr.api(search, api_name="search", concurrency_limit=CONCURRENCY)


def _k(k: Any) -> int:
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise gr.Error(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    return k
