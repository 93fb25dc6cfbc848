"""Shared fixtures: a small inline report and a fast fake embedder for unit tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@pytest.fixture
def sample_corpus(tmp_path: Path) -> Path:
    """A corpus folder holding the small sample report."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(HERE / "sample_report.txt", corpus / "report.txt")
    (corpus / "metadata.json").write_text(
        json.dumps({"file": "report.txt", "title": "テスト報告書", "language": "ja"}, ensure_ascii=False),
        encoding="utf-8",
    )
    return corpus
