"""The server's state: the live pipeline, swapped whole when the index is rebuilt, or why there is none."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.errors import IndexError_
from rag.feedback import FeedbackStore, open_store
from rag.pipeline import Pipeline


class AppState:
    """The live pipeline, or why there is none. Swapping replaces one reference, so a request
    (which reads ``pipeline`` once) uses either the old or the new index, never a mix."""

    def __init__(self, pipeline: Pipeline | None = None, reason: str = "loading", feedback_path: Path | None = None):
        self._pipeline = pipeline
        self.reason = reason
        self._failed = False
        self._lock = threading.Lock()
        self.feedback_path = feedback_path

    @property
    def pipeline(self) -> Pipeline:
        """The live pipeline; raises ``IndexError_`` (HTTP 503) with the reason while there is none."""
        current = self._pipeline
        if current is None:
            if self._failed:  # the reason says what to run; waiting will not help
                raise IndexError_(f"unavailable: {self.reason}")
            raise IndexError_(f"not ready: {self.reason}; retry shortly or see the server log")
        return current

    @property
    def ready(self) -> bool:
        return self._pipeline is not None

    def swap(self, pipeline: Pipeline) -> None:
        with self._lock:
            self._pipeline, self._failed = pipeline, False

    def fail(self, reason: str) -> None:
        with self._lock:
            self._pipeline, self.reason, self._failed = None, reason, True

    def feedback(self) -> FeedbackStore:
        """The ratings store: at ``feedback_path`` (the server's, usable while the index loads), else in
        the live pipeline's data folder."""
        return open_store(self.feedback_path or self.pipeline.settings.feedback_file)
