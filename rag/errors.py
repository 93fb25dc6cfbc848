"""Error hierarchy: every failure a user can act on is a RagError with a one-line fix.

RagError
├── InputError          bad question or request (HTTP 400/413/422)
├── CorpusError         report file unreadable, not UTF-8 or without sections
├── ModelError          embedding model missing or invalid
├── IndexError_         index missing, corrupted or built from another corpus/model (HTTP 503)
├── DependencyError     an optional package is not installed
├── ConfigError         a RAG_* setting has a value that cannot be used
└── LLMError           the configured LLM is misconfigured, unreachable, slow or failing
"""

from __future__ import annotations


class RagError(Exception):
    """Base class; ``str(err)`` is a single line saying what went wrong and what to do."""

    status_code = 500


class InputError(RagError):
    status_code = 422


class QuestionTooLong(InputError):
    status_code = 413


class CorpusError(RagError):
    status_code = 500


class ModelError(RagError):
    status_code = 503


class IndexError_(RagError):  # noqa: N801 - avoid shadowing the builtin IndexError
    status_code = 503


class DependencyError(RagError):
    status_code = 500


class ConfigError(RagError):
    status_code = 500


class LLMError(RagError):
    """The LLM did not give a usable reply; answers fall back to the extractive one with ``reason``."""

    status_code = 502

    def __init__(self, message: str, reason: str = "llm_error"):
        super().__init__(message)
        self.reason = reason  # a short code for responses and logs: llm_timeout, llm_http_401, ...
