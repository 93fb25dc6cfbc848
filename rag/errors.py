"""Error hierarchy: every failure a user can act on is a RagError with a one-line fix.

RagError                (HTTP 500 unless a subclass says otherwise)
├── InputError          bad question or request, an unknown retrieval mode (HTTP 400/422)
│   └── QuestionTooLong over RAG_MAX_QUESTION_CHARS (HTTP 413)
├── CorpusError         report file unreadable, not UTF-8 or without sections
│   └── EditionError    a translation file of the aligned edition is malformed (the file and line named)
├── ModelError          embedding model missing, not provisioned or invalid (HTTP 503)
├── IndexError_         index missing, corrupted or built from another corpus/model (HTTP 503)
├── DependencyError     an optional package is not installed
├── ConfigError         a RAG_* setting has a value that cannot be used (RAG_API_KEYS, RAG_LLM_* without a model)
└── LLMError            the configured LLM is unreachable, slow or failing (HTTP 502; answers fall back)
"""

from __future__ import annotations


class RagError(Exception):
    """Base class; ``str(err)`` is a single line saying what went wrong and what to do."""

    status_code = 500


class InputError(RagError):
    """What the caller sent cannot be answered as it is; the message says how to fix it."""

    status_code = 422


class QuestionTooLong(InputError):
    status_code = 413


class CorpusError(RagError):
    """The report or its metadata cannot be read: fix the corpus folder (RAG_CORPUS_DIR)."""


class EditionError(CorpusError):
    """A translation file cannot be used: not UTF-8 JSON Lines, a duplicate key, a key of no unit."""


class ModelError(RagError):
    """The embedding model cannot be used until it is provisioned or fixed: the service is unavailable."""

    status_code = 503


class IndexError_(RagError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """The index cannot be used until `rag build` runs: the service is unavailable."""

    status_code = 503


class DependencyError(RagError):
    """A package the project needs is not installed: the message names it."""


class ConfigError(RagError):
    """A RAG_* setting cannot be used: the message names the variable."""


class LLMError(RagError):
    """The LLM did not give a usable reply; answers fall back to the extractive one with ``reason``."""

    status_code = 502

    def __init__(self, message: str, reason: str = "llm_error"):
        super().__init__(message)
        self.reason = reason  # a short code for responses and logs: llm_timeout, llm_http_401, ...
