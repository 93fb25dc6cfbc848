"""The embedders: the hashing fake, the factory, and the real default model (provisioned once per session by
the ``model_cache`` fixture in conftest)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.config import DEFAULT_MODEL, REPO_ROOT
from rag.embed import (
    NOT_PROVISIONED,
    Embedder,
    HashEmbedder,
    Labelled,
    SentenceTransformerEmbedder,
    combine_weight_hashes,
    embedder_from,
    load_embedder,
)
from rag.errors import ModelError
from rag.model.onnx import ONNX_FILE
from rag.model.provenance import PROVENANCE_FILE, sha256_file
from rag.model.runtime import OnnxEmbedder

# --------------------------------------------------------------------------- fast tests


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    texts = ["人型ロボット政策", "humanoid robot policy", "", "专利申请"]
    a = HashEmbedder().encode_passages(texts)
    b = HashEmbedder().encode_passages(texts)
    assert a.dtype == np.float32 and a.shape == (4, 256)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(HashEmbedder().encode_queries(texts), a)


def test_hash_embedder_similarity_follows_shared_ngrams() -> None:
    emb = HashEmbedder(dim=512)
    q = emb.encode_queries(["人型ロボットの政策"])[0]
    p = emb.encode_passages(["政府は人型ロボット政策を発表した", "特許出願数が増加した"])
    assert p[0] @ q > p[1] @ q
    assert emb.dim == 512 and emb.model_id == "hash-ngram"
    assert emb.weights_hash == HashEmbedder(dim=512).weights_hash != HashEmbedder().weights_hash


def test_hash_embedder_edge_cases() -> None:
    emb: Embedder = HashEmbedder()  # mypy checks that the fake has the Embedder interface
    assert emb.encode_passages([]).shape == (0, 256)
    with pytest.raises(TypeError):
        emb.encode_queries("not a list")  # type: ignore[arg-type]
    # Empty text gets a fixed unit vector, never NaN.
    empty = emb.encode_queries([""])[0]
    assert empty[0] == 1.0 and float(np.abs(empty).sum()) == 1.0


def test_embedder_from_reads_the_model_settings(tmp_path: Path) -> None:
    from rag.config import Settings

    assert isinstance(embedder_from(Settings(embed_model="hash")), HashEmbedder)
    with pytest.raises(ModelError, match="RAG_EMBED_BACKEND"):
        embedder_from(Settings(embed_model="hash", model_cache=tmp_path).model_copy(update={"embed_backend": "gpu"}))
    with pytest.raises(ModelError) as err:
        embedder_from(Settings(model_cache=tmp_path))
    assert str(err.value) == NOT_PROVISIONED and "rag provision" in NOT_PROVISIONED


def test_load_embedder_hash_and_errors(tmp_path: Path) -> None:
    assert isinstance(load_embedder("hash", tmp_path), HashEmbedder)
    with pytest.raises(ModelError) as err:
        load_embedder(DEFAULT_MODEL, tmp_path)
    assert str(err.value) == NOT_PROVISIONED
    with pytest.raises(ModelError, match="not available offline"):
        load_embedder("nobody/no-such-embedding-model-xyz", tmp_path)


def test_combine_weight_hashes() -> None:
    assert combine_weight_hashes({"model.safetensors": "ab" * 32}) == "ab" * 32
    two = combine_weight_hashes({"a.safetensors": "1" * 64, "b.safetensors": "2" * 64})
    assert len(two) == 64 and two == combine_weight_hashes({"b.safetensors": "2" * 64, "a.safetensors": "1" * 64})


def test_import_does_not_load_torch() -> None:
    code = "import sys, rag.embed; print('torch' in sys.modules or 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -------------------------------------------------------------- integration (real model)


@pytest.mark.integration
def test_e5_embedder_shapes_and_identity(e5: Embedder, model_cache: Path) -> None:
    assert isinstance(e5, OnnxEmbedder)  # the default when exported: no sentence-transformers at run time
    assert e5.model_id == DEFAULT_MODEL and e5.dim == 384
    assert e5.weights_hash == sha256_file(model_cache / DEFAULT_MODEL / "model.safetensors")
    vecs = e5.encode_passages(["一", "two", "三"], show_progress=False)
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384) and vecs.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert e5.encode_queries([]).shape == (0, 384)


@pytest.mark.integration
def test_cross_lingual_retrieval(e5: Embedder) -> None:
    q = e5.encode_queries(["humanoid robot policy"])[0]
    p = e5.encode_passages(
        [
            "政府は人型ロボットの研究開発と社会実装を支援する政策を発表した。",
            "2023年の特許出願数は前年より5%増加し、過去最多となった。",
        ]
    )
    assert p[0] @ q > p[1] @ q


@pytest.mark.integration
def test_query_and_passage_prompts_are_applied(e5: Embedder, model_cache: Path) -> None:
    text = "人型ロボット政策の現状"
    as_query = e5.encode_queries([text])[0]
    as_passage = e5.encode_passages([text])[0]
    assert float(as_query @ as_passage) < 0.9999
    # The folder's prompts are exactly e5's "query: " / "passage: " prefixes.
    reference = SentenceTransformerEmbedder(model_cache / DEFAULT_MODEL, backend="onnx")
    raw = reference._model.encode(["query: " + text, "passage: " + text, text], normalize_embeddings=True)
    np.testing.assert_allclose(raw[0], as_query, atol=1e-5)
    np.testing.assert_allclose(raw[1], as_passage, atol=1e-5)
    # Explicit prompts override the folder's: an empty query prompt encodes the bare text.
    bare = load_embedder(DEFAULT_MODEL, model_cache, query_prompt="")
    np.testing.assert_allclose(bare.encode_queries([text])[0], raw[2], atol=1e-5)


@pytest.mark.integration
def test_onnx_backend_gives_the_torch_vectors(e5: Embedder, model_cache: Path) -> None:
    assert isinstance(e5, OnnxEmbedder) and e5.backend == "onnx"  # the default when exported
    torch_e5 = load_embedder(DEFAULT_MODEL, model_cache, backend="torch")
    assert isinstance(torch_e5, SentenceTransformerEmbedder) and torch_e5.backend == "torch"
    texts = ["中国のAI産業の市場規模は？", "What is China's AI market size?", "中国人工智能核心产业规模是多少？", "x"]
    # Padded batches of mixed lengths too: the export must honour the attention mask.
    for a, b in (
        (e5.encode_queries(texts), torch_e5.encode_queries(texts)),
        (e5.encode_passages(texts * 3), torch_e5.encode_passages(texts * 3)),
    ):
        assert float(np.min(np.sum(a * b, axis=1))) >= 0.9999
    assert e5.weights_hash == torch_e5.weights_hash, "one index serves both backends"


@pytest.mark.integration
def test_backend_setting_is_checked(model_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="RAG_EMBED_BACKEND"):
        load_embedder(DEFAULT_MODEL, model_cache, backend="gpu")
    # A folder provisioned before exports existed: "auto" runs torch, "onnx" says what to run.
    copy = tmp_path / DEFAULT_MODEL
    shutil.copytree(model_cache / DEFAULT_MODEL, copy, copy_function=os.link)
    prov_path = copy / PROVENANCE_FILE
    prov = json.loads(prov_path.read_text())
    del prov["files"][ONNX_FILE], prov["onnx"]
    prov_path.unlink()  # a hard link: replace, never edit the original
    prov_path.write_text(json.dumps(prov))
    with pytest.raises(ModelError, match="rag provision"):
        load_embedder(DEFAULT_MODEL, tmp_path, backend="onnx")
    fallback = load_embedder(DEFAULT_MODEL, tmp_path)
    assert isinstance(fallback, SentenceTransformerEmbedder) and fallback.backend == "torch"


def test_labelled_passes_its_label_as_the_progress_bar() -> None:
    seen: list[object] = []

    class Recording(HashEmbedder):
        def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
            seen.append(show_progress)
            return super().encode_passages(texts)

    inner = Recording()
    labelled = Labelled(inner, "English edition")
    assert (labelled.model_id, labelled.dim, labelled.weights_hash) == (inner.model_id, inner.dim, inner.weights_hash)
    np.testing.assert_array_equal(labelled.encode_passages(["a"], show_progress=True), inner.encode_passages(["a"]))
    labelled.encode_passages(["a"])
    assert seen[0] == "English edition" and seen[2] is False
    np.testing.assert_array_equal(labelled.encode_queries(["q"]), inner.encode_queries(["q"]))


@pytest.mark.integration
def test_prefetch_opens_the_session_that_the_load_then_takes(model_cache: Path) -> None:
    from rag.config import Settings
    from rag.embed import prefetch
    from rag.model.onnx import shared_session, usable_cpus

    assert prefetch(Settings(embed_model="hash")) is None
    thread = prefetch(Settings(model_cache=model_cache))
    assert thread is not None
    thread.join(timeout=120)
    embedder = load_embedder(DEFAULT_MODEL, model_cache)
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.session is shared_session(model_cache / DEFAULT_MODEL / ONNX_FILE, usable_cpus())
