"""Generated answers against a real LLM (opt-in): set RAG_TEST_LLM_URL (an OpenAI-compatible base URL ending in /v1)
and RAG_TEST_LLM_MODEL to run these; without them they skip. They assert what must hold whatever the model writes:
every shown sentence passes verification, outcomes take known values, no accepted answer states a wrong amount,
replies arrive in time, and streaming and plain answers agree."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.llm_numbers import NUMBER_QUESTIONS, holds_wrong_value, known_fallback
from rag.llm.generate import passages_prompt
from rag.llm.verify import check_sentence, split_sentences

URL, MODEL = os.environ.get("RAG_TEST_LLM_URL"), os.environ.get("RAG_TEST_LLM_MODEL")
pytestmark = [
    pytest.mark.llm_real,
    pytest.mark.skipif(
        not (URL and MODEL), reason="set RAG_TEST_LLM_URL and RAG_TEST_LLM_MODEL to run against a real LLM"
    ),
]
TIMEOUT_S = float(os.environ.get("RAG_TEST_LLM_TIMEOUT", "120"))


@pytest.fixture(scope="module")
def llm_pipeline(real_pipeline: Any) -> Any:
    from rag.pipeline import Pipeline

    settings = real_pipeline.settings.model_copy(
        update={"llm_base_url": URL, "llm_model": MODEL, "llm_timeout": TIMEOUT_S, "llm_retries": 0}
    )
    return Pipeline(settings, real_pipeline.report, real_pipeline.embedder, real_pipeline.index)


@pytest.mark.parametrize("item", NUMBER_QUESTIONS, ids=lambda item: f"{item.language}:{item.value}")
def test_a_generated_answer_holds_only_verified_right_values(llm_pipeline: Any, item: Any) -> None:
    answer = llm_pipeline.ask(item.question)
    assert answer.generator in ("llm", "extractive") and known_fallback(answer.fallback), answer.fallback
    assert answer.took_ms < (TIMEOUT_S + 10) * 1000
    if answer.generator != "llm":
        return  # the extractive answer stood in: its quotes are the report's own
    passages = passages_prompt(list(answer.hits))
    for sentence in split_sentences(answer.text):
        if sentence.strip():
            assert check_sentence(sentence, passages, answer.language).reason is None, sentence
    assert not holds_wrong_value(answer, item.value), answer.text


@pytest.mark.parametrize("item", NUMBER_QUESTIONS[:3], ids=lambda item: f"{item.language}:{item.value}")
def test_streaming_and_plain_agree(llm_pipeline: Any, item: Any) -> None:
    plain = llm_pipeline.ask(item.question)
    pieces = list(llm_pipeline.ask_stream(item.question))
    streamed = pieces[-1]
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)) == streamed.text
    assert (streamed.generator, streamed.abstained) == (plain.generator, plain.abstained)
