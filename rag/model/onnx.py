"""Run a sentence-transformers model's transformer in ONNX Runtime: export, check, attach.

Only the transformer's forward moves to ONNX Runtime; tokenisation, prompts, pooling and
normalisation stay sentence-transformers' own, so `SentenceTransformer.encode` gives the same
vectors (cosine ≥ 0.9999, checked at export), several times faster on CPU for short queries.
sentence-transformers' own `backend="onnx"` needs optimum-onnx, which pins transformers < 4.58;
this module does the same swap with plain `torch.onnx.export` and `onnxruntime`.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ONNX_FILE = "onnx/model.onnx"  # where sentence-transformers' own ONNX backend keeps it too
OPSET = 17
# Bumped when the exported file changes, so provisioned folders re-export once.
# 2: the word-embedding table (250k x 384, 4/5 of the weights) is stored as float16.
EXPORT_FORMAT = 2
MIN_COSINE = 0.9999
_INPUTS = ("input_ids", "attention_mask")


def usable_cpus() -> int:
    """CPUs this process may run on (taskset and cpusets respected, unlike ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _transformer(model: SentenceTransformer) -> Any:
    """The Hugging Face model inside the first (Transformer) module."""
    first = model[0]
    hf = getattr(first, "model", None) or getattr(first, "auto_model", None)
    if hf is None:
        raise ModelError(
            "this sentence-transformers model has no transformer module to export: use RAG_EMBED_BACKEND=torch"
        )
    return hf


def export(model: SentenceTransformer, dest: Path) -> None:
    """Write the transformer of ``model`` (ids, mask → last hidden state) as ONNX to ``dest``."""
    import torch

    hf = _transformer(model).eval()

    class _LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf  # registered as a submodule, so its weights become the graph's initialisers

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    first: Any = model[0]  # typed by torch as Tensor | Module
    sample = first.tokenizer(["passage: 例文 sample"], return_tensors="pt")
    dynamic = {0: "batch", 1: "tokens"}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of dynamo, which needs onnxscript;
        # its tracer warnings about shape-dependent Python branches are expected for BERT.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHidden(),
            (sample["input_ids"], sample["attention_mask"]),
            str(dest),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            opset_version=OPSET,
            dynamo=False,
        )
    halve_embedding_tables(dest)


def halve_embedding_tables(path: Path) -> None:
    """Store every table looked up by token id as float16, cast back to float32 after the lookup.

    The word-embedding table is ~380 MB of the ~470 MB model; in float16 a serving process holds
    ~185 MB less and loading peaks ~365 MB lower, while looked-up rows change by float16 rounding
    only (vectors agree with torch well above MIN_COSINE, checked at export).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    tables = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    for position, node in reversed(list(enumerate(nodes))):
        if node.op_type != "Gather" or node.input[1] != "input_ids" or node.input[0] not in tables:
            continue
        table = tables[node.input[0]]
        if table.data_type != TensorProto.FLOAT:
            continue
        halved = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name)
        table.CopyFrom(halved)
        looked_up = node.output[0]
        node.output[0] = f"{looked_up}_float16"
        cast = helper.make_node("Cast", [node.output[0]], [looked_up], to=TensorProto.FLOAT, name=f"{node.name}_cast")
        model.graph.node.insert(position + 1, cast)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between calls: the server's other threads need the same 2 CPUs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


_sessions: dict[tuple[str, int], tuple[tuple[int, int], Any]] = {}
_sessions_lock = threading.Lock()


def shared_session(path: Path, threads: int) -> Any:
    """``session(path, threads)``, opened once per process for the file as it is on disk (size and mtime):
    a server opens it early on a thread (no GIL held) while it builds its app, and the embedder takes it."""
    stat = path.stat()
    with _sessions_lock:  # held while opening, so a second caller waits for the first one's session
        seen = _sessions.get((str(path), threads))
        if seen is None or seen[0] != (stat.st_size, stat.st_mtime_ns):
            seen = ((stat.st_size, stat.st_mtime_ns), session(path, threads))
            _sessions[(str(path), threads)] = seen
        return seen[1]


def _onnx_module(path: Path, config: Any, threads: int) -> Any:
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    class OnnxTransformer(torch.nn.Module):
        """Stands in for the Hugging Face model: same call, same output, computed by ONNX Runtime."""

        def __init__(self) -> None:
            super().__init__()
            self.session = session(path, threads)
            self.config = config

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> BaseModelOutput:
            feeds = {
                "input_ids": input_ids.numpy().astype(np.int64, copy=False),
                "attention_mask": attention_mask.numpy().astype(np.int64, copy=False),
            }
            (hidden,) = self.session.run(None, feeds)
            return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))

    return OnnxTransformer()


def attach(model: SentenceTransformer, path: Path, threads: int | None = None) -> None:
    """Make ``model`` run its transformer from the ONNX file at ``path``; frees the torch weights."""
    if not path.is_file():
        raise ModelError(f"{path} is missing: run `rag provision` (or use RAG_EMBED_BACKEND=torch)")
    if not available():
        raise ModelError("onnxruntime is not installed: pip install onnxruntime (or use RAG_EMBED_BACKEND=torch)")
    first = model[0]
    attr = "model" if getattr(first, "model", None) is not None else "auto_model"
    config = _transformer(model).config
    try:
        replacement = _onnx_module(path, config, threads or usable_cpus())
    except Exception as err:  # a truncated or foreign file
        raise ModelError(f"cannot load {path} ({type(err).__name__}): run `rag provision --force`") from err
    setattr(first, attr, replacement)


def agreement(reference: SentenceTransformer, candidate: SentenceTransformer, sentences: list[str]) -> float:
    """Minimum cosine between two models' query and passage vectors for ``sentences``."""
    cosines = []
    for prompt in ("query", "passage"):
        kwargs: dict[str, Any] = {"prompt_name": prompt, "normalize_embeddings": True, "show_progress_bar": False}
        a = reference.encode(sentences, **kwargs)
        b = candidate.encode(sentences, **kwargs)
        cosines.extend(np.sum(a * b, axis=1).tolist())
    return float(min(cosines))
