"""Abstention thresholds fitted by `rag eval --calibrate`, per embedding model, in the corpus's calibration file."""

from __future__ import annotations

import json
from pathlib import Path


def load_thresholds(model_id: str, path: Path) -> dict[str, float] | None:
    """Thresholds for this model, or None when it was never calibrated."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = data.get(model_id)
    return {k: float(v) for k, v in found.items()} if isinstance(found, dict) else None


def save_thresholds(model_id: str, thresholds: dict[str, float], path: Path) -> None:
    """Store this model's thresholds beside any other model's, replacing the file atomically."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[model_id] = {k: round(v, 4) for k, v in thresholds.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
