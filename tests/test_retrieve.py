"""Retrieval (rag/retrieve.py) over the sample report: what each mode scores with, fusion, ranks per retriever."""

from __future__ import annotations

import numpy as np
import pytest

from rag.chunking import indexed_text
from rag.errors import InputError
from rag.pipeline import Pipeline
from rag.retrieve import MODES, _ranks, _rrf

Q = "ロボット政策の指導意見"


def test_reciprocal_rank_fusion_terms() -> None:
    scores = np.array([0.9, 0.1, 0.5], np.float32)
    assert _ranks(scores).tolist() == [1, 3, 2]
    np.testing.assert_allclose(_rrf(scores, 60), [1 / 61, 1 / 63, 1 / 62])
    # A passage a retriever did not find gets no share of the fusion.
    np.testing.assert_allclose(_rrf(scores, 60, scores > 0.2), [1 / 61, 0.0, 1 / 62])


def test_an_unknown_mode_is_bad_input(fake_pipeline: Pipeline) -> None:
    modes = ", ".join(MODES)
    with pytest.raises(InputError, match=f"unknown retrieval mode 'semantic': use one of {modes}"):
        fake_pipeline.retriever.score(Q, mode="semantic")


def test_bm25_and_dense_modes_use_one_retriever_each(fake_pipeline: Pipeline) -> None:
    retriever, index = fake_pipeline.retriever, fake_pipeline.index
    bm25 = retriever.score(Q, mode="bm25")
    np.testing.assert_array_equal(bm25.fused, index.lexical.scores(Q))
    assert not bm25.dense.any()
    dense = retriever.score(Q, mode="dense")
    passages = fake_pipeline.embedder.encode_passages([indexed_text(c) for c in index.chunks])
    np.testing.assert_allclose(dense.fused, passages @ fake_pipeline.embedder.encode_queries([Q])[0], atol=1e-6)
    assert not dense.lexical.any()


def test_hybrid_fuses_ranks_and_full_weighs_japanese_bm25_twice(fake_pipeline: Pipeline) -> None:
    retriever = fake_pipeline.retriever
    hybrid = retriever.score(Q, mode="hybrid")
    found = hybrid.lexical > 0
    np.testing.assert_allclose(hybrid.fused, _rrf(hybrid.dense, 60) + _rrf(hybrid.lexical, 60, found))
    full = retriever.score(Q, mode="full")
    assert retriever.config.weights["ja"] == (1.0, 2.0)
    np.testing.assert_allclose(full.fused, _rrf(full.dense, 60) + 2 * _rrf(full.lexical, 60, full.lexical > 0))
    # Full mode scores a passage by its best sentence or row too: never lower than the passage alone.
    assert (full.dense >= hybrid.dense - 1e-6).all() and (full.dense > hybrid.dense + 1e-6).any()


def test_hits_carry_each_retrievers_rank(fake_pipeline: Pipeline) -> None:
    retriever = fake_pipeline.retriever
    scored = retriever.score(Q)
    hits = retriever.hits(scored, 4)
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert [h.chunk.order for h in hits] == np.argsort(-scored.fused, kind="stable")[:4].tolist()
    dense_rank, lexical_rank = _ranks(scored.dense), _ranks(scored.lexical, scored.lexical > 0)
    for hit in hits:
        assert hit.retrievers["dense"] == dense_rank[hit.chunk.order]
        assert hit.retrievers.get("bm25", 0) == lexical_rank[hit.chunk.order]
