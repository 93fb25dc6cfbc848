"""Generated answers through the scripted OpenAI-compatible server: what the user gets in each case."""

import re
import time
from typing import Any

import pytest
from openai_server import Reply, ScriptedLLM

from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.types import Answer

Q = "ロボット政策の2027年の目標は？"
PASSAGE_RE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.DOTALL)


def passage_with(body: dict[str, Any], needle: str) -> int:
    """The number the prompt gave the passage containing ``needle``."""
    for n, text in PASSAGE_RE.findall(body["messages"][-1]["content"]):
        if needle in text:
            return int(n)
    raise AssertionError(f"no passage with {needle!r} in the prompt")


def good(body: dict[str, Any]) -> Reply:
    goal, plan = passage_with(body, "2027年"), passage_with(body, "5カ年")
    return Reply(
        f"人形ロボット指導意見は、2027年までに世界の先進レベルに達することを目指している[{goal}]。"
        f"政策は5カ年計画に連動している[{plan}]。"
    )


def stream(pipeline: Pipeline, question: str, **kwargs: Any) -> tuple[str, Answer]:
    events = list(pipeline.ask_stream(question, **kwargs))
    final = events[-1]
    texts = [e for e in events[:-1] if isinstance(e, str)]
    assert isinstance(final, Answer) and len(texts) == len(events) - 1
    return "".join(texts), final


def test_prompt_numbers_the_passages_with_sections_and_asks_for_the_language(
    llm_pipeline, llm_server: ScriptedLLM
) -> None:
    llm_server.reply(good)
    answer = llm_pipeline().ask(Q)
    system, user = llm_server.requests[0]["messages"]
    assert "Japanese" in system["content"] and "not instructions" in system["content"] and "[n]" in system["content"]
    numbered = PASSAGE_RE.findall(user["content"])
    assert [int(n) for n, _ in numbered] == list(range(1, len(answer.hits) + 1))
    assert [text for _, text in numbered] == [h.chunk.text for h in answer.hits]
    assert f'section="{answer.hits[0].chunk.section_id}"' in user["content"] and user["content"].endswith(
        answer.question
    )


def test_good_answer_keeps_its_citations(llm_pipeline, llm_server: ScriptedLLM, fake_pipeline) -> None:
    llm_server.reply(good)
    answer = llm_pipeline().ask(Q)
    expected = good(llm_server.requests[0]).text
    assert answer.generator == "llm" and answer.fallback is None and answer.removed == ()
    assert answer.text == expected and not answer.abstained
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", expected)]
    assert [c.n for c in answer.citations] == sorted(cited)
    for c in answer.citations:
        assert c.chunk_id == answer.hits[c.n - 1].chunk.id and c.quote == answer.hits[c.n - 1].chunk.text
    assert fake_pipeline.ask(Q).generator == "extractive"  # unset base URL: the extractive answer as before


def test_streamed_answer_is_the_verified_text_and_ends_with_citations(llm_pipeline, llm_server: ScriptedLLM) -> None:
    llm_server.reply(good)
    text, final = stream(llm_pipeline(), Q)
    assert llm_server.requests[0]["stream"] is True
    assert text == final.text == good(llm_server.requests[0]).text
    assert final.generator == "llm" and len(final.citations) == 2


def test_sentence_citing_a_passage_not_given_is_removed(llm_pipeline, llm_server: ScriptedLLM) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        return Reply(good(body).text + "中国は2026年にも政策を出した[9]。")

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), Q)
    assert answer.generator == "llm" and answer.fallback is None
    assert [r.text for r in answer.removed] == ["中国は2026年にも政策を出した[9]。"]
    assert answer.removed[0].reason.startswith("cites [9]")
    assert "[9]" not in text and "[9]" not in answer.text and 9 not in [c.n for c in answer.citations]


def test_invented_number_is_removed_and_never_streamed(llm_pipeline, llm_server: ScriptedLLM) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        n = passage_with(body, "2027年")
        return Reply(good(body).text + f"目標は2030年までに世界一になることだ[{n}]。")

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), Q)
    assert answer.generator == "llm" and text == answer.text == good(llm_server.requests[0]).text
    assert answer.removed[0].reason == "number 2030年 is not in the passages it cites"


def test_an_answer_whose_lead_fails_falls_back_whole(llm_pipeline, llm_server: ScriptedLLM, fake_pipeline) -> None:
    # What follows a removed first sentence ("It is tied to the five-year plan") would read as the answer.
    def reply(body: dict[str, Any]) -> Reply:
        n = passage_with(body, "2027年")
        return Reply(f"目標は2030年までに世界一になることだ[{n}]。" + good(body).text)

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), Q)
    assert answer.generator == "extractive" and answer.fallback == "unverified"
    assert text == answer.text == fake_pipeline.ask(Q).text and "2030" not in text
    assert answer.removed[0].reason == "number 2030年 is not in the passages it cites"


@pytest.mark.parametrize("marker", ["", "[{other}]"])
def test_a_right_number_missing_or_citing_the_wrong_passage_is_recited(
    llm_pipeline, llm_server: ScriptedLLM, marker: str
) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        other = passage_with(body, "5カ年")
        return Reply("人形ロボット指導意見は2027年までに世界の先進レベルを目指す" + marker.format(other=other) + "。")

    llm_server.reply(reply)
    answer = llm_pipeline().ask(Q)
    goal = passage_with(llm_server.requests[0], "2027年")
    assert goal != passage_with(llm_server.requests[0], "5カ年")
    assert answer.generator == "llm" and answer.removed == ()
    assert answer.text == f"人形ロボット指導意見は2027年までに世界の先進レベルを目指す[{goal}]。"
    assert [c.n for c in answer.citations] == [goal]


def test_nothing_verified_falls_back_to_the_extractive_answer(
    llm_pipeline, llm_server: ScriptedLLM, fake_pipeline
) -> None:
    llm_server.reply(Reply("目標は2030年だ[1]。予算は5000億元である[2]。"))
    answer = llm_pipeline().ask(Q)
    assert answer.generator == "extractive" and answer.fallback == "unverified" and len(answer.removed) == 2
    assert answer.text == fake_pipeline.ask(Q).text and answer.citations


def test_answer_in_the_wrong_language_falls_back(llm_pipeline, llm_server: ScriptedLLM, fake_pipeline) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        n = passage_with(body, "2027年")
        return Reply(f"The humanoid robot guidance aims for the world's advanced level by 2027 [{n}].")

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), Q)
    assert answer.fallback == "wrong_language" and answer.generator == "extractive"
    assert text == answer.text == fake_pipeline.ask(Q).text
    assert answer.removed[0].reason == "not written in ja"


def test_slow_llm_falls_back_within_the_timeout(llm_pipeline, llm_server: ScriptedLLM, fake_pipeline) -> None:
    llm_server.default = Reply("遅すぎる回答。", delay=5)
    pipeline = llm_pipeline(llm_timeout=0.6)
    started = time.monotonic()
    text, answer = stream(pipeline, Q)
    assert time.monotonic() - started < 3.0
    assert answer.fallback == "llm_timeout" and answer.generator == "extractive"
    assert text == answer.text == fake_pipeline.ask(Q).text and answer.citations


def test_failing_llm_falls_back_after_retries(
    llm_pipeline, llm_server: ScriptedLLM, caplog: pytest.LogCaptureFixture
) -> None:
    llm_server.default = Reply(status=500, text="model crashed")
    answer = llm_pipeline(llm_retries=2).ask(Q)
    assert answer.fallback == "llm_http_500" and answer.generator == "extractive" and not answer.abstained
    assert len(llm_server.requests) == 3
    assert any("llm_http_500" in r.getMessage() and "model crashed" in r.getMessage() for r in caplog.records)


def test_failure_mid_stream_keeps_what_was_verified(llm_pipeline, llm_server: ScriptedLLM) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        first = good(body).text.split("。")[0] + "。"
        return Reply(first + "その後の計画は長い文章で説明されている。", error_after=len(first) // 7 + 2)

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), Q)
    assert answer.interrupted == "llm_error" and answer.fallback is None and answer.generator == "llm"
    assert text == answer.text and answer.text.startswith("人形ロボット指導意見は") and answer.text.endswith("。")
    assert len(answer.citations) == 1


def test_an_uncited_reply_falls_back_to_the_extractive_answer_never_to_a_refusal(
    llm_pipeline, llm_server: ScriptedLLM, fake_pipeline
) -> None:
    # Right or wrong, an uncited reply cannot be checked: the reader gets the extractive answer, which found
    # evidence, whether the LLM says the report does not cover it or answers without citing.
    for reply in (
        "申し訳ありませんが、報告書にはこの質問に関する記述がありません。",
        "目標は世界の先進レベルに達することだ。",
    ):
        llm_server.reply(Reply(reply))
        answer = llm_pipeline().ask(Q)
        assert not answer.abstained and answer.generator == "extractive" and answer.fallback == "uncited"
        assert answer.text == fake_pipeline.ask(Q).text and answer.citations


@pytest.mark.parametrize("reply", ["[1] [2] [3] [4] [5]", "第2行 [1]", "[1]。"])
def test_a_reply_of_markers_or_a_few_letters_is_rejected(
    llm_pipeline, llm_server: ScriptedLLM, fake_pipeline, reply: str
) -> None:
    llm_server.reply(Reply(reply))
    text, answer = stream(llm_pipeline(), Q)
    assert answer.generator == "extractive" and answer.fallback in ("too_short", "unverified")
    assert text == answer.text == fake_pipeline.ask(Q).text  # nothing of the reply was streamed


@pytest.mark.parametrize(
    "wrong",
    ["規模は約1.2百万元に達した[{n}]。", "規模は約1.2万元に達した[{n}]。"],
)
def test_a_wrong_scale_never_reaches_the_reader(llm_pipeline, llm_server: ScriptedLLM, wrong: str) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        return Reply(wrong.format(n=passage_with(body, "1.2兆元")))

    llm_server.reply(reply)
    text, answer = stream(llm_pipeline(), "中国のAIコア産業の規模は？")
    assert answer.generator == "extractive" and answer.fallback == "unverified"
    assert "百万元" not in text and "1.2万元" not in text and answer.removed[0].reason.startswith("number 1.2")


def test_question_the_evidence_check_refuses_never_reaches_the_llm(llm_pipeline, llm_server: ScriptedLLM) -> None:
    answer = llm_pipeline().ask("ロボット政策の2031年の目標は？")
    assert answer.abstained and answer.fallback == "not_in_report" and llm_server.requests == []


def test_follow_up_is_rewritten_by_the_llm(llm_pipeline, llm_server: ScriptedLLM) -> None:
    history = [{"role": "user", "content": "AI関連企業の登録件数は？"}, {"role": "assistant", "content": "490万社 [1]"}]
    llm_server.reply(Reply("2025年のAI関連企業の登録件数は何社ですか？"), Reply("回答なし。"))
    answer = llm_pipeline().ask("では2025年は？", history=history)
    rewrite, generate = llm_server.requests
    assert "AI関連企業の登録件数は？" in rewrite["messages"][-1]["content"] and rewrite["max_tokens"] == 100
    assert answer.query == "2025年のAI関連企業の登録件数は何社ですか？" and answer.question == "では2025年は?"  # NFKC
    assert generate["messages"][-1]["content"].endswith(answer.query)
    assert answer.hits[0].chunk.section_id == "2-1"


def test_follow_up_uses_the_rule_when_the_rewrite_fails(llm_pipeline, llm_server: ScriptedLLM, fake_pipeline) -> None:
    history = [{"role": "user", "content": "AI関連企業の登録件数は？"}]
    llm_server.reply(Reply(status=400, text="bad"), Reply("回答なし。"))
    answer = llm_pipeline().ask("では2025年は？", history=history)
    assert answer.query == "AI関連企業の登録件数は？ 2025年"  # nothing to substitute: the follow-up's content joins
    assert answer.query == fake_pipeline.ask("では2025年は？", history=history).query  # the rule without an LLM


def test_a_base_url_without_a_model_is_refused(llm_pipeline) -> None:
    with pytest.raises(ConfigError, match="RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not"):
        llm_pipeline(llm_model=None)


@pytest.mark.integration
def test_real_report_english_answer_verified_across_units(real_pipeline, llm_server: ScriptedLLM) -> None:
    from rag.pipeline import Pipeline

    def reply(body: dict[str, Any]) -> Reply:
        n = passage_with(body, "490万社")
        return Reply(
            f"By 2025, 4.9 million AI-related companies had been registered in China [{n}]. "
            f"That is 5.2 million companies [{n}]."
        )

    llm_server.reply(reply)
    settings = real_pipeline.settings.model_copy(update={"llm_base_url": llm_server.url, "llm_model": "scripted"})
    pipeline = Pipeline(settings, real_pipeline.report, real_pipeline.embedder, real_pipeline.index)
    text, answer = stream(pipeline, "How many AI-related companies were registered in China by 2025?")
    assert answer.generator == "llm" and answer.language == "en"
    assert text == answer.text == reply(llm_server.requests[0]).text.split(". ")[0] + ". "
    assert [r.reason for r in answer.removed] == ["number 5.2 million = 5200000 is not in the passages it cites"]
    assert [c.n for c in answer.citations] == [passage_with(llm_server.requests[0], "490万社")]
    # The LLM read the English edition and the Japanese original; the citation carries both.
    assert "4.9 million" in answer.citations[0].quote and "490万社" in answer.citations[0].original


@pytest.mark.integration
def test_real_report_follow_up_about_investment(real_pipeline, llm_server: ScriptedLLM) -> None:
    from rag.pipeline import Pipeline

    history = [
        {"role": "user", "content": "How much did the US invest privately in AI compared with China?"},
        {"role": "assistant", "content": "…"},
    ]
    by_rule = real_pipeline.ask("and in 2024?", history=history)
    assert by_rule.query == f"{history[0]['content']} 2024" and not by_rule.abstained
    assert "$109.1 billion" in by_rule.text

    llm_server.reply(Reply("How much did the US invest privately in AI in 2024 compared with China?"))
    llm_server.default = Reply("No answer.")
    settings = real_pipeline.settings.model_copy(update={"llm_base_url": llm_server.url, "llm_model": "scripted"})
    pipeline = Pipeline(settings, real_pipeline.report, real_pipeline.embedder, real_pipeline.index)
    by_llm = pipeline.ask("and in 2024?", history=history)
    assert by_llm.query == "How much did the US invest privately in AI in 2024 compared with China?"
    assert "1091億ドル" in passages_text(by_llm)


def passages_text(answer: Answer) -> str:
    return "\n".join(h.chunk.text for h in answer.hits)
