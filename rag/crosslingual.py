"""Cross-lingual query terms: map English and Chinese question words to the report's own Japanese words.

No translation model can be had offline, but the multilingual embedding model places "patent" next
to 特許 and 专利 next to 特許. Every content word of the report is embedded once at build time; a
question's words are matched against that vocabulary only, so an expansion is always a word the
report actually uses, and BM25 can then match English and Chinese questions to Japanese text.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from rag.embed import Embedder
from rag.lang import HAN_RUN_RE, HAN_WORD_RE, japanese_forms
from rag.lexical import LATIN_STOPWORDS, tokenize

ENGLISH_WORD_RE = re.compile(r"[a-z][a-z\-]+")
# Characters of Chinese question and function words (什么, 哪个, 为什么, 多少, 的, 是 ...).
CHINESE_FUNCTION_CHARS = frozenset("什么哪个为怎如何多少些的是了在有和与把被从对吗呢吧")
# Question words that name no topic; matched against the vocabulary they only add noise.
ENGLISH_STOPWORDS = LATIN_STOPWORDS | frozenset(
    "when where why there their they has have had into than then also such these those most more between"
    " under over about per which whose named listed mentioned say says said give given kind kinds type".split()
)


@dataclass(frozen=True)
class TranslationConfig:
    # Cosine a vocabulary word must reach to count as a translation (e5 similarities are compressed).
    min_similarity: float = 0.88
    max_source_terms: int = 16
    cache_size: int = 4096


def source_terms(question: str, language: str) -> list[str]:
    """Words of the question worth translating: English content words and word pairs, or
    Chinese character pairs (Chinese has no spaces, and most words are two characters)."""
    if language == "en":
        words = [w for w in ENGLISH_WORD_RE.findall(question.lower()) if w not in ENGLISH_STOPWORDS and len(w) > 2]
        terms = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    elif language == "zh":
        # Sudachi's words of the question in Japanese forms first (生成式AI企业 → 生成, 企業), then character
        # pairs for what it cannot split; pairs with a function character (什么, 的是) name no topic.
        words = [t for t in tokenize(japanese_forms(question)) if len(t) >= 2 and HAN_WORD_RE.fullmatch(t)]
        pairs = [run[i : i + 2] for run in HAN_RUN_RE.findall(question) for i in range(len(run) - 1)]
        terms = words + [p for p in pairs if not CHINESE_FUNCTION_CHARS.intersection(p)]
    else:
        return []
    return list(dict.fromkeys(terms))


class TermTranslator:
    """Nearest report words for a question's words, with a small cache of word vectors."""

    def __init__(
        self, terms: list[str], vectors: np.ndarray, embedder: Embedder, config: TranslationConfig | None = None
    ):
        self.terms = terms
        self.vectors = vectors
        self.embedder = embedder
        self.config = config or TranslationConfig()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def sources(self, question: str, language: str) -> list[str]:
        return source_terms(question, language)[: self.config.max_source_terms] if self.terms else []

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def uncached(self, words: list[str]) -> list[str]:
        """Words whose vectors are not cached yet (the caller embeds them)."""
        with self._lock:
            return [w for w in words if w not in self._cache]

    def translate(
        self, question: str, language: str, vectors: dict[str, np.ndarray] | None = None
    ) -> list[tuple[str, float]]:
        """(report word, similarity) for each question word that has a close match; ``vectors``
        may carry word vectors the caller already computed."""
        sources = self.sources(question, language)
        if not sources:
            return []
        sims = self._vectors(sources, vectors or {}) @ self.vectors.T
        best = sims.argmax(axis=1)
        found: dict[str, float] = {}
        for row, col in enumerate(best):
            score = float(sims[row, col])
            if score >= self.config.min_similarity:
                found[self.terms[col]] = max(score, found.get(self.terms[col], 0.0))
        return list(found.items())

    def _vectors(self, words: list[str], given: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            known = {w: self._cache[w] for w in words if w in self._cache}
        known.update({w: v for w, v in given.items() if w in words})
        missing = [w for w in words if w not in known]
        if missing:
            known.update(zip(missing, self.embedder.encode_queries(missing), strict=True))
        with self._lock:
            for w in words:
                self._cache[w] = known[w]
                self._cache.move_to_end(w)
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return np.stack([known[w] for w in words])
