"""The one object that wires corpus, model, index, retrieval and answering together."""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.answer import AnswerConfig, ExtractiveAnswerer
from rag.calibration import load_thresholds
from rag.chunking import ChunkingConfig
from rag.config import Settings, get_settings
from rag.corpus import Report, load_report, report_label
from rag.embed import Embedder, embedder_from
from rag.followup import focus_of, standalone_question
from rag.index import Index, build_index, identity, load_index
from rag.intents import classify
from rag.lang import clean_history, clean_question, detect_language
from rag.lexical import load_segmenter_in_background
from rag.llm.generate import make_generator
from rag.retrieve import RetrievalConfig, Retriever, Scored
from rag.types import Answer, Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    query: str
    language: str
    hits: tuple[Hit, ...]
    took_ms: float


class Pipeline:
    """Search and ask over one loaded index. Thread-safe for reads."""

    def __init__(
        self,
        settings: Settings,
        report: Report,
        embedder: Embedder,
        index: Index,
        retrieval: RetrievalConfig | None = None,
        answering: AnswerConfig | None = None,
    ):
        self.settings = settings
        self.report = report
        self.embedder = embedder
        self.index = index
        self.retriever = Retriever(index, embedder, retrieval)
        answering = answering or default_answer_config(embedder.model_id, settings.calibration_file)
        self.answerer = ExtractiveAnswerer(index, answering, report.metadata)
        self.generator = make_generator(settings, self.answerer, report_label(report.metadata))
        # The report's last chapter: what "the last chapter" and "the conclusion" point at.
        chapters = [int(m.group(1)) for c in index.chunks if (m := re.match(r"(\d+)(?:-\d+|のまとめ)$", c.section_id))]
        self.last_chapter = max(chapters, default=1)

    @classmethod
    def load(
        cls,
        settings: Settings | None = None,
        *,
        build: bool = False,
        embedder: Embedder | None = None,
        show_progress: bool = False,
    ) -> Pipeline:
        """Load corpus, model and index; with ``build`` first (re)build the index if it is stale."""
        settings = settings or get_settings()
        report = load_report(settings.corpus_dir)
        embedder = embedder or embedder_from(settings)
        expected = identity(report, embedder, ChunkingConfig())
        if build:
            build_index(report, embedder, settings.index_dir, show_progress=show_progress)
        index = load_index(settings.index_dir, expected)
        load_segmenter_in_background()
        return cls(settings, report, embedder, index)

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: str | None = None,
        history: Sequence[dict[str, Any]] | None = None,
    ) -> SearchResult:
        """Ranked passages for ``query``; with ``history`` a short follow-up is read with the previous question."""
        started = time.perf_counter()
        query = clean_question(query, self.settings.max_question_chars)
        language = detect_language(query)
        query = self.standalone(query, history, language)
        scored = self.retriever.focus(
            self.retriever.score(query, language, mode), classify(query, language, self.last_chapter)
        )
        hits = self.retriever.hits(scored, k or self.settings.top_k)
        return SearchResult(query, language, tuple(hits), ms_since(started))

    def standalone(self, question: str, history: Sequence[dict[str, Any]] | None, language: str | None = None) -> str:
        """The question as retrieval sees it: a follow-up rewritten with the previous question."""
        language = language or detect_language(question)
        return standalone_question(question, language, clean_history(history), self.generator.rewrite)

    def ask(self, question: str, k: int | None = None, history: Sequence[dict[str, Any]] | None = None) -> Answer:
        """Answer a question; with chat ``history`` a short follow-up is read with the previous question."""
        started = time.perf_counter()
        question, query, scored, hits = self._retrieve(question, k, history)
        answer = self.generator.answer(query, scored, hits)
        return replace(answer, question=question, query=query, took_ms=ms_since(started))

    def ask_stream(
        self, question: str, k: int | None = None, history: Sequence[dict[str, Any]] | None = None
    ) -> Iterator[str | Answer]:
        """Like ``ask``, but yields the answer's text pieces as they are ready, then the final ``Answer``.
        A bad question raises here, before the first piece."""
        started = time.perf_counter()
        question, query, scored, hits = self._retrieve(question, k, history)

        def events() -> Iterator[str | Answer]:
            for event in self.generator.stream(query, scored, hits):
                if isinstance(event, Answer):
                    event = replace(event, question=question, query=query, took_ms=ms_since(started))
                yield event

        return events()

    def _retrieve(
        self, question: str, k: int | None, history: Sequence[dict[str, Any]] | None
    ) -> tuple[str, str, Scored, list[Hit]]:
        question = clean_question(question, self.settings.max_question_chars)
        language = detect_language(question)
        query = self.standalone(question, history, language)
        scored = self.retriever.focus(
            self.retriever.score(query, language), classify(query, language, self.last_chapter)
        )
        history = clean_history(history)
        focus = focus_of(question, language, history)
        previous = next((str(m["content"]) for m in reversed(history or []) if m.get("role") == "user"), "")
        scored = replace(scored, focus=focus, previous=previous if focus else "")
        return question, query, scored, self.retriever.hits(scored, k or self.settings.top_k)

    def retrieve_for_answer(
        self, question: str, k: int | None = None, history: Sequence[dict[str, Any]] | None = None
    ) -> tuple[Scored, list[Hit]]:
        """What ``ask`` hands the answerer: the scores (with the question's intent) and the hits."""
        _, _, scored, hits = self._retrieve(question, k, history)
        return scored, hits

    def summary(self) -> dict[str, Any]:
        return self.index.summary()

    def with_thresholds(self, thresholds: Mapping[str, float]) -> Pipeline:
        """This pipeline abstaining below ``thresholds`` (per question language) instead. Retrieval is
        shared, its cache of word vectors too, so answers are retrieved exactly as by this pipeline."""
        config = self.answerer.config
        other = copy.copy(self)
        other.answerer = ExtractiveAnswerer(
            self.index, replace(config, abstain_below={**config.abstain_below, **thresholds}), self.report.metadata
        )
        other.generator = make_generator(self.settings, other.answerer, report_label(self.report.metadata))
        return other


def default_answer_config(model_id: str, calibration_file: Path) -> AnswerConfig:
    """Answer settings with the abstention thresholds calibrated for this model, if any."""
    thresholds = load_thresholds(model_id, calibration_file)
    if thresholds is None:
        log.warning("no abstention calibration for model %s: run `rag eval --calibrate`", model_id)
        return AnswerConfig()
    return AnswerConfig(abstain_below=thresholds)


def ms_since(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), to two decimals."""
    return round((time.perf_counter() - started) * 1000, 2)
