"""Provenance of a provisioned model folder: every file's size and sha256, checked on every start."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Collection
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from rag.errors import ModelError

FORMAT_VERSION = 1  # bump when the folder layout changes: old folders then fail verification
PROVENANCE_FILE = "provenance.json"
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
# Files whose bytes are a model's parameters (what an index's model_weights_sha256 identifies).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
PROVISION_HINT = "run `rag provision`"
REPROVISION_HINT = "run `rag provision --force`"


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _safe_relpath(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def read_provenance(path: Path) -> dict[str, Any]:
    """The folder's provenance.json (unverified), or ModelError if missing/unreadable."""
    prov_path = path / PROVENANCE_FILE
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelError(f"{prov_path} is missing: {PROVISION_HINT}") from err
    except (OSError, ValueError) as err:
        raise ModelError(f"{prov_path} is unreadable ({err}): {REPROVISION_HINT}") from err
    if not isinstance(prov, dict) or not isinstance(prov.get("files"), dict):
        raise ModelError(f"{prov_path} has no file list: {REPROVISION_HINT}")
    return prov


def verify_model_folder(path: Path, unread: Collection[str] = ()) -> dict[str, Any]:
    """Check every file of a provisioned folder against provenance.json; return the provenance.

    Hashing only (no model load), so it is cheap enough to run on every start. Files in ``unread`` (what
    this process will not load, such as the torch weights when the ONNX export runs) are checked by size
    only. Raises ModelError naming the first problem found.
    """
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist: {PROVISION_HINT}")
    prov = read_provenance(path)
    fix = REPROVISION_HINT
    if prov.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path} was written by another provisioner version: {fix}")
    files: dict[str, Any] = prov["files"]
    missing_required = [f for f in REQUIRED_FILES if f not in files]
    if missing_required:
        raise ModelError(f"{path}/{PROVENANCE_FILE} does not list {missing_required[0]}: {fix}")
    # Sizes first: a truncated copy is reported without hashing 470 MB.
    for name, entry in files.items():
        if not _safe_relpath(name) or not isinstance(entry, dict):
            raise ModelError(f"{path}/{PROVENANCE_FILE} has an invalid entry {name!r}: {fix}")
        fp = path / name
        if not fp.is_file():
            raise ModelError(f"{fp} is missing: {fix}")
        if fp.stat().st_size != entry.get("size"):
            raise ModelError(f"{fp} has the wrong size (corrupted or modified): {fix}")
    for name, entry in files.items():
        if name not in unread and sha256_file(path / name) != entry.get("sha256"):
            raise ModelError(f"{path / name} does not match its sha256 in {PROVENANCE_FILE}: {fix}")
    return prov


def is_model_folder_valid(path: Path) -> bool:
    try:
        verify_model_folder(path)
    except ModelError:
        return False
    return True


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file in ``folder`` but the provenance itself, as provenance.json lists them."""
    table: dict[str, dict[str, Any]] = {}
    for fp in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = fp.relative_to(folder).as_posix()
        if rel != PROVENANCE_FILE:
            table[rel] = {"sha256": sha256_file(fp), "size": fp.stat().st_size}
    return table


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def dist_version(name: str) -> str | None:
    """The installed version of a distribution, for the record, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def combine_weight_hashes(file_hashes: dict[str, str]) -> str:
    """One sha256 for a model's weight files: the file's own sha256 when there is just one."""
    if not file_hashes:
        raise ValueError("no weight files")
    if len(file_hashes) == 1:
        # Lets anyone check it with `sha256sum model.safetensors`.
        return next(iter(file_hashes.values()))
    listing = "".join(f"{name}\t{digest}\n" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


_hash_cache: dict[tuple[Any, ...], str] = {}
_hash_cache_lock = threading.Lock()


def folder_weights_hash(folder: Path) -> str:
    """sha256 identifying the weight files in ``folder`` (cached per path, size and mtime)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:  # unusual layout: identify the model by all of its files instead
        files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    if not files:
        raise ModelError(f"model folder {folder} is empty: point the model setting at a model folder")
    stats = tuple((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(folder.resolve()), stats)
    with _hash_cache_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    digest = combine_weight_hashes({p.relative_to(folder).as_posix(): sha256_file(p) for p in files})
    with _hash_cache_lock:
        _hash_cache[key] = digest
    return digest
