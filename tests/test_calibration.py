"""Abstention thresholds on disk (rag/calibration.py) and where the pipeline finds them (Settings.calibration_file)."""

from __future__ import annotations

import json
from pathlib import Path

from rag.calibration import load_thresholds, save_thresholds
from rag.config import Settings
from rag.embed import HashEmbedder
from rag.pipeline import Pipeline


def test_thresholds_round_trip_per_model(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    assert load_thresholds("m", path) is None  # never calibrated
    save_thresholds("m", {"ja": 0.859512, "en": 0.82}, path)
    save_thresholds("other", {"ja": 0.5}, path)
    assert load_thresholds("m", path) == {"ja": 0.8595, "en": 0.82}  # rounded to 4 places
    assert json.loads(path.read_text(encoding="utf-8")) == {"m": {"ja": 0.8595, "en": 0.82}, "other": {"ja": 0.5}}
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unreadable_file_counts_as_no_calibration(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text("{broken", encoding="utf-8")
    assert load_thresholds("m", path) is None
    save_thresholds("m", {"zh": 0.7}, path)  # replaced by a valid file
    assert load_thresholds("m", path) == {"zh": 0.7}


def test_the_pipeline_reads_the_calibration_of_its_own_corpus(sample_corpus: Path, tmp_path: Path) -> None:
    settings = Settings(corpus_dir=sample_corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    assert settings.calibration_file == sample_corpus / "calibration.json"
    save_thresholds(HashEmbedder.model_id, {"ja": 0.25, "en": 0.5, "zh": 0.75}, settings.calibration_file)
    pipeline = Pipeline.load(settings, build=True, embedder=HashEmbedder())
    assert pipeline.answerer.config.abstain_below == {"ja": 0.25, "en": 0.5, "zh": 0.75}
