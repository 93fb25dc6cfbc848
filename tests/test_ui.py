"""The chat UI's pieces without a browser: rendering helpers, the chat and feedback handlers, the eval tab."""

import itertools
import json
import re
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.eval import render_table
from rag.feedback import FeedbackStore
from rag.pipeline import Pipeline
from rag.serve.state import AppState
from rag.types import Answer, Chunk, Citation, Hit
from ui import app as ui_app
from ui import evaluation, render

LANG_N = (("ja", 1), ("en", 1), ("all", 2))
PASSAGE = "第1文。\n<b>AI & ロボット</b>の規模は\n2025年に約1.2兆元に達した。\n最後の文。"


def _chunk(text: str = PASSAGE, cid: str = "c1") -> Chunk:
    return Chunk(cid, "2-1", "規模<の>拡大", ("小見出し",), "text", text, 0)


def _answer(quote: str = "2025年に約1.2兆元に達した。") -> Answer:
    chunk = _chunk()
    other = Chunk("c2", "1-1", "政策", (), "table", "表の題\nA | B\n1 | 2", 1)
    return Answer(
        question="規模は<script>?",
        language="ja",
        text=f"報告書には次のように記されています。\n- 「{quote}」 [1]",
        abstained=False,
        citations=(Citation(1, "c1", "2-1", "規模<の>拡大", quote),),
        hits=(Hit(chunk, 0.0325, 1, {"dense": 1, "bm25": 3}), Hit(other, 0.0161, 2, {"dense": 2})),
        took_ms=12.3,
    )


# -- rendering -------------------------------------------------------------------------------------


def test_highlight_marks_the_quote_and_escapes_html() -> None:
    out = render.highlight(PASSAGE, "<b>AI & ロボット</b>の規模は")
    assert "<mark>&lt;b&gt;AI &amp; ロボット&lt;/b&gt;の規模は</mark>" in out
    assert "<b>" not in out and "\n" not in out  # escaped, and on one line
    assert out.startswith("第1文。<br>") and out.endswith("最後の文。")


def test_highlight_matches_across_whitespace_and_line_breaks() -> None:
    # The quote spans a line break of the passage and is spaced differently.
    out = render.highlight(PASSAGE, "の規模は 2025年に約1.2兆元")
    assert re.search(r"<mark>の規模は<br>2025年に約1\.2兆元</mark>に達した", out)


def test_highlight_without_a_match_shows_the_passage_unmarked() -> None:
    assert "<mark>" not in render.highlight(PASSAGE, "not in the passage")
    assert "<mark>" not in render.highlight(PASSAGE, "   ")


def test_citations_html_folds_each_passage_with_the_quote_marked() -> None:
    answer = _answer()
    out = render.citations_html(answer.citations, answer.hits)
    assert out.count('<details class="rr-cite">') == 1
    summary = re.search(r"<summary>(.*?)</summary>", out)
    assert summary is not None
    assert "[1]" in summary.group(1) and "【2-1】" in summary.group(1)
    assert "規模&lt;の&gt;拡大" in summary.group(1)  # the title is escaped too
    assert "<mark>2025年に約1.2兆元に達した。</mark>" in out
    assert "&lt;b&gt;AI &amp; ロボット" in out
    assert '<div class="rr-path">小見出し</div>' in out
    # A blank line would end the Markdown renderer's HTML block and spill the rest as text.
    assert "\n" not in out


def test_citation_whose_passage_is_not_among_the_hits_shows_its_quote() -> None:
    cite = Citation(1, "gone", "3-1", "T", "a < b")
    out = render.citations_html([cite], [])
    assert "<mark>a &lt; b</mark>" in out and "【3-1】" in out
    assert render.citations_html([], []) == ""


def test_answer_markdown_keeps_bullets_and_badges_and_escapes_the_rest() -> None:
    text = "Intro *not italic* <i>x</i>\n- “a_b [2] c” [1]\n- “tail” [12]"
    out = render.answer_markdown(text).split("\n")
    assert out[0] == r"Intro \*not italic\* \<i\>x\</i\>"
    # Only the answerer's own trailing marker becomes a badge; a bracket inside the quote stays text.
    assert out[1] == r'- “a\_b \[2\] c” <sup class="rr-ref">[1]</sup>'
    assert out[2].endswith('<sup class="rr-ref">[12]</sup>')


def test_answer_message_has_answer_sources_and_footer() -> None:
    out = render.answer_message(_answer())
    assert out.index("報告書には") < out.index('class="rr-sources"') < out.index('class="rr-meta"')
    assert "ja · 12 ms" in out


def test_stream_pieces_grow_to_the_whole_text() -> None:
    text = "あいうえお" * 40
    pieces = list(render.stream_pieces(text, steps=40))
    assert pieces[-1] == text
    assert all(a == b[: len(a)] and len(a) < len(b) for a, b in itertools.pairwise(pieces))
    assert 30 <= len(pieces) <= 41
    assert list(render.stream_pieces("短い", steps=40)) == ["短い"]
    assert list(render.stream_pieces("")) == []


def test_trace_rows_give_rank_score_retrievers_and_citations() -> None:
    rows = render.trace_rows(_answer())
    assert [(r["rank"], r["section"], r["cited"]) for r in rows] == [(1, "2-1", [1]), (2, "1-1", [])]
    assert rows[0]["retrievers"] == {"dense": 1, "bm25": 3} and rows[0]["score"] == pytest.approx(0.0325)


def test_trace_html_is_a_table_with_badges_and_escaped_text() -> None:
    out = render.trace_html(_answer())
    assert out.count("<tr>") == 3  # header and two passages
    assert '<span class="rr-badge rr-dense">dense #1</span><span class="rr-badge rr-bm25">bm25 #3</span>' in out
    assert "0.0325" in out and "[1]" in out
    assert "規模は&lt;script&gt;?" in out and "<script>" not in out
    assert "&lt;b&gt;AI &amp; ロボット&lt;/b&gt;" in out


def test_eval_tables_from_a_report() -> None:
    metrics = {"n": 4, "hit@1": 0.5, "hit@5": 0.75, "hit@10": 1.0, "mrr@10": 0.6251, "ndcg@10": 0.7}
    answers = {
        "key_facts": 0.5,
        "wrong_abstention": 0.0,
        "abstention_recall": 0.5,
        "abstention_precision": 1.0,
        "quotes_per_answer": 1.25,
        "quotes_with_evidence": 0.8,
        "valid_citations": 1.0,
        "answerable": 4,
        "unanswerable": 2,
    }
    empty = {**metrics, "n": 0}
    report = {
        "retrieval": {"test": {"full": {"all": metrics, "zh": empty, "ja": metrics}}},
        "answers": {"test": {"all": answers}},
    }
    assert render.retrieval_table(report)[0] == ["test", "full", "ja", 4, 0.5, 0.75, 1.0, 0.625, 0.7]
    assert [r[2] for r in render.retrieval_table(report)] == ["ja", "all"]  # ordered; zh has no questions
    assert len(render.retrieval_table(report)[0]) == len(render.RETRIEVAL_COLUMNS)
    assert render.answers_table(report) == [["test", "all", 4, 2, 0.5, 0.0, 0.5, 1.0, 1.25, 0.8, 1.0]]
    assert len(render.answers_table(report)[0]) == len(render.ANSWER_COLUMNS)


def test_a_translated_citation_shows_the_translation_and_folds_the_original(edition_pipeline: Pipeline) -> None:
    answer = edition_pipeline.ask("What was the scale of China's core AI industry in 2025?")
    out = render.citations_html(answer.citations, answer.hits)
    assert "<mark>👉 The scale of China&#x27;s core AI industry reached about 1.2 trillion yuan in 2025.</mark>" in out
    assert render.TRANSLATION_NOTES["en"] in out and render.ORIGINAL_LABEL in out
    assert "<mark>👉 中国のAIコア産業の規模は2025年に約1.2兆元に達した。</mark>" in out
    assert "<strong>1.2 trillion yuan</strong>" in render.answer_markdown(answer.text)


# -- handlers over the fake pipeline ---------------------------------------------------------------


def test_respond_streams_the_answer_then_adds_sources_and_trace(
    fake_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui_app, "STREAM_DELAY", 0)
    steps = list(ui_app.respond(lambda: fake_pipeline, "  中国のAIコア産業の規模は？ ", [], {}))
    box, chat, *_ = steps[0]
    assert box == "" and chat == [{"role": "user", "content": "中国のAIコア産業の規模は？"}]
    streamed = [s[1][-1]["content"] for s in steps[1:-1]]
    assert len(streamed) >= 5 and len(set(streamed)) == len(streamed)  # it streams, in growing pieces
    assert all("rr-sources" not in s for s in streamed)
    _, chat, history, turns, trace = steps[-1]
    assert history == chat and [m["role"] for m in chat] == ["user", "assistant"]
    assert "1.2兆元" in chat[1]["content"] and "【1-1】" in chat[1]["content"] and "<mark>" in chat[1]["content"]
    assert set(turns) == {1} and turns[1]["language"] == "ja" and turns[1]["citations"][0]["section"] == "1-1"
    assert trace == turns[1]["trace"] and "rr-trace" in trace

    # A follow-up keeps the conversation; its turn is keyed by its own message index.
    *_, (_, chat, history, turns, _) = ui_app.respond(lambda: fake_pipeline, "ロボット政策は？", history, turns)
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2 and set(turns) == {1, 3}
    assert turns[3]["question"] == "ロボット政策は?"


def test_respond_ignores_blank_input_and_returns_a_bad_question_to_the_box(fake_pipeline: Pipeline) -> None:
    assert list(ui_app.respond(lambda: fake_pipeline, "   ", [], {})) == [(gr.skip(),) * 5]
    history = [{"role": "user", "content": "前の質問"}, {"role": "assistant", "content": "前の答え"}]
    # Outside a Gradio request the toast falls back to a UserWarning: the message the user would see.
    with pytest.warns(UserWarning, match="no letters or digits"):
        steps = list(ui_app.respond(lambda: fake_pipeline, "👍🔥", history, {1: {}}))
    assert steps[-1][0] == "👍🔥" and steps[-1][1] == history  # nothing added to the chat
    assert steps[-1][2:] == (gr.skip(),) * 3  # nor to the stored conversation


def test_respond_while_the_index_is_loading(fake_pipeline: Pipeline) -> None:
    with pytest.raises(gr.Error, match="not ready: loading the index"):
        list(ui_app.respond(lambda: AppState(reason="loading the index").pipeline, "質問", [], {}))

    class Broken:
        @property
        def pipeline(self) -> Pipeline:
            raise RuntimeError("half-swapped")

    state: Any = Broken()
    with pytest.raises(gr.Error, match="not ready yet"):
        list(ui_app.respond(lambda: state.pipeline, "質問", [], {}))


def test_like_stores_the_rated_answer(fake_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_app, "STREAM_DELAY", 0)
    *_, (_, chat, _, turns, _) = ui_app.respond(lambda: fake_pipeline, "ロボット政策の2027年の目標は？", [], {})
    get = lambda: fake_pipeline  # noqa: E731
    ui_app.on_like(get, turns, gr.LikeData(None, {"index": 1, "value": chat[1]["content"], "liked": False}))
    ui_app.on_like(get, turns, gr.LikeData(None, {"index": 1, "value": "", "liked": None}))  # taken back: no row
    ui_app.on_like(get, turns, gr.LikeData(None, {"index": 0, "value": "", "liked": True}))  # the question: no row
    rows = FeedbackStore(fake_pipeline.settings.data_dir / "feedback.sqlite3").export()
    assert len(rows) == 1
    assert rows[0]["vote"] == "down" and rows[0]["question"] == "ロボット政策の2027年の目標は?"
    assert rows[0]["answer"] == turns[1]["answer"] and "<" not in rows[0]["answer"]  # the text, not the HTML
    assert rows[0]["citations"] == turns[1]["citations"] and rows[0]["language"] == "ja"


def test_run_eval_gives_tables_plot_and_json(fake_pipeline: Pipeline, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    lines = [
        {
            "id": "a",
            "language": "ja",
            "question": "AIコア産業の規模は？",
            "evidence": ["約1.2兆元"],
            "key_facts": ["1.2兆元"],
        },
        {"id": "b", "language": "en", "question": "How many AI firms registered?", "evidence": ["490万社"]},
        {"id": "c", "language": "ja", "question": "火星の人口は？", "answerable": False},
    ]
    questions.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    ticks: list[float] = []

    class Recording(gr.Progress):  # a real gr.Progress: it is falsy until it tracks an iterable
        def __call__(self, progress: Any, desc: str | None = None, *args: Any, **kwargs: Any) -> "Recording":
            ticks.append(progress)
            return self

    out = evaluation.run_eval(fake_pipeline, questions, ["full", "bm25"], Recording())
    # Modes in the tab's order, languages without questions (zh) left out.
    assert [r[:4] for r in out["retrieval"]] == [["tune", m, lang, n] for m in ("bm25", "full") for lang, n in LANG_N]
    assert [r[:4] for r in out["answers"]] == [["tune", "ja", 1, 1], ["tune", "en", 1, 0], ["tune", "all", 2, 1]]
    assert Path(out["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(Path(out["json"]).read_text(encoding="utf-8"))["questions"] == 3
    assert "3 questions" in out["summary"] and out["table"] == render_table(out["report"])
    assert [line.split()[:2] for line in out["table"].splitlines() if line.startswith("full ")] == [
        ["full", lang] for lang in ("ja", "en", "zh", "all", "ja", "en", "all")
    ]  # retrieval in three languages and all, then answers per language asked, and all
    # 2 answerable x 2 modes searches + 3 answers, each one tick of the progress bar.
    assert ticks[0] == 0.0 and len(ticks) == 1 + 2 * 2 + 3 and ticks[-1] == pytest.approx(1.0)


def test_run_eval_rejects_no_modes(fake_pipeline: Pipeline, tmp_path: Path) -> None:
    from rag.errors import InputError

    with pytest.raises(InputError, match="at least one"):
        evaluation.run_eval(fake_pipeline, tmp_path / "missing.jsonl", [])


# -- mounting --------------------------------------------------------------------------------------


def test_mount_serves_the_page_before_the_index_is_ready() -> None:
    class Loading:
        reads = 0

        @property
        def pipeline(self) -> Pipeline:
            Loading.reads += 1
            raise RuntimeError("still loading")

    app = FastAPI()
    ui_app.mount(app, Loading(), report="テスト報告書")
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200
        config = client.get("/config").json()
        assert config["title"] == "テスト報告書 Q&A — report-rag" and config["analytics_enabled"] is False
        assert "<h1>テスト報告書 Q&amp;A — report-rag</h1>" in json.dumps(config, ensure_ascii=False)
        assert Loading.reads == 0  # the pipeline is read per request, never at mount time
        theme_css = client.get("/theme.css")
        assert theme_css.status_code == 200 and "Noto Sans CJK JP" in theme_css.text
        for body in (page.text, theme_css.text):
            assert "fonts.googleapis" not in body and "fonts.gstatic" not in body


@pytest.mark.integration
def test_example_questions_are_answered_with_citations(real_pipeline: Pipeline) -> None:
    # The examples are the demo: none of them may land on an abstention.
    for question in ui_app.EXAMPLES:
        answer = real_pipeline.ask(question)
        assert not answer.abstained and answer.citations, question


def test_respond_with_an_llm_streams_verified_sentences_and_says_what_verification_did(
    llm_pipeline, llm_server
) -> None:
    from openai_server import Reply

    llm_server.default = Reply(
        "政策は5カ年計画に連動している[3]。予算は900億元だ[3]。政策は5カ年計画に連動している[3]。"
    )
    pipeline = llm_pipeline()
    steps = list(ui_app.respond(lambda: pipeline, "ロボット政策の2027年の目標は？", [], {}))
    streamed = [s[1][-1]["content"] for s in steps[1:-1]]
    assert len(streamed) == 2 and all("900" not in s for s in streamed)  # two verified sentences, one removed
    _, chat, _, turns, _ = steps[-1]
    assert "generated by the LLM" in chat[1]["content"] and "1 unverified sentence(s) removed" in chat[1]["content"]
    assert [c["n"] for c in turns[1]["citations"]] == [3]


def test_respond_reads_a_follow_up_with_the_history(fake_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_app, "STREAM_DELAY", 0)
    *_, (_, _, history, turns, _) = ui_app.respond(lambda: fake_pipeline, "AI関連企業の登録件数は？", [], {})
    *_, (_, _, _, turns, _) = ui_app.respond(lambda: fake_pipeline, "では2025年は？", history, turns)
    alone = fake_pipeline.ask("では2025年は？")
    with_history = fake_pipeline.ask("では2025年は？", history=history)
    assert alone.hits != with_history.hits and turns[3]["answer"] == with_history.text


def test_answer_markdown_badges_citations_inside_generated_sentences() -> None:
    md = render.answer_markdown("政策は連動している[3]。規模は1.2兆元[1][2]。", generated=True)
    assert md.count('<sup class="rr-ref">') == 3 and '<sup class="rr-ref">[3]</sup>。' in md
    assert "rr-ref" not in render.answer_markdown("政策は連動している[3]。")  # extractive: line ends only


def test_citations_of_one_section_say_which_part_of_it_each_is() -> None:
    same = [Citation(n, f"c{n}", "5-4", "Main challenges", f"{n}. Item {n}\nmore") for n in (1, 2)]
    out = render.citations_html([*same, Citation(3, "c3", "2-1", "Scale", "elsewhere")], [])
    assert out.count('class="rr-sub"') == 2 and "› 1. Item 1<" in out and "› 2. Item 2<" in out
    alone = render.citations_html([Citation(1, "c1", "5-4", "Main challenges", "1. Item 1")], [])
    assert 'class="rr-sub"' not in alone
