"""The chat UI: a Gradio Blocks app over the pipeline the API serves, mounted at "/"."""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.errors import RagError
from rag.feedback import open_store
from rag.serialize import citation_json
from rag.types import Answer
from ui import render
from ui.api import add_api, live
from ui.evaluation import eval_tab

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rag.pipeline import Pipeline

STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTION = (
    "報告書「{report}」に、原文を引用して答えます。"
    " · Ask the report in Japanese, English or Chinese: every answer quotes it and cites its sections;"
    " English and Chinese quotes come from report-rag's own translation, and the Japanese original is authoritative."
    " · 可用中文、日文或英文提问，每个回答都引用报告并注明出处；中文引文为本项目的译文，以日文原文为准。"
)
EXAMPLES = [
    "中国のAIコア産業の規模は2025年にどのくらいですか？",
    "How much did the US invest privately in AI in 2024 compared with China?",
    "中国人形机器人的发展目标是什么？",
    "DeepSeekの登場は中国のAI産業にどんな影響を与えましたか？",
    "What are the main policies supporting China's AI industry?",
    "中国AI产业面临哪些挑战？",
]
# System fonts only, a CJK face per platform: the browser fetches nothing (Gradio's default theme
# would load web fonts).
FONTS = [
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Noto Sans CJK JP",
    "Yu Gothic",
    "Meiryo",
    "Microsoft YaHei",
    "PingFang SC",
    "sans-serif",
]
FONTS_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK JP", "monospace"]
# The extractive answer is ready at once; typing it out over ~1 s reads better than a wall of text.
STREAM_DELAY = 0.02
LOGIN_MESSAGE = (
    "ユーザー名は任意、パスワードは API キー · Any user name; the password is an API key · 用户名任意，密码为 API 密钥"
)

PipelineGetter = Callable[[], "Pipeline"]
Turns = dict[int, dict[str, Any]]  # assistant message index -> what was asked, answered and retrieved


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="red", neutral_hue="slate", font=FONTS, font_mono=FONTS_MONO)


def page_title(report: str) -> str:
    """The page's title and heading: the report's title (from the corpus's metadata.json) and the product."""
    return f"{report} Q&A — report-rag"


def mount(app: FastAPI, state: Any, auth: Callable[[str, str], bool] | None = None, report: str = "report") -> None:
    """Serve the chat UI at "/" of ``app``. ``state.pipeline`` is read per request, so a swapped index is used.
    With ``auth`` (user name, password -> allowed), Gradio shows a login page first. ``report`` is the
    report's title (read before the index loads)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # Built outside an event loop, Gradio's App makes two loops of its own and never closes them
        # (ResourceWarnings at garbage collection). Inside a short-lived loop it makes none; unlike
        # asyncio.run, run_until_complete leaves the thread's current loop setting alone.
        async def inside() -> None:
            _mount(app, state, auth, report)

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(inside())
        finally:
            loop.close()
    else:
        _mount(app, state, auth, report)


def _mount(app: FastAPI, state: Any, auth: Callable[[str, str], bool] | None, report: str) -> None:
    gr.mount_gradio_app(
        app,
        build(lambda: state.pipeline, report),
        path="/",
        theme=theme(),
        css_paths=[STATIC / "style.css"],
        head_paths=[STATIC / "head.html"],
        footer_links=[],  # Gradio's own API page would compete with the project's HTTP API
        run_history=False,  # keep no questions in the browser's storage
        ssr_mode=False,  # client-side rendering: no Node server next to ours
        max_file_size="5mb",  # question sets are small; refuse anything else early
        auth=auth,
        auth_message=LOGIN_MESSAGE if auth else None,
    )


def build(get_pipeline: PipelineGetter, report: str = "report") -> gr.Blocks:
    """The Blocks app: a chat tab and an evaluation tab over whatever pipeline ``get_pipeline`` returns;
    ``report`` is the report's title."""
    title, description = html.escape(page_title(report)), html.escape(DESCRIPTION.format(report=report))
    with gr.Blocks(title=page_title(report), analytics_enabled=False) as blocks:
        gr.HTML(f'<header class="rr-header"><h1>{title}</h1><p>{description}</p></header>', padding=False)
        with gr.Tabs():
            with gr.Tab("質問 · Ask · 提问", id="ask"):
                _chat_tab(get_pipeline)
            with gr.Tab("評価 · Evaluation · 评估", id="eval"):
                eval_tab(lambda: live(get_pipeline))
        add_api(get_pipeline)
    return blocks


# -- chat ------------------------------------------------------------------------------------------


def _chat_tab(get_pipeline: PipelineGetter) -> None:
    # The conversation lives on the server (gr.State is never sent by the browser): a chat whose
    # answers carry their passages would otherwise be uploaded whole with every question, and soon
    # outgrow the API's request size limit.
    history = gr.State([])
    turns = gr.State({})
    chatbot = gr.Chatbot(
        show_label=False,
        elem_id="rr-chat",
        height=600,
        buttons=["copy", "copy_all"],
        feedback_options=("Like", "Dislike"),
        latex_delimiters=[],  # "$" in the report is a currency sign, not maths
        placeholder=(
            '<div class="rr-placeholder">質問をどうぞ · Ask a question · 请提问<br>'
            "<small>Answers quote the report and cite its sections, e.g. 【2-1】.</small></div>"
        ),
    )
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            show_label=False,
            placeholder="質問を入力 · Type a question · 输入问题 (Enter)",
            elem_id="rr-question",
            scale=8,
            max_lines=4,
            autofocus=True,
        )
        send = gr.Button("送信 · Ask", variant="primary", scale=1, min_width=110, elem_id="rr-send")
        clear = gr.Button("クリア · Clear", variant="secondary", scale=1, min_width=130, elem_id="rr-clear")
    with gr.Row(elem_classes="rr-examples"):
        gr.HTML('<span class="rr-examples-label">例 · Examples · 示例</span>', padding=False, elem_classes="rr-label")
        example_buttons = [gr.Button(q, size="sm", variant="secondary", min_width=0) for q in EXAMPLES]
    with gr.Accordion("検索トレース · Retrieval trace · 检索轨迹", open=False, elem_id="rr-trace"):
        trace = gr.HTML(render.TRACE_EMPTY)

    # The UI's handlers are private: a program asks through /ask and /search (ui/api.py), not these.
    chat_io: dict[str, Any] = {
        "fn": partial(respond, get_pipeline),
        "inputs": [question, history, turns],
        "outputs": [question, chatbot, history, turns, trace],
        "concurrency_limit": 8,
        "api_visibility": "private",
    }
    question.submit(**chat_io)
    send.click(**chat_io)
    for button, text in zip(example_buttons, EXAMPLES, strict=True):
        button.click(lambda t=text: t, None, question, queue=False, api_visibility="private").then(**chat_io)
    for event in (clear.click, chatbot.clear):
        outputs = [chatbot, history, turns, trace, question]
        event(lambda: ([], [], {}, render.TRACE_EMPTY, ""), None, outputs, queue=False, api_visibility="private")

    def like(known: Turns, data: gr.LikeData) -> None:  # a closure: Gradio finds LikeData by its annotation
        on_like(get_pipeline, known, data)

    chatbot.like(like, turns, None, api_visibility="private")
    # The trace always shows the latest answer's retrieval: following a click on an earlier answer left it
    # showing that one after the next question, which read as the new answer's.


def respond(
    get_pipeline: PipelineGetter, message: str, history: list[dict[str, Any]], turns: Turns
) -> Iterator[tuple[Any, ...]]:
    """Answer ``message``, streaming it into the chat; yields (textbox, chat, history, turns, trace)."""
    skip = gr.skip()
    text = (message or "").strip()
    if not text:
        yield skip, skip, skip, skip, skip
        return
    pipeline = live(get_pipeline)
    asked = [*history, {"role": "user", "content": text}]
    yield "", asked, skip, skip, skip  # the question shows at once, with Gradio's pending dots
    try:
        # The history lets a follow-up ("and in 2024?") be read with the question before it.
        events = pipeline.ask_stream(text, history=history)
    except RagError as exc:
        # Take the question back out of the chat and into the box, ready to be fixed.
        gr.Warning(str(exc))
        yield text, history, skip, skip, skip
        return
    writing = pipeline.generator.name == "llm"  # an LLM's verified sentences show as they are written
    shown, answer = "", None
    for event in events:
        if isinstance(event, Answer):
            answer = event
        elif writing:
            shown += event
            reply = {"role": "assistant", "content": render.answer_markdown(shown, generated=True)}
            yield skip, [*asked, reply], skip, skip, skip
    assert answer is not None, "a stream ends with its Answer"
    if not writing:  # ready at once: typed out (STREAM_DELAY)
        for piece in render.stream_pieces(answer.text):
            yield skip, [*asked, {"role": "assistant", "content": render.answer_markdown(piece)}], skip, skip, skip
            time.sleep(STREAM_DELAY)
    turn = {
        "question": answer.question,
        "answer": answer.text,
        "language": answer.language,
        "citations": [citation_json(c) for c in answer.citations],
        "trace": render.trace_html(answer),
    }
    final = [*asked, {"role": "assistant", "content": render.answer_message(answer)}]
    yield skip, final, final, {**turns, len(asked): turn}, turn["trace"]


def on_like(get_pipeline: PipelineGetter, turns: Turns, data: gr.LikeData) -> None:
    """Store a thumbs up/down with the question, answer and citations it rates."""
    vote = _vote(data.liked)
    turn = turns.get(data.index) if isinstance(data.index, int) else None
    if vote is None or turn is None:  # a vote taken back, or a message that is not an answer
        return
    store = open_store(live(get_pipeline).settings.feedback_file)
    try:
        store.add(turn["question"], turn["answer"], turn["citations"], turn["language"], vote)
    except RagError as exc:
        raise gr.Error(str(exc)) from exc
    gr.Info("ありがとうございます · Thanks for the feedback · 感谢反馈", duration=2)


def _vote(liked: Any) -> str | None:
    # Gradio sends True/False, or the option's label with feedback_options; None when a vote is undone.
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return None
