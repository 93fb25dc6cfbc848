"""The default model served without sentence-transformers: its tokenizer, its ONNX transformer, its pooling.

`SentenceTransformer(folder)` costs 10-15 s before the first vector (importing sentence-transformers pulls in
scikit-learn and SciPy; loading builds the tokenizer from its vocabulary and 470 MB of torch weights that the
ONNX backend then throws away). This runs the same steps directly: the `tokenizers` tokenizer of
``tokenizer.json``, the checked ONNX export in ONNX Runtime, and sentence-transformers' mean pooling and
normalisation as the very same torch operations, on batches cut and ordered as sentence-transformers cuts them.
The tokenizer is built as transformers builds XLM-RoBERTa's (see ``xlm_roberta_tokenizer``).
The vectors are bit-identical to `SentenceTransformer.encode` (``tests/test_runtime.py``), so an index built
either way serves the other and no score moves.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.model.onnx import ONNX_FILE, shared_session, usable_cpus
from rag.model.st import check_texts

# The layout this runner reproduces: what `rag provision` writes for the default model.
MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"]
NORMALIZE = "sentence_transformers.models.Normalize"
MEAN_POOLING = {"pooling_mode_mean_tokens": True, "include_prompt": True}


def _json(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder / name} is unreadable ({err}): run `rag provision --force`") from err


def _check_layout(folder: Path) -> tuple[int, bool]:
    """The maximum sequence length and whether a Normalize module follows the pooling, once the folder is known
    to be a mean-pooled transformer."""
    types = [m.get("type") for m in _json(folder, "modules.json")]
    pooling = _json(folder, "1_Pooling/config.json")
    others = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"}
    if types[:2] != MODULES or types[2:] not in ([], [NORMALIZE]) or any(others.values()):
        raise ModelError(f"{folder} is not a mean-pooled transformer: use RAG_EMBED_BACKEND=torch")
    if any(pooling.get(k) != v for k, v in MEAN_POOLING.items()):
        raise ModelError(f"{folder} pools differently than this runner does: use RAG_EMBED_BACKEND=torch")
    return int(_json(folder, "sentence_bert_config.json").get("max_seq_length") or 512), types[2:] == [NORMALIZE]


def model_prompts(folder: Path) -> dict[str, str]:
    """The folder's named prompts ({"query": "query: ", ...}), as sentence-transformers reads them."""
    config = _json(folder, "config_sentence_transformers.json")
    return {name: str(text) for name, text in (config.get("prompts") or {}).items()}


def xlm_roberta_tokenizer(folder: Path, max_length: int) -> Any:
    """The folder's tokenizer as transformers (5.x) builds XLM-RoBERTa's and sentence-transformers calls it.

    transformers keeps tokenizer.json's vocabulary and character map but sets its own pre-tokenizer (split at
    whitespace, then "▁" before each word) and drops the file's collapsing of repeated spaces, so "query: "
    has no trailing "▁" token. Then: truncated at ``max_length``, padded to the longest text of a batch.
    """
    from tokenizers import Tokenizer, pre_tokenizers

    if _json(folder, "tokenizer_config.json").get("tokenizer_class") != "XLMRobertaTokenizer":
        raise ModelError(f"{folder} has no XLM-RoBERTa tokenizer: use RAG_EMBED_BACKEND=torch")
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        charmap = tokenizer.normalizer[0]  # Sequence(Precompiled, Replace(" {2,}", " "))
    except Exception as err:  # a truncated or foreign file
        raise ModelError(f"cannot load {folder / 'tokenizer.json'} ({err}): run `rag provision --force`") from err
    tokenizer.normalizer = charmap
    metaspace = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), metaspace])
    pad = _json(folder, "special_tokens_map.json").get("pad_token", "<pad>")
    pad = pad["content"] if isinstance(pad, dict) else pad
    pad_id = tokenizer.token_to_id(pad)
    if pad_id is None:
        raise ModelError(f"{folder / 'tokenizer.json'} has no padding token {pad!r}: use RAG_EMBED_BACKEND=torch")
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad)
    return tokenizer


def _open(path: Path, threads: int) -> Any:
    """The ONNX session, or the ModelError saying why not (returned: this runs on a thread)."""
    try:
        return shared_session(path, threads)
    except Exception as err:  # a missing, truncated or foreign file
        return ModelError(f"cannot load {path} ({type(err).__name__}): run `rag provision --force`")


@functools.cache
def _torch() -> Any:
    import torch

    # One intra-op thread per usable CPU, as the torch backend sets it (rag.embed).
    torch.set_num_threads(max(1, usable_cpus()))
    return torch


class OnnxEmbedder:
    """The default model as an Embedder (rag.embed): the folder's tokenizer and ONNX export, its prompts."""

    backend = "onnx"

    def __init__(
        self,
        folder: Path,
        *,
        model_id: str,
        weights_hash: str,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int,
        passage_batch_size: int,
        threads: int | None = None,
    ):
        max_length, self.normalize_module = _check_layout(folder)
        self.folder, self.model_id, self.weights_hash = folder, model_id, weights_hash
        self.batch_size, self.passage_batch_size = batch_size, passage_batch_size
        prompts = model_prompts(folder)
        # Explicit prompts win, else the folder's own non-empty ones, as sentence-transformers picks them.
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", "")
        passage = prompts.get("passage") or prompts.get("document", "")
        self.passage_prompt = passage_prompt if passage_prompt is not None else passage
        self._lock = threading.Lock()  # one encode at a time: parallel calls only fight over 2 CPUs
        # ONNX Runtime reads the model on a thread without holding the GIL while this one parses the tokenizer
        # and imports torch (for the pooling), which hold it: a second or more each, overlapped.
        opened: list[Any] = []
        path, threads = folder / ONNX_FILE, threads or usable_cpus()
        opening = threading.Thread(target=lambda: opened.append(_open(path, threads)), name="open-onnx", daemon=True)
        opening.start()
        self.tokenizer = xlm_roberta_tokenizer(folder, max_length)
        self.torch = _torch()
        opening.join()
        result = opened[0] if opened else ModelError(f"cannot load {path}")
        if isinstance(result, ModelError):
            raise result
        self.session = result
        self.dim = int(_json(folder, "config.json")["hidden_size"])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, self.batch_size)

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        """Passage vectors; ``show_progress`` a label (or True) shows a bar of the texts embedded."""
        if not show_progress or not texts:
            return self._encode(texts, self.passage_prompt, self.passage_batch_size)
        label = show_progress if isinstance(show_progress, str) else "embedding passages"
        with progress_bar(label, len(texts)) as bar:
            return self._encode(texts, self.passage_prompt, self.passage_batch_size, bar.update)

    def _encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit vectors of ``prompt + text``, batched as `SentenceTransformer.encode` batches: longest first
        (its very argsort), so each batch is padded alike and every float comes out the same."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self.torch
        order = np.argsort([-len(text) for text in texts])
        rows: list[Any] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = [prompt + texts[i] for i in order[start : start + batch_size]]
                encodings = self.tokenizer.encode_batch(batch)
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
                tokens = torch.from_numpy(hidden)
                weights = torch.from_numpy(mask).unsqueeze(-1).to(tokens.dtype)
                # sentence-transformers' Pooling (mean), its Normalize module, then encode's normalize_embeddings.
                summed = (tokens * weights).sum(dim=1, dtype=torch.float32)
                vectors = summed / torch.clamp(weights.sum(dim=1, dtype=torch.float32), min=1e-9)
                if self.normalize_module:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=-1)
                rows.extend(torch.nn.functional.normalize(vectors, p=2, dim=1))
                if progress is not None:
                    progress(len(batch))
        stacked = torch.stack([rows[i] for i in np.argsort(order)])
        return np.ascontiguousarray(stacked.numpy(), dtype=np.float32)


def progress_bar(label: str, total: int) -> Any:
    """A bar on stderr counting texts: "label: 40%|████      | 326/815 [00:16<00:24, 20.1 texts/s]"."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=" texts", file=sys.stderr, dynamic_ncols=True)
