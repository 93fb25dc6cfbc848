"""Token counts and limits of the OpenAI-compatible endpoint (rag/serve/usage.py)."""

from __future__ import annotations

import pytest

from rag.chunking import count_tokens
from rag.serve.usage import Budget, cut, prompt_tokens, usage

TEXT = "報告書には次のように記されています。\n- 「2025年に合計490万社に達する」[1] and $109.1 billion."


def test_prompt_tokens_count_every_message_with_openais_framing() -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": TEXT}]
    expected = sum(3 + count_tokens(m["role"]) + count_tokens(m["content"]) for m in messages) + 3
    assert prompt_tokens(messages) == expected
    assert usage(10, TEXT) == {
        "prompt_tokens": 10,
        "completion_tokens": count_tokens(TEXT),
        "total_tokens": 10 + count_tokens(TEXT),
    }


@pytest.mark.parametrize("limit", range(1, 40))
def test_cut_is_a_prefix_within_the_limit(limit: int) -> None:
    text, cut_short = cut(TEXT, limit)
    assert TEXT.startswith(text) and count_tokens(text) <= limit and "\ufffd" not in text
    assert cut_short == (count_tokens(TEXT) > limit)
    assert cut(TEXT, None) == (TEXT, False)


def test_a_budget_streams_the_same_text_as_one_cut() -> None:
    pieces = [TEXT[i : i + 5] for i in range(0, len(TEXT), 5)]
    for limit in (1, 7, 15, 1000):
        budget = Budget(limit)
        streamed = "".join(budget.take(p) for p in pieces)
        assert streamed == budget.sent and TEXT.startswith(streamed) and count_tokens(streamed) <= limit
        assert budget.exhausted == cut(TEXT, limit)[1]
    unlimited = Budget(None)
    assert "".join(unlimited.take(p) for p in pieces) == TEXT and not unlimited.exhausted
