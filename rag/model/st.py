"""sentence-transformers models on CPU: the torch backend, models other than the default, and the reference
that provisioning and the tests compare the default model's own runner (rag/model/runtime.py) with."""

from __future__ import annotations

import functools
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.config import DEFAULT_MODEL
from rag.errors import ModelError
from rag.model import onnx
from rag.model.onnx import ONNX_FILE, usable_cpus
from rag.model.provenance import folder_weights_hash

if TYPE_CHECKING:  # the real import costs seconds: done lazily in SentenceTransformerEmbedder
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BATCH_SIZE = 32  # questions and their words: short, so one forward pass for all of them
# Passages (up to 300 tokens) in small batches: the runtime keeps its largest activations allocated,
# and batches of 32 peaked at 2.1 GB while building the index, batches of 4 at 1.46 GB, no slower.
PASSAGE_BATCH_SIZE = 4


def check_texts(texts: list[str]) -> list[str]:
    # A bare string would be iterated or encoded as one row: both silently wrong shapes.
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of str")
    return list(texts)


@functools.cache
def _configure_torch() -> None:
    import torch

    # One intra-op thread per usable CPU (2 on the target machine): torch's default counts
    # physical cores, which can be fewer; more threads than CPUs only adds contention.
    torch.set_num_threads(max(1, usable_cpus()))


def resolve_model_folder(name: str) -> Path:
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
        folder = model if isinstance(model, Path) and model.is_dir() else resolve_model_folder(str(model))
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
        texts = check_texts(texts)
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
