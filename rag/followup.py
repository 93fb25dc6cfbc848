"""Turn a follow-up ("and in 2024?", "では2027年は？") into a standalone question using the chat history."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

# Openers that mark a question as leaning on the previous one.
FOLLOWUP_RE = re.compile(
    r"^(?:and\b|what about\b|how about\b|also\b|then\b|same\b|"
    r"では|じゃあ|それでは|それ(?:は|で|に)|その|また|さらに|"
    r"那么?|那|还有|另外|其中)",
    re.IGNORECASE,
)
SHORT_CHARS = {"ja": 20, "zh": 15, "en": 40}


def standalone_question(
    question: str,
    language: str,
    history: Sequence[dict[str, Any]] | None,
    rewrite: Callable[[str, str], str | None] | None = None,
) -> str:
    """The question itself, or, when it is a short follow-up, a standalone question: ``rewrite(previous,
    question)`` (an LLM) when given and it succeeds, else the last earlier user question plus this one;
    retrieval then sees the topic the follow-up leaves out."""
    previous = [str(m.get("content", "")).strip() for m in history or () if m.get("role") == "user"]
    previous = [p for p in previous if p]
    if not previous:
        return question
    if FOLLOWUP_RE.match(question.strip()) or len(question) <= SHORT_CHARS.get(language, 20):
        rewritten = rewrite(previous[-1], question) if rewrite else None
        return rewritten or f"{previous[-1]} {question}"
    return question
