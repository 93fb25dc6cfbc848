"""Embedders used by indexing and retrieval: sentence-transformers on CPU, and a hashing fake for tests."""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.config import DEFAULT_MODEL, Settings
from rag.errors import ModelError
from rag.model import onnx
from rag.model.onnx import ONNX_FILE, usable_cpus
from rag.model.provenance import PROVISION_HINT, sha256_file, verify_model_folder
from rag.model.runtime import OnnxEmbedder

if TYPE_CHECKING:  # the real import costs seconds: done lazily in SentenceTransformerEmbedder
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BATCH_SIZE = 32  # questions and their words: short, so one forward pass for all of them
# Passages (up to 300 tokens) in small batches: the runtime keeps its largest activations allocated,
# and batches of 32 peaked at 2.1 GB while building the index, batches of 4 at 1.46 GB, no slower.
PASSAGE_BATCH_SIZE = 4
HASH_MODEL_NAME = "hash"
NOT_PROVISIONED = f"embedding model not provisioned: {PROVISION_HINT}"
# Files whose bytes are the model's parameters (what weights_hash identifies).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


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


def _check_texts(texts: list[str]) -> list[str]:
    # A bare string would be iterated or encoded as one row: both silently wrong shapes.
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of str")
    return list(texts)


# ------------------------------------------------------------------- weights hash


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
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
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


# ------------------------------------------------------------- sentence-transformers


@functools.cache
def _configure_torch() -> None:
    import torch

    # One intra-op thread per usable CPU (2 on the target machine): torch's default counts
    # physical cores, which can be fewer; more threads than CPUs only adds contention.
    torch.set_num_threads(max(1, usable_cpus()))


def _resolve_model_folder(name: str) -> Path:
    """A local folder for ``name``: an existing path, or a snapshot already in the HF cache."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise ModelError(f"embedding model path {name} is not a folder: set the model to a model folder")
    from huggingface_hub import snapshot_download

    # Bare names ("all-MiniLM-L6-v2") are resolved by sentence-transformers under its org.
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        try:
            return Path(snapshot_download(repo_id=repo_id, local_files_only=True))
        except Exception as err:  # not cached, or not a valid repo id: try the next spelling
            log.debug("no local snapshot of %s: %s", repo_id, err)
    raise ModelError(
        f"embedding model {name!r} is not available offline (no such folder, not in the Hugging Face cache): "
        f"use a local model folder or the default {DEFAULT_MODEL!r} (`rag provision`)"
    )


def st_embedding_dim(model: Any) -> int | None:
    """Output size of a SentenceTransformer (the method was renamed in sentence-transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    return int(dim) if dim is not None else None


@dataclass(frozen=True)
class _Prompt:
    """How a text kind is prefixed: a literal prompt, a named prompt of the model, or nothing."""

    prompt: str | None = None
    prompt_name: str | None = None

    def __str__(self) -> str:
        if self.prompt is not None:
            return f"prompt {self.prompt!r}"
        return f"model prompt {self.prompt_name!r}" if self.prompt_name else "no prompt"


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU, applying the model's query/passage prompts."""

    def __init__(
        self,
        model: str | Path,
        *,
        model_id: str | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int = BATCH_SIZE,
        passage_batch_size: int = PASSAGE_BATCH_SIZE,
        weights_hash: str | None = None,
        backend: str = "torch",
    ) -> None:
        folder = model if isinstance(model, Path) and model.is_dir() else _resolve_model_folder(str(model))
        self.folder = folder
        self.model_id = model_id or str(model)
        self.batch_size = batch_size
        self.passage_batch_size = passage_batch_size
        self._weights_hash = weights_hash
        self._lock = threading.Lock()  # one encode at a time: parallel calls only fight over 2 CPUs
        _configure_torch()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # The weight-loading progress bar is noise on every CLI call.
        hf_logging.disable_progress_bar()
        try:
            self._model: SentenceTransformer = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as err:  # corrupt config, missing weights, unsupported architecture, ...
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ModelError(
                f"cannot load embedding model {self.model_id!r} from {folder} ({type(err).__name__}: {first_line}): "
                "check the folder or re-provision it"
            ) from err
        if backend == "onnx":
            onnx.attach(self._model, folder / ONNX_FILE, threads=usable_cpus())
        elif backend != "torch":
            raise ModelError(f"unknown embedding backend {backend!r}: use auto, onnx or torch")
        self.backend = backend
        dim = st_embedding_dim(self._model)
        if dim is None:  # some custom module stacks cannot tell: ask the model itself
            dim = int(self._model.encode(["dim probe"], show_progress_bar=False).shape[1])
        self.dim = dim
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", None) or {})
        # Explicit prompts win; otherwise the model's own non-empty "query"/"passage" prompts.
        self._query_prompt = self._pick_prompt(query_prompt, prompts, ("query",))
        self._passage_prompt = self._pick_prompt(passage_prompt, prompts, ("passage", "document"))
        log.info(
            "embedding model %s (dim %d, %s) from %s; query %s, passage %s",
            self.model_id, self.dim, backend, folder, self._query_prompt, self._passage_prompt,
        )  # fmt: skip

    @staticmethod
    def _pick_prompt(explicit: str | None, prompts: dict[str, str], names: tuple[str, ...]) -> _Prompt:
        if explicit is not None:
            return _Prompt(prompt=explicit)
        for name in names:
            if prompts.get(name):  # sentence-transformers adds empty defaults we must not prefer
                return _Prompt(prompt_name=name)
        return _Prompt()

    @property
    def weights_hash(self) -> str:
        # Lazy: hashing ~0.5 GB is only needed when an index identity is built or checked.
        if self._weights_hash is None:
            self._weights_hash = folder_weights_hash(self.folder)
        return self._weights_hash

    def _encode(self, texts: list[str], prompt: _Prompt, show_progress: bool, batch_size: int) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,  # guaranteed unit length even without a Normalize module
                prompt=prompt.prompt,
                prompt_name=prompt.prompt_name,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, False, self.batch_size)

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        if isinstance(show_progress, str) and texts:
            # sentence-transformers' own bar only counts "Batches": say what they hold first.
            print(f"{show_progress} ({len(texts)} texts, {self.passage_batch_size} a batch)", file=sys.stderr)
        return self._encode(texts, self._passage_prompt, bool(show_progress), self.passage_batch_size)


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
        texts = _check_texts(texts)
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
    return [p.name for p in folder.glob("*") if p.suffix in _WEIGHT_SUFFIXES]


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
            rel: entry["sha256"] for rel, entry in provenance["files"].items() if Path(rel).suffix in _WEIGHT_SUFFIXES
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
        _resolve_model_folder(name),
        model_id=name,
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        backend="onnx" if backend == "onnx" else "torch",
    )
