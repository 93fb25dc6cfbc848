"""Hybrid retrieval: dense (FAISS) and BM25 scores fused with per-language weights.

Japanese questions meet the report itself. English and Chinese questions meet the aligned edition in their own
language (dense and BM25), fused with evidence from the Japanese original; without an edition for their language
they are matched against the Japanese alone, across languages ("crosslingual").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.crosslingual import TermTranslator
from rag.edition_index import EditionIndex
from rag.embed import Embedder
from rag.errors import InputError
from rag.index import Index
from rag.intents import CONTENT, Intent
from rag.lang import detect_language, japanese_forms
from rag.types import Hit, Translation

# From the simplest to the whole pipeline; `rag eval` puts its fixed-window baseline before them. For English
# and Chinese questions bm25, dense and hybrid use the edition in the question's language, "crosslingual" the
# Japanese original alone (the pipeline before the edition), "full" both.
MODES = ("bm25", "dense", "hybrid", "crosslingual", "full")


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion settings. Weights are per question language: BM25 is strong on Japanese
    questions and nearly blind on English ones, so one global weight hurts one or the other."""

    mode: str = "full"
    rrf_k: int = 60
    # BM25 weight of a report word found for an English or Chinese question word.
    expansion_weight: float = 1.0
    # How many of those words (closest first) are appended to the question for a second dense vector.
    dense_expansion_words: int = 8
    # (dense weight, BM25 weight) per language for the full pipeline.
    weights: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"ja": (1.0, 2.0), "zh": (1.0, 1.0), "en": (1.0, 0.5)}
    )
    # For a question in an edition language, the RRF weight of each retriever in the full pipeline: dense over
    # the edition (a passage as close as its closest sentence or row, and the passage alone), BM25 over it, dense
    # and BM25 over the Japanese (Chinese in Japanese character forms), and the cross-lingual pipeline with its
    # word expansions (the costly part). Chosen on the tuning questions: the Japanese parts added nothing there.
    reader_weights: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "en": {"dense": 1.0, "dense_passage": 0.5, "bm25": 2.0, "bm25_ja": 0.0, "crosslingual": 0.0},
            "zh": {"dense": 1.0, "dense_passage": 0.5, "bm25": 1.5, "bm25_ja": 0.0, "crosslingual": 0.0},
        }
    )


@dataclass(frozen=True)
class Scored:
    """Per-passage evidence from each retriever, kept for the trace and for abstention."""

    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray
    language: str
    unit_sims: np.ndarray  # cosine of the query with every sentence/row piece (empty for bm25)
    expansions: tuple[tuple[str, float], ...] = ()  # report words added for an en/zh question
    # Cosine of the query with every sentence/row in the question's own language, when the edition has it.
    reader_unit_sims: np.ndarray | None = None
    intent: Intent = CONTENT  # what the question asks of the report as a document (a chapter, a table, ...)
    focus: str = ""  # what a follow-up itself asks about ("付与数" in 「付与数は？」), beside the previous question
    previous: str = ""  # the previous question a follow-up leans on


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig | None = None):
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.translator = TermTranslator(index.terms, index.term_vectors, embedder)

    def score(self, query: str, language: str | None = None, mode: str | None = None) -> Scored:
        """Score every passage: against the edition in the question's language when there is one (see the
        module's docstring), else against the Japanese original."""
        mode = mode or self.config.mode
        if mode not in MODES:
            raise InputError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        language = language or detect_language(query)
        edition = self.index.editions.get(language)
        if edition is not None and mode != "crosslingual":
            return self._score_reader(query, language, mode, edition)
        return self._score_original(query, language, "full" if mode == "crosslingual" else mode)

    def _score_reader(self, query: str, language: str, mode: str, edition: EditionIndex) -> Scored:
        n = len(self.index.chunks)
        qvec = np.ascontiguousarray(self.embedder.encode_queries([query])[0], dtype=np.float32)
        passage, reader_units = self._dense(qvec, False, edition.vectors, edition.unit_vectors)
        dense = self._with_best_unit(passage, reader_units)
        lexical = edition.lexical.scores(query) if mode != "dense" else np.zeros(n, dtype=np.float32)
        # The Japanese units' closeness serves the answerer for units the edition lacks.
        dense_ja, unit_sims = self._dense(qvec, True)
        k = self.config.rrf_k
        if mode in ("dense", "bm25"):
            fused = dense if mode == "dense" else lexical
        elif mode == "hybrid":
            fused = _rrf(dense, k) + _rrf(lexical, k, lexical > 0)
        else:
            weights = self.config.reader_weights.get(language, {"dense": 1.0, "bm25": 1.0})
            parts = {"dense": dense, "dense_passage": passage, "bm25": lexical, "dense_ja": dense_ja}
            if weights.get("bm25_ja"):
                parts["bm25_ja"] = self.index.lexical.scores(japanese_forms(query) if language == "zh" else query)
            if weights.get("crosslingual"):
                parts["crosslingual"] = self._score_original(query, language, "full").fused
            fused = np.zeros(n, dtype=np.float32)
            for name, scores in parts.items():
                if w := weights.get(name, 0.0):
                    fused += w * _rrf(scores, k, scores > 0 if name.startswith("bm25") else None)
        return Scored(dense, lexical, fused, language, unit_sims, reader_unit_sims=reader_units)

    def _score_original(self, query: str, language: str, mode: str) -> Scored:
        """Scores against the Japanese original. ``full`` adds what plain hybrid lacks: passages scored by
        their best sentence or row too, Chinese rewritten in Japanese character forms, and English/Chinese
        words mapped to the report's Japanese words for BM25."""
        full = mode == "full"
        # 产业 → 産業: the Japanese forms meet the report's own characters in both retrievers.
        query_ja = japanese_forms(query) if full and language == "zh" else query
        n = len(self.index.chunks)
        dense = np.zeros(n, dtype=np.float32)
        lexical = np.zeros(n, dtype=np.float32)
        unit_sims = np.zeros(0, dtype=np.float32)
        expansions: list[tuple[str, float]] = []
        translate = full and mode != "dense" and language != "ja"
        extra = self.translator.uncached(self.translator.sources(query, language)) if translate else []
        word_vectors: dict[str, np.ndarray] = {}
        if mode != "bm25":
            qvec = np.ascontiguousarray(self.embedder.encode_queries([query_ja])[0], dtype=np.float32)
            # Words in a batch of their own: padded to the question's length they would cost several times more.
            word_vectors = dict(zip(extra, self.embedder.encode_queries(extra), strict=True))
            dense, unit_sims = self._dense(qvec, full)
        if mode != "dense":
            if translate:
                expansions = self.translator.translate(query, language, word_vectors)
            if translate and expansions and mode == "full":
                # The question with its report words appended meets the Japanese passages halfway;
                # averaged with the question alone so a poor word match cannot take over.
                expanded, expanded_units = self._dense(self._expanded_vector(query_ja, expansions), full)
                dense, unit_sims = (dense + expanded) / 2, (unit_sims + expanded_units) / 2
            lexical = self.index.lexical.scores(query_ja, [(t, self.config.expansion_weight) for t, _ in expansions])
        fused: np.ndarray
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            w_dense, w_lex = (1.0, 1.0) if mode == "hybrid" else self.config.weights.get(language, (1.0, 1.0))
            fused = w_dense * _rrf(dense, self.config.rrf_k) + w_lex * _rrf(lexical, self.config.rrf_k, lexical > 0)
        return Scored(dense, lexical, fused, language, unit_sims, tuple(expansions))

    def _dense(
        self, qvec: np.ndarray, full: bool, vectors: Any = None, unit_vectors: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of every passage with ``qvec`` (in full mode, at least its best sentence or row's),
        and of every sentence/row piece; over the Japanese index unless an edition's vectors are given."""
        n = len(self.index.chunks)
        dense = np.zeros(n, dtype=np.float32)
        sims, ids = (self.index.vectors if vectors is None else vectors).search(qvec[None, :], n)
        dense[ids[0]] = sims[0]
        unit_sims = (self.index.unit_vectors if unit_vectors is None else unit_vectors) @ qvec
        return (self._with_best_unit(dense, unit_sims) if full else dense), unit_sims

    def _with_best_unit(self, passage: np.ndarray, unit_sims: np.ndarray) -> np.ndarray:
        # Multi-granularity: a passage is as close as its closest sentence or row.
        best_unit = np.full(len(passage), -1.0, dtype=np.float32)
        np.maximum.at(best_unit, self.index.unit_chunk, unit_sims)
        return np.maximum(passage, best_unit)

    def _expanded_vector(self, query: str, expansions: list[tuple[str, float]]) -> np.ndarray:
        words = [w for w, _ in sorted(expansions, key=lambda e: -e[1])[: self.config.dense_expansion_words]]
        vec = self.embedder.encode_queries([f"{query} {' '.join(words)}"])[0]
        return np.ascontiguousarray(vec, dtype=np.float32)

    def focus(self, scored: Scored, intent: Intent) -> Scored:
        """Passages of the part of the report the question points at (a section, a chapter's summary, its
        tables, the title page or contents) ranked first, in their own order; the rest keep theirs after."""
        chunks = self.index.chunks
        sections = set(intent.sections)
        if intent.kind == "meta":
            sections = {"toc"} if intent.fields == ("toc",) else {"title"}
        inside = np.array([c.section_id in sections for c in chunks]) if sections else np.ones(len(chunks), bool)
        if intent.kind == "table" or "table" in intent.fields:
            tables = inside & np.array([c.kind == "table" for c in chunks])
            inside = tables if tables.any() else inside
        if intent.kind == "content" or inside.all() or not inside.any():
            return replace(scored, intent=intent)
        # More than the spread of the scores (RRF sums, cosines or raw BM25, by mode): the scope ranks first.
        boost = float(scored.fused.max() - scored.fused.min()) + 1.0
        return replace(scored, fused=scored.fused + boost * inside.astype(np.float32), intent=intent)

    def search(self, query: str, k: int = 5, language: str | None = None, mode: str | None = None) -> list[Hit]:
        scored = self.score(query, language, mode)
        return self.hits(scored, k)

    def hits(self, scored: Scored, k: int) -> list[Hit]:
        order = np.argsort(-scored.fused, kind="stable")[:k]
        dense_rank = _ranks(scored.dense)
        lex_rank = _ranks(scored.lexical, scored.lexical > 0)
        edition = self.index.editions.get(scored.language)
        hits = []
        for rank, i in enumerate(order, start=1):
            found = {"dense": int(dense_rank[i])}
            if lex_rank[i] > 0:
                found["bm25"] = int(lex_rank[i])
            chunk = self.index.chunks[i]
            translation = None
            if edition is not None:
                title = edition.titles.get(chunk.section_id, chunk.section_title)
                translation = Translation(scored.language, title, edition.headings[i], edition.passages[i])
            hits.append(Hit(chunk, float(scored.fused[i]), rank, found, translation))
        return hits


def _ranks(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each passage by score; 0 where ``valid`` is False (not retrieved)."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    if valid is not None:
        ranks[~valid] = 0
    return ranks


def _rrf(scores: np.ndarray, k: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Reciprocal-rank fusion term 1/(k + rank); passages a retriever did not find get 0."""
    ranks = _ranks(scores, valid)
    out = np.where(ranks > 0, 1.0 / (k + ranks), 0.0)
    return out.astype(np.float32)
