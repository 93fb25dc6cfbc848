"""Embedders used by indexing and retrieval: the one a setting names (the default model's own runner,
sentence-transformers, or a hashing fake for tests), behind one protocol."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import unicodedata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import DEFAULT_MODEL, Settings
from rag.errors import ModelError
from rag.model import onnx
from rag.model.onnx import ONNX_FILE, usable_cpus
from rag.model.provenance import PROVISION_HINT, WEIGHT_SUFFIXES, combine_weight_hashes, verify_model_folder
from rag.model.runtime import OnnxEmbedder
from rag.model.st import (
    BATCH_SIZE,
    PASSAGE_BATCH_SIZE,
    SentenceTransformerEmbedder,
    check_texts,
    resolve_model_folder,
)

# Also importable from here, where callers have always found them.
__all__ = [
    "NOT_PROVISIONED",
    "Embedder",
    "HashEmbedder",
    "Labelled",
    "SentenceTransformerEmbedder",
    "combine_weight_hashes",
    "embedder_from",
    "load_embedder",
    "prefetch",
]

log = logging.getLogger(__name__)

HASH_MODEL_NAME = "hash"
NOT_PROVISIONED = f"embedding model not provisioned: {PROVISION_HINT}"


class Embedder(Protocol):
    """Turns texts into float32, L2-normalised vectors of shape (n, dim)."""

    # Read-only properties, so that plain attributes and lazily computed properties both conform.
    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def weights_hash(self) -> str: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        """``show_progress``: a label (what is being embedded) or True shows a progress bar."""
        ...


# --------------------------------------------------------------------- test fake


@functools.lru_cache(maxsize=65536)
def _ngram_slot(gram: str, dim: int) -> tuple[int, float]:
    digest = hashlib.sha256(gram.encode("utf-8")).digest()
    # Signed hashing: unrelated n-grams cancel on average instead of all adding up.
    return int.from_bytes(digest[:4], "little") % dim, (1.0 if digest[4] & 1 else -1.0)


class HashEmbedder:
    """Deterministic fake: signed hashing of character 1-3-grams into ``dim`` buckets.

    Texts sharing characters get similar vectors (in any script), so retrieval tests behave
    plausibly in milliseconds, without torch or model files.
    """

    model_id = "hash-ngram"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.weights_hash = hashlib.sha256(f"hash-ngram/v1/dim={dim}".encode()).hexdigest()

    def _vector(self, text: str) -> np.ndarray:
        s = unicodedata.normalize("NFKC", text).lower()
        vec = np.zeros(self.dim, dtype=np.float64)
        for n in (1, 2, 3):
            for i in range(len(s) - n + 1):
                slot, sign = _ngram_slot(s[i : i + n], self.dim)
                vec[slot] += sign
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:  # empty text (or perfect cancellation): a fixed unit vector, never NaN
            vec[0], norm = 1.0, 1.0
        return (vec / norm).astype(np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._vector(text)
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        return self._encode(texts)


class Labelled:
    """``embedder`` whose progress bar, when one is shown, says ``label`` (what is being embedded)."""

    def __init__(self, embedder: Embedder, label: str):
        self.embedder, self.label = embedder, label

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def weights_hash(self) -> str:
        return self.embedder.weights_hash

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode_queries(texts)

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        return self.embedder.encode_passages(texts, self.label if show_progress else False)


# ------------------------------------------------------------------------ factory


def _torch_weights(folder: Path) -> list[str]:
    return [p.name for p in folder.glob("*") if p.suffix in WEIGHT_SUFFIXES]


_verified_folders: dict[tuple[Any, ...], dict[str, Any]] = {}
_verified_lock = threading.Lock()


def _verified(folder: Path, unread: list[str]) -> dict[str, Any]:
    """``verify_model_folder``, once per process for the folder's files as they are on disk (sizes, mtimes)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    key = (str(folder), tuple(unread), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    with _verified_lock:  # held while hashing, so a second caller waits for the first one's result
        if key not in _verified_folders:
            _verified_folders[key] = verify_model_folder(folder, unread=unread)
        return _verified_folders[key]


def prefetch(settings: Settings) -> threading.Thread | None:
    """Start what loading the default model does without holding the GIL (hashing its files, opening its ONNX
    session) on a thread, to overlap other start-up work such as importing Gradio; ``embedder_from`` then finds
    both done. Errors are left for ``embedder_from`` to report."""
    if settings.embed_model != DEFAULT_MODEL or settings.embed_backend == "torch" or not onnx.available():
        return None
    folder = settings.model_cache / DEFAULT_MODEL

    def work() -> None:
        try:
            _verified(folder, _torch_weights(folder))
            onnx.shared_session(folder / ONNX_FILE, usable_cpus())
        except Exception as err:  # not provisioned, damaged, ...: the load says so properly
            log.debug("prefetching the model failed: %s", err)

    thread = threading.Thread(target=work, name="prefetch-model", daemon=True)
    thread.start()
    return thread


def embedder_from(settings: Settings) -> Embedder:
    """The embedder the settings name (RAG_EMBED_MODEL, RAG_MODEL_CACHE, the prompts and RAG_EMBED_BACKEND)."""
    return load_embedder(
        settings.embed_model,
        settings.model_cache,
        settings.query_prompt,
        settings.passage_prompt,
        settings.embed_backend,
    )


def load_embedder(
    name: str,
    cache_dir: Path,
    query_prompt: str | None = None,
    passage_prompt: str | None = None,
    backend: str = "auto",
) -> Embedder:
    """The embedder for a model setting: the provisioned default, "hash", or a local/cached ST model.

    ``backend`` "auto" runs the default model's transformer in ONNX Runtime when provisioning
    exported and checked it, other models in torch; "onnx" insists on ``onnx/model.onnx``.
    """
    if backend not in ("auto", "onnx", "torch"):
        raise ModelError(f"unknown embedding backend {backend!r}: set RAG_EMBED_BACKEND to auto, onnx or torch")
    if name == HASH_MODEL_NAME:
        return HashEmbedder()
    if name == DEFAULT_MODEL:
        folder = cache_dir / DEFAULT_MODEL
        # The ONNX runner never reads the torch weights: their size is checked, hashing them is skipped.
        unread = _torch_weights(folder) if backend != "torch" and onnx.available() else []
        try:
            provenance = _verified(folder, unread)
        except ModelError as err:
            log.warning("default embedding model at %s is unusable: %s", folder, err)
            raise ModelError(NOT_PROVISIONED) from err
        exported = ONNX_FILE in provenance["files"] and onnx.available()
        if backend == "onnx" and not exported:
            raise ModelError(f"{folder} has no checked ONNX export: run `rag provision` (or RAG_EMBED_BACKEND=torch)")
        if unread and not exported:  # a folder provisioned before exports: torch reads the weights after all
            provenance = verify_model_folder(folder)
        # verify_model_folder hashed the files: the weights' hash is the provenance's (checked at provisioning).
        weights = {
            rel: entry["sha256"] for rel, entry in provenance["files"].items() if Path(rel).suffix in WEIGHT_SUFFIXES
        }
        if backend != "torch" and exported:
            return OnnxEmbedder(
                folder,
                model_id=DEFAULT_MODEL,
                weights_hash=combine_weight_hashes(weights),
                query_prompt=query_prompt,
                passage_prompt=passage_prompt,
                batch_size=BATCH_SIZE,
                passage_batch_size=PASSAGE_BATCH_SIZE,
            )
        return SentenceTransformerEmbedder(
            folder,
            model_id=DEFAULT_MODEL,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            weights_hash=combine_weight_hashes(weights),
            backend="torch",
        )
    return SentenceTransformerEmbedder(
        resolve_model_folder(name),
        model_id=name,
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        backend="onnx" if backend == "onnx" else "torch",
    )
