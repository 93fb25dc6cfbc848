"""Hybrid retrieval: dense (FAISS) and BM25 scores fused with per-language weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag.embed import Embedder
from rag.index import Index
from rag.lang import detect_language
from rag.lexical import japanese_forms
from rag.types import Hit

MODES = ("dense", "bm25", "hybrid", "full")


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion settings. Weights are per question language: BM25 is strong on Japanese
    questions and nearly blind on English ones, so one global weight hurts one or the other."""

    mode: str = "full"
    rrf_k: int = 60
    # (dense weight, BM25 weight) per language for the full pipeline.
    weights: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"ja": (1.0, 1.0), "zh": (1.0, 0.5), "en": (1.0, 0.2)}
    )


@dataclass(frozen=True)
class Scored:
    """Per-passage evidence from each retriever, kept for the trace and for abstention."""

    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray
    language: str
    unit_sims: np.ndarray  # cosine of the query with every sentence/row piece (empty for bm25)


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig | None = None):
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()

    def score(self, query: str, language: str | None = None, mode: str | None = None) -> Scored:
        mode = mode or self.config.mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        language = language or detect_language(query)
        n = len(self.index.chunks)
        dense = np.zeros(n, dtype=np.float32)
        lexical = np.zeros(n, dtype=np.float32)
        unit_sims = np.zeros(0, dtype=np.float32)
        if mode != "bm25":
            qvec = np.ascontiguousarray(self.embedder.encode_queries([query]), dtype=np.float32)
            sims, ids = self.index.vectors.search(qvec, n)
            dense[ids[0]] = sims[0]
            unit_sims = self.index.unit_vectors @ qvec[0]
            if mode == "full":
                # Multi-granularity: a passage is as close as its closest sentence or row.
                best_unit = np.full(n, -1.0, dtype=np.float32)
                np.maximum.at(best_unit, self.index.unit_chunk, unit_sims)
                dense = np.maximum(dense, best_unit)
        if mode != "dense":
            lexical = self.index.lexical.scores(japanese_forms(query) if language == "zh" else query)
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            w_dense, w_lex = (1.0, 1.0) if mode == "hybrid" else self.config.weights.get(language, (1.0, 1.0))
            fused = w_dense * _rrf(dense, self.config.rrf_k) + w_lex * _rrf(lexical, self.config.rrf_k, lexical > 0)
        return Scored(dense=dense, lexical=lexical, fused=fused, language=language, unit_sims=unit_sims)

    def search(self, query: str, k: int = 5, language: str | None = None, mode: str | None = None) -> list[Hit]:
        scored = self.score(query, language, mode)
        return self.hits(scored, k)

    def hits(self, scored: Scored, k: int) -> list[Hit]:
        order = np.argsort(-scored.fused, kind="stable")[:k]
        dense_rank = _ranks(scored.dense)
        lex_rank = _ranks(scored.lexical, scored.lexical > 0)
        hits = []
        for rank, i in enumerate(order, start=1):
            found = {"dense": int(dense_rank[i])}
            if lex_rank[i] > 0:
                found["bm25"] = int(lex_rank[i])
            hits.append(Hit(chunk=self.index.chunks[i], score=float(scored.fused[i]), rank=rank, retrievers=found))
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
