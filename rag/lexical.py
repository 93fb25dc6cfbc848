"""BM25 over Japanese-aware tokens: Sudachi words, Latin names, and Han bigrams for Chinese."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rag.errors import DependencyError
from rag.lang import HAN_RUN_RE

# Part-of-speech classes that carry no topic: particles, auxiliaries, symbols, blanks.
SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
# Model and benchmark names: GPT-4.5, DeepSeek-R1, o4-mini, MMLU, 1.2兆 stays with Sudachi.
LATIN_TOKEN_RE = re.compile(r"[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*|\d+(?:\.\d+)?%?")
LATIN_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "what",
        "which",
        "who",
        "how",
        "many",
        "much",
        "does",
        "do",
        "did",
        "by",
        "with",
        "as",
        "at",
        "from",
        "that",
        "this",
        "it",
        "its",
        "be",
        "been",
        "report",
        "according",
        "china",
        "chinese",
    ]
)


@lru_cache(maxsize=1)
def _sudachi() -> Any:
    try:
        from sudachipy import Dictionary, SplitMode
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise DependencyError("sudachipy is missing: pip install sudachipy sudachidict_core") from exc
    # Short units (mode A) split compounds, so 人工知能産業 also matches 人工知能.
    return Dictionary(dict="core").tokenizer(mode=SplitMode.A)


_SUDACHI_LOCK = threading.Lock()


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: Sudachi short units (normalized form, content words only), lowercase
    Latin names kept whole (GPT-4.5), and Han character bigrams so Chinese questions meet the
    kanji they share with the Japanese text."""
    text = unicodedata.normalize("NFKC", text)
    tokenizer = _sudachi()
    tokens: list[str] = []
    # Sudachi's tokenizer object is not safe to share between threads.
    with _SUDACHI_LOCK:
        morphemes = [(m.surface(), m.normalized_form(), m.part_of_speech()[0]) for m in tokenizer.tokenize(text)]
    for surface, normalized, pos in morphemes:
        if pos in SKIP_POS or not surface.strip():
            continue
        # Keep numbers as written: Sudachi normalizes "1.2兆" to 1200000000000.
        word = surface if any(ch.isdigit() for ch in surface) else normalized
        word = word.lower()
        if word.isascii() and word in LATIN_STOPWORDS:
            continue
        tokens.append(word)
    tokens.extend(t for t in LATIN_TOKEN_RE.findall(text.lower()) if t not in LATIN_STOPWORDS)
    for run in HAN_RUN_RE.findall(text):
        tokens.extend("~" + run[i : i + 2] for i in range(len(run) - 1))
    return tokens


class LexicalIndex:
    """BM25 (bm25s) over pre-tokenized passages; scores every passage for a query."""

    def __init__(self, corpus_tokens: Sequence[Sequence[str]]):
        import bm25s

        # bm25s sets its own logger to DEBUG at import; keep its chatter out of the CLI.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25 = bm25s.BM25()
        # An empty passage would give bm25s an empty row; a placeholder token keeps ids aligned.
        self._bm25.index([list(tokens) or ["\x00"] for tokens in corpus_tokens], show_progress=False)
        self.size = len(corpus_tokens)

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> LexicalIndex:
        return cls([tokenize(t) for t in texts])

    def scores(self, query: str, extra_terms: Sequence[tuple[str, float]] = ()) -> np.ndarray:
        """BM25 of the query's tokens, plus weighted BM25 of extra (already tokenized) terms."""
        total = np.zeros(self.size, dtype=np.float32)
        tokens = tokenize(query)
        if tokens:
            total += np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        for term, weight in extra_terms:
            total += weight * np.asarray(self._bm25.get_scores([term]), dtype=np.float32)
        return total


def vocabulary(token_lists: Sequence[Sequence[str]]) -> list[str]:
    """The report's Japanese content words: BM25 tokens that are not Latin names or Han bigrams."""
    terms = {t for tokens in token_lists for t in tokens if not t.startswith("~") and not t.isascii() and len(t) >= 2}
    return sorted(terms)
