"""The chat UI's evaluation tab: a question set against the live index, every retrieval mode side by side."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.errors import InputError, RagError
from rag.eval import MODES
from ui import render

PROGRESS_HEIGHT = 110  # pixels: Gradio's progress bar with its label and timer

if TYPE_CHECKING:
    from rag.eval import Question
    from rag.pipeline import Pipeline


def eval_tab(get_pipeline: Callable[[], Pipeline]) -> None:
    """The tab's widgets and its one event; ``get_pipeline`` raises a gr.Error while there is no index."""
    gr.Markdown(
        "Run a question set against the live index: every retrieval mode side by side, then the full"
        " pipeline's answers. The bundled set is `corpus/questions.jsonl`; upload a JSONL file"
        " (one `{id, language, question, answerable, evidence, key_facts}` object per line) to use your own."
        " With the real model a full run takes a few minutes.",
        elem_classes="rr-eval-intro",
    )
    with gr.Row():
        upload = gr.File(label="Question set (JSONL, optional)", file_types=[".jsonl"], type="filepath", scale=2)
        with gr.Column(scale=3):
            modes = gr.CheckboxGroup(list(MODES), value=list(MODES), label="Retrieval modes")
            run = gr.Button("評価を実行 · Run evaluation · 运行评估", variant="primary", elem_id="rr-run-eval")
    # Tall enough for Gradio's progress bar, which is drawn over this box while the evaluation runs; back to
    # one line's height with the results, which would otherwise sit below an empty band.
    status = gr.Markdown("Results appear here.", elem_id="rr-eval-status", min_height=PROGRESS_HEIGHT)
    with gr.Column(visible=False, elem_id="rr-eval-results") as results:
        retrieval = gr.Dataframe(
            headers=render.RETRIEVAL_COLUMNS, label="Retrieval (hit@k, MRR@10, nDCG@10)", interactive=False
        )
        answers = gr.Dataframe(headers=render.ANSWER_COLUMNS, label="Answers (full pipeline)", interactive=False)
        plot = gr.Image(
            label="hit@k per language", show_label=False, type="filepath", interactive=False, elem_id="rr-eval-plot"
        )
        with gr.Accordion("Plain-text table and eval.json", open=False):
            table = gr.Code(label="render_table", interactive=False)
            report_file = gr.File(label="eval.json", interactive=False)

    def evaluate(path: str | None, chosen: list[str], progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        pipeline = get_pipeline()
        source = Path(path) if path else pipeline.settings.questions_file
        try:
            outcome = run_eval(pipeline, source, chosen, progress)
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        return (
            gr.Markdown(outcome["summary"], min_height=0),
            gr.Column(visible=True),
            outcome["retrieval"],
            outcome["answers"],
            outcome["plot"],
            outcome["table"],
            outcome["json"],
        )

    # The status box grows back to the progress bar's height first: the results had shrunk it to one line.
    # (Made when the event runs: a component made here would be laid out on the page.)
    running = lambda: gr.Markdown("…", min_height=PROGRESS_HEIGHT)  # noqa: E731
    run.click(running, None, status, queue=False, api_visibility="private").then(
        evaluate,
        [upload, modes],
        [status, results, retrieval, answers, plot, table, report_file],
        concurrency_limit=1,  # one evaluation at a time: it keeps the CPU busy
        show_progress_on=[status],
        api_visibility="private",
    )


def run_eval(
    pipeline: Pipeline, source: Path, modes: Sequence[str], progress: Callable[..., Any] | None = None
) -> dict[str, Any]:
    """Evaluate ``source`` with ``modes`` against ``pipeline``: tables, plot and eval.json for the tab."""
    from rag import eval as ev

    chosen = [m for m in MODES if m in modes]
    if not chosen:
        raise InputError("choose at least one retrieval mode")
    questions = ev.load_questions(source)
    started = time.perf_counter()
    # Not `progress or ...`: a gr.Progress has a length, 0 until it tracks an iterable, so it is falsy.
    tracked = _ProgressPipeline(pipeline, questions, chosen, _no_progress if progress is None else progress)
    report = ev.run_evaluation(tracked, questions, chosen)  # type: ignore[arg-type]
    out = Path(tempfile.mkdtemp(prefix="rag-eval-"))
    ev.plot_curves(report, out / "hit_at_k.png")
    (out / "eval.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    took = time.perf_counter() - started
    return {
        "summary": f"**{len(questions)} questions** from `{source.name}` · {', '.join(chosen)} · {took:.0f} s",
        "report": report,
        "retrieval": render.retrieval_table(report),
        "answers": render.answers_table(report),
        "plot": str(out / "hit_at_k.png"),
        "table": ev.render_table(report),
        "json": str(out / "eval.json"),
    }


def _no_progress(*args: Any, **kwargs: Any) -> None:
    pass


class _ProgressPipeline:
    """The pipeline with a progress bar: counts the searches and answers ``run_evaluation`` makes."""

    def __init__(self, pipeline: Pipeline, questions: Sequence[Question], modes: Sequence[str], progress: Any):
        self._pipeline = pipeline
        self._progress = progress
        answerable = sum(q.answerable for q in questions)
        # One search per answerable question per mode, then one answer per question.
        self._total = answerable * len(modes) + len(questions)
        self._done = 0
        self.embedder = _CountingEmbedder(pipeline.embedder, self._tick)
        # The baseline first embeds the whole report in fixed windows: a while without ticks.
        progress(0.0, desc="baseline · embedding the report's fixed windows" if "baseline" in modes else "retrieval")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)

    def _tick(self, desc: str) -> None:
        self._done += 1
        self._progress(min(self._done / max(self._total, 1), 1.0), desc=desc)

    def search(self, query: str, k: int | None = None, mode: str | None = None, history: Any = None) -> Any:
        self._tick(f"retrieval · {mode}")
        return self._pipeline.search(query, k, mode, history=history)

    def ask(self, question: str, k: int | None = None, history: Any = None) -> Any:
        self._tick("answers · full")
        return self._pipeline.ask(question, k, history=history)


class _CountingEmbedder:
    """Only the naive baseline goes through ``pipeline.embedder`` (one query per question)."""

    def __init__(self, embedder: Any, tick: Callable[[str], None]):
        self._embedder = embedder
        self._tick = tick

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def encode_queries(self, texts: list[str]) -> Any:
        self._tick("retrieval · baseline")
        return self._embedder.encode_queries(texts)
