"""Plain-dict views of results, shared by the CLI's --json output and the HTTP API."""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Citation, Hit, Translation


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "chunk_id": hit.chunk.id,
        "section": hit.chunk.section_id,
        "title": hit.chunk.section_title,
        "heading_path": list(hit.chunk.heading_path),
        "kind": hit.chunk.kind,
        "text": hit.chunk.text,
        "score": round(hit.score, 6),
        "retrievers": hit.retrievers,
        "translation": translation_json(hit.translation) if hit.translation is not None else None,
    }


def translation_json(t: Translation) -> dict[str, Any]:
    return {"language": t.language, "title": t.title, "heading_path": list(t.heading_path), "text": t.text}


def citation_json(c: Citation) -> dict[str, Any]:
    """A citation: the quote and section title in the reader's language, and as the Japanese original has them."""
    return {
        "n": c.n,
        "chunk_id": c.chunk_id,
        "section": c.section_id,
        "title": c.section_title,
        "quote": c.quote,
        "quote_original": c.original,
        "title_original": c.title_original or c.section_title,
    }


def search_result_json(result: Any) -> dict[str, Any]:
    """A ``SearchResult``: the query as searched, its language, the hits and the time taken."""
    return {"query": result.query, "language": result.language, **_retrieved(result)}


def answer_json(answer: Answer) -> dict[str, Any]:
    """An ``Answer``: the text, its citations, the hits it was drawn from, then how it was written."""
    answered: dict[str, Any] = {"question": answer.question, "answer": answer.text, "language": answer.language}
    answered |= {"abstained": answer.abstained, "citations": [citation_json(c) for c in answer.citations]}
    answered |= {"intent": answer.intent, "span": answer.span}
    return {**answered, **_retrieved(answer), **generation_json(answer)}


def _retrieved(result: Any) -> dict[str, Any]:
    # Both results end with their hits and the time taken, in this order.
    return {"hits": [hit_json(h) for h in result.hits], "took_ms": result.took_ms}


def generation_json(answer: Answer) -> dict[str, Any]:
    """Who wrote the answer and what verification did: added beside the original answer fields."""
    return {
        "generator": answer.generator,
        "fallback": answer.fallback,
        "removed_sentences": [{"text": r.text, "reason": r.reason} for r in answer.removed],
        "interrupted": answer.interrupted,
        "standalone_question": answer.query or answer.question,
    }
