"""The wired pipeline: fast checks on the sample report, then the real model on the real report."""

import pytest

from rag.errors import InputError, QuestionTooLong
from rag.lang import KANA_RE
from rag.pipeline import Pipeline

FAKE_Q = "ロボット政策の2027年の目標は？"


def test_search_returns_ranked_hits_with_sections(fake_pipeline) -> None:
    result = fake_pipeline.search("ロボット政策の指導意見", k=3)
    assert result.language == "ja"
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert result.hits[0].chunk.section_id == "1-1"


def test_top_k_setting_is_the_default_k(fake_pipeline: Pipeline) -> None:
    settings = fake_pipeline.settings.model_copy(update={"top_k": 2})
    pipeline = Pipeline(settings, fake_pipeline.report, fake_pipeline.embedder, fake_pipeline.index)
    assert len(pipeline.search("ロボット政策").hits) == 2 and len(pipeline.ask(FAKE_Q).hits) == 2
    assert len(pipeline.search("ロボット政策", k=4).hits) == 4  # an explicit k wins


def test_answer_quotes_passages_it_cites(fake_pipeline) -> None:
    answer = fake_pipeline.ask(FAKE_Q)
    assert not answer.abstained and answer.citations
    by_id = {c.id: c for c in fake_pipeline.index.chunks}
    for citation in answer.citations:
        assert citation.quote in by_id[citation.chunk_id].text
        assert f"[{citation.n}]" in answer.text
        # A table row reads as "column: value": each of its cells is in the answer.
        assert all(cell in answer.text for cell in citation.quote.split(" | "))


@pytest.mark.parametrize("bad", ["", "   ", "🤖🤖", "x" * 5000])
def test_bad_questions_are_refused(fake_pipeline, bad: str) -> None:
    with pytest.raises((InputError, QuestionTooLong)):
        fake_pipeline.ask(bad)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("中国のAIコア産業の規模は2025年にどのくらいですか？", "2-1"),
        ("How much private AI investment did the US make in 2024 compared with China?", "4のまとめ"),
        ("中国生成式AI专利申请数量在全球排第几？", "4-2"),
    ],
)
def test_real_cross_lingual_retrieval(real_pipeline, question: str, section: str) -> None:
    hits = real_pipeline.search(question, k=5).hits
    assert section in [h.chunk.section_id for h in hits]


@pytest.mark.integration
def test_real_answers_in_the_askers_language(real_pipeline) -> None:
    ja = real_pipeline.ask("AI関連企業の登録件数は2025年に何社に達しましたか？")
    assert ja.language == "ja" and not ja.abstained and ja.span == "490万" and "**490万**社" in ja.text
    en = real_pipeline.ask("How many AI-related companies were registered in China by 2025?")
    assert en.language == "en" and en.span == "4.9 million" and not KANA_RE.search(en.text)
    assert "490万社" in en.citations[0].original
    zh = real_pipeline.ask("2025年中国AI相关企业注册数量达到多少？")
    assert zh.language == "zh" and zh.span == "490万" and not KANA_RE.search(zh.text)


@pytest.mark.integration
def test_real_abstains_on_what_the_report_does_not_hold(real_pipeline) -> None:
    answer = real_pipeline.ask("2020年の中国のAI関連企業の登録数は何社でしたか？")
    assert answer.abstained and not answer.citations
    assert "見当たりません" in answer.text and "【" in answer.text  # points to the nearest sections
    # not one of its words is in the report, in any language: refused, not answered with the closing slide
    joke = real_pipeline.ask("Tell me a joke")
    assert joke.abstained and not joke.citations and joke.text.startswith("The report does not cover")


@pytest.mark.integration
def test_real_asked_for_a_share_the_direct_answer_states_a_percentage(real_pipeline) -> None:
    # The summary's sentence on private investment states amounts only; the row in 5-2 states the shares too.
    answer = real_pipeline.ask("2024年中国民间AI投资额是多少？占全球的比例是多少？")
    assert "6.1%" in answer.citations[0].original and "93億ドル" in answer.citations[0].original


@pytest.mark.integration
@pytest.mark.parametrize(
    "question",
    [
        "中国和美国在大模型商业化方面有何不同？",
        "How does China's approach to commercializing AI models differ from the US?",
    ],
)
def test_real_asked_how_two_differ_the_direct_answer_says_how(real_pipeline, question: str) -> None:
    # The bullet's first sentence only says that their strategies differ; the next two say how. One point, one
    # quote: the three sentences are cited once, as the stretch of the line they make.
    answer = real_pipeline.ask(question)
    assert answer.direct == 1
    direct = answer.citations[0].original
    assert direct.startswith("👉 米中のAI開発水準") and "オープンソース" in direct and "応用拡大に注力" in direct


@pytest.mark.integration
def test_real_a_place_the_report_never_mentions_is_refused(real_pipeline) -> None:
    assert real_pipeline.ask("贵州省出台了哪些人工智能政策？").abstained  # the report lists other provinces' policies
    assert not real_pipeline.ask("广东省2024年6月出台的人工智能政策叫什么名字？").abstained


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "history", "section", "held"),
    [
        # the sixth of the ten fields is a row of a table passage that the first question's passage does not hold
        ("那第六个呢？", "“机器人+”应用行动实施方案的十大领域里，第一个是什么？", "1-5", "⑥医療ヘルスケア"),
        # the third challenge is a numbered sub-heading: the answer leads with it
        ("And the third one?", "What is the first main challenge of China's AI industry?", "5-4",
         "3. ガバナンス、コンプライアンス、データセキュリティ"),
        # the list's other passages cover what it is a list of ("中国", "面临"): the item is not refused
        ("第三个呢？", "中国AI产业面临的主要挑战中，第一个是什么？", "5-4",
         "3. ガバナンス、コンプライアンス、データセキュリティ"),
    ],
)  # fmt: skip
def test_real_a_list_item_asked_for_by_its_position(
    real_pipeline, question: str, history: str, section: str, held: str
) -> None:
    answer = real_pipeline.ask(question, history=[{"role": "user", "content": history}])
    assert not answer.abstained and answer.citations[0].section_id == section
    assert held in answer.citations[0].original


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "note"),
    [
        ("How large is China's core AI industry?", "Translator's note: “About 90 million yuan” (約9千万元)"),
        ("中国AI核心产业规模有多大？", "译注：原文作“约9千万元”"),
    ],
)
def test_real_a_known_typo_of_the_original_comes_with_the_translators_note(
    real_pipeline, question: str, note: str
) -> None:
    answer = real_pipeline.ask(question)
    assert answer.citations[0].section_id == "2-1" and "9千万元" in answer.citations[0].original
    assert note in answer.text
    japanese = real_pipeline.ask("中国のAIコア産業の規模は？")  # the original needs no note
    assert "9千万元" in japanese.citations[0].original and "note" not in japanese.text and "注" not in japanese.text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "first_item"),
    [
        ("What are the main challenges facing China's AI industry?", "1. Bottlenecks in core technologies"),
        ("中国AI产业目前面临哪些主要挑战？", "1. 核心技术与基础设施的瓶颈"),
    ],
)
def test_real_a_question_about_a_numbered_list_gets_its_items(real_pipeline, question: str, first_item: str) -> None:
    answer = real_pipeline.ask(question)
    assert [c.section_id for c in answer.citations] == ["5-4"] * 6 and answer.direct == 6
    assert f"- {first_item}" in answer.text and "6. " in answer.citations[-1].quote
    # a question about one item of that list still gets that item's sentence
    item = real_pipeline.ask("What kind of talent shortage does China's AI industry face?")
    assert item.direct == 1 and "talent" in item.citations[0].quote
