"""Token counts of the OpenAI-compatible endpoint: ``usage`` and ``max_tokens``, in tiktoken's cl100k encoding
(the offline copy chunking uses), as OpenAI counts them for its cl100k chat models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.chunking import count_tokens, encoding

# OpenAI frames every chat message with 3 tokens and primes the reply with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


def prompt_tokens(messages: Sequence[dict[str, str]]) -> int:
    """The tokens of the request's messages: each one's role and text, with OpenAI's framing."""
    framing = TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REPLY
    return framing + sum(count_tokens(m["role"]) + count_tokens(m["content"]) for m in messages)


def usage(prompt: int, completion: str) -> dict[str, int]:
    """OpenAI's ``usage`` object; the completion is the message content as returned."""
    done = count_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def cut(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut to its first ``max_tokens`` tokens, and whether it was cut. A character whose bytes the cut
    splits is dropped whole, so the result is always a prefix of ``text``."""
    if max_tokens is None:
        return text, False
    tokens = encoding().encode(text)
    if len(tokens) <= max_tokens:
        return text, False
    return encoding().decode_bytes(tokens[:max_tokens]).decode("utf-8", errors="ignore"), True


class Budget:
    """A streamed completion held to ``max_tokens``: ``take`` each piece, get what may still be sent."""

    def __init__(self, max_tokens: int | None):
        self.max_tokens = max_tokens
        self.sent = ""
        self.exhausted = False

    def take(self, piece: str) -> str:
        """The part of ``piece`` that fits (all of it, without a limit); once the limit is met, nothing."""
        if self.exhausted:
            return ""
        whole, self.exhausted = cut(self.sent + piece, self.max_tokens)
        # Tokens of a longer text need not extend the tokens of its start: never take back what was sent.
        fits = whole[len(self.sent) :] if whole.startswith(self.sent) else ""
        self.sent += fits
        return fits


def finish_reason(cut_short: bool) -> str:
    return "length" if cut_short else "stop"


def limit(body: Any) -> int | None:
    """The request's completion limit: ``max_completion_tokens`` (OpenAI's newer name) or ``max_tokens``."""
    value = getattr(body, "max_completion_tokens", None)
    return value if value is not None else body.max_tokens
