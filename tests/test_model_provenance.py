"""Provenance of a model folder (rag/model/provenance.py): every file's size and sha256, a tampered one refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.model.provenance import (
    FORMAT_VERSION,
    PROVENANCE_FILE,
    REQUIRED_FILES,
    file_table,
    is_model_folder_valid,
    sha256_file,
    verify_model_folder,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A provisioned-looking folder: the required files (tiny) and their provenance."""
    model = tmp_path / "model"
    for name in REQUIRED_FILES:
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_text(f"contents of {name}\n", encoding="utf-8")
    provenance = {"format_version": FORMAT_VERSION, "files": file_table(model)}
    (model / PROVENANCE_FILE).write_text(json.dumps(provenance), encoding="utf-8")
    return model


def test_an_intact_folder_verifies(folder: Path) -> None:
    provenance = verify_model_folder(folder)
    assert set(provenance["files"]) == set(REQUIRED_FILES)  # the provenance does not list itself
    entry = provenance["files"]["config.json"]
    assert entry == {"sha256": sha256_file(folder / "config.json"), "size": (folder / "config.json").stat().st_size}
    assert is_model_folder_valid(folder)


def test_a_tampered_file_of_the_same_size_is_refused(folder: Path) -> None:
    target = folder / "1_Pooling" / "config.json"
    original = target.read_bytes()
    target.write_bytes(original.replace(b"contents", b"CONTENTS"))
    assert target.stat().st_size == len(original)
    with pytest.raises(ModelError, match=r"1_Pooling/config.json does not match its sha256.*rag provision --force"):
        verify_model_folder(folder)
    assert not is_model_folder_valid(folder)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "model.safetensors").write_bytes(b"x"), "model.safetensors has the wrong size"),
        (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json is missing"),
        (lambda f: (f / PROVENANCE_FILE).write_text("{", encoding="utf-8"), "is unreadable"),
        (lambda f: _rewrite(f, format_version=FORMAT_VERSION + 1), "written by another provisioner version"),
        (lambda f: _rewrite(f, files={"../outside": {"sha256": "0", "size": 1}}), "does not list config.json"),
    ],
)
def test_damage_is_named_with_the_fix(folder: Path, damage: object, message: str) -> None:
    damage(folder)  # type: ignore[operator]
    with pytest.raises(ModelError, match=message) as err:
        verify_model_folder(folder)
    assert str(err.value).endswith("run `rag provision --force`")


def test_a_missing_folder_says_to_provision(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"does not exist: run `rag provision`$"):
        verify_model_folder(tmp_path / "nothing")


def _rewrite(folder: Path, **changes: object) -> None:
    path = folder / PROVENANCE_FILE
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **changes}), encoding="utf-8")
