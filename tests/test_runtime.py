"""The default model run without sentence-transformers (rag/model/runtime.py): bit-identical vectors, its layout
checked, what it loads, and a progress bar that says what it embeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from rag.chunking import chunk_sections, indexed_text, passage_units, unit_indexed_text
from rag.config import DEFAULT_MODEL, REPO_ROOT
from rag.corpus import load_report
from rag.embed import Embedder, SentenceTransformerEmbedder
from rag.errors import ModelError
from rag.eval import load_questions
from rag.model.runtime import OnnxEmbedder, _check_layout

ODD = [
    *("", " ", "x", "🙂🙂", "GPT-4.5", "  two  spaces  ", "改行\nあり", "tab\there"),
    *("\u3000全角\u3000空白", "nbsp\u00a0x", "<s> <mask> </s>", "a" * 3000),
]


def _layout(folder: Path, pooling: Mapping[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    modules = [{"type": "sentence_transformers.models.Transformer"}, {"type": "sentence_transformers.models.Pooling"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    return folder


def test_the_layout_it_reproduces_is_checked(tmp_path: Path) -> None:
    mean = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False, "include_prompt": True}
    assert _check_layout(_layout(tmp_path / "mean", mean)) == (256, False)
    with pytest.raises(ModelError, match=r"not a mean-pooled transformer.*RAG_EMBED_BACKEND=torch"):
        _check_layout(_layout(tmp_path / "cls", {**mean, "pooling_mode_cls_token": True}))
    with pytest.raises(ModelError, match="pools differently"):
        _check_layout(_layout(tmp_path / "prompt", {**mean, "include_prompt": False}))
    with pytest.raises(ModelError, match=r"unreadable.*rag provision --force"):
        _check_layout(tmp_path / "empty")


@pytest.mark.integration
def test_vectors_are_bit_identical_to_sentence_transformers(e5: Embedder, model_cache: Path) -> None:
    assert isinstance(e5, OnnxEmbedder)
    reference = SentenceTransformerEmbedder(model_cache / DEFAULT_MODEL, backend="onnx")
    questions = [q.question for q in load_questions(REPO_ROOT / "corpus" / "questions.jsonl")]
    report = load_report(REPO_ROOT / "corpus")
    chunks = chunk_sections(report.sections)
    # The longest passages too: they fill whole batches of 4 and are cut at 512 tokens when over.
    passages = sorted((indexed_text(c) for c in chunks), key=len)[-12:] + [indexed_text(c) for c in chunks[:12]]
    units = [unit_indexed_text(chunks[i], u) for i in range(6) for u in passage_units(chunks[i])]
    # As search embeds a question (alone), as the index embeds passages (in batches), and odd texts.
    np.testing.assert_array_equal(e5.encode_queries(questions[:40]), reference.encode_queries(questions[:40]))
    for question in questions[::7]:
        np.testing.assert_array_equal(e5.encode_queries([question]), reference.encode_queries([question]))
    np.testing.assert_array_equal(e5.encode_passages(passages + units), reference.encode_passages(passages + units))
    np.testing.assert_array_equal(e5.encode_queries(ODD), reference.encode_queries(ODD))


@pytest.mark.integration
def test_explicit_prompts_and_errors(e5: Embedder, model_cache: Path, tmp_path: Path) -> None:
    assert isinstance(e5, OnnxEmbedder) and (e5.query_prompt, e5.passage_prompt) == ("query: ", "passage: ")
    folder = model_cache / DEFAULT_MODEL
    bare = OnnxEmbedder(folder, model_id="m", weights_hash="h", query_prompt="", batch_size=32, passage_batch_size=4)
    np.testing.assert_array_equal(bare.encode_queries(["query: 人型ロボット"]), e5.encode_queries(["人型ロボット"]))
    assert e5.encode_queries([]).shape == (0, 384)
    with pytest.raises(TypeError):
        e5.encode_queries("a bare string")  # type: ignore[arg-type]
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken, ignore=shutil.ignore_patterns("*.safetensors", "*.onnx"))
    (broken / "tokenizer.json").write_text("{")
    with pytest.raises(ModelError, match=r"tokenizer.json.*rag provision --force"):
        OnnxEmbedder(broken, model_id="m", weights_hash="h", batch_size=32, passage_batch_size=4)


@pytest.mark.integration
def test_the_default_model_loads_without_sentence_transformers(model_cache: Path) -> None:
    code = (
        "import sys; from rag.embed import load_embedder; "
        f"e = load_embedder('{DEFAULT_MODEL}', __import__('pathlib').Path(sys.argv[1])); e.encode_queries(['x']); "
        "print(sorted(m for m in ('sentence_transformers', 'transformers', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_cache)], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.integration
def test_the_progress_bar_says_what_it_embeds(e5: Embedder, capfd: pytest.CaptureFixture[str]) -> None:
    e5.encode_passages(["一", "two", "三", "four", "五"], show_progress="Japanese passages, sentences and rows")
    bar = capfd.readouterr().err
    assert "Japanese passages, sentences and rows" in bar and "5/5" in bar and "texts" in bar
    assert "Batches" not in bar
