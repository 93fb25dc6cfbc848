"""Abstention thresholds fitted by `rag eval --calibrate`, stored per embedding model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rag.config import REPO_ROOT

log = logging.getLogger(__name__)

CALIBRATION_FILE = REPO_ROOT / "corpus" / "calibration.json"


def load_thresholds(model_id: str, path: Path = CALIBRATION_FILE) -> dict[str, float] | None:
    """Thresholds for this model, or None when it was never calibrated."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = data.get(model_id)
    return {k: float(v) for k, v in found.items()} if isinstance(found, dict) else None


def save_thresholds(model_id: str, thresholds: dict[str, float], path: Path = CALIBRATION_FILE) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[model_id] = {k: round(v, 4) for k, v in thresholds.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
