"""Index hot swap: load the index into the server's state, then swap in whatever `rag build` writes next.

`rag build` writes a build folder aside and flips ``index/CURRENT``. The watcher compares a cheap
fingerprint (the build named in CURRENT, sizes and mtimes of its files) every ``index_check_s``
seconds; on a change it loads the index off the request path with the embedder it already has and
swaps the new Pipeline in. A swap replaces one reference, so a request answers from the old or the
new index, never a mix.

An index that fails verification (a missing, truncated or garbled file, a manifest for another model,
a CURRENT naming a missing build) takes the service to 503 with what to run, even when an intact copy
is still in memory: the service answers only from an index that is valid on disk now, so a fault
shows at once rather than at the next restart. The next intact build is swapped in by itself.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.corpus import load_report
from rag.embed import Embedder, embedder_from
from rag.errors import RagError
from rag.index import build_index, current_build, fingerprint, verify_files
from rag.pipeline import Pipeline
from rag.serve.state import AppState

log = logging.getLogger(__name__)

LOAD_ATTEMPTS = 3  # loads in a row when the files change under one
BUILD_LOCK = ".build.lock"  # in the index folder: one start-up builds at a time


class IndexWatcher:
    """Keeps ``state`` on the index that is live on disk (one per server, run in one thread)."""

    def __init__(self, state: AppState, settings: Settings, embedder: Embedder | None = None):
        self.state = state
        self.settings = settings
        self.embedder = embedder
        self.stopped = threading.Event()
        self._seen: tuple[Any, ...] | None = None  # the fingerprint of what was last loaded (or refused)

    def start_up(self, show_progress: bool = False) -> bool:
        """Load the model, build a missing or stale index (as `rag build` would), then load it.

        A damaged build is refused rather than rebuilt behind the operator's back: the 503 says what
        to run. Returns whether the service is ready.
        """
        s = self.settings
        try:
            if self.embedder is None:
                self.embedder = embedder_from(s)
            # Worker processes of one server start together: the first builds a missing or stale index, the
            # others wait for it here and then find it up to date.
            with _build_lock(s.index_dir):
                problem = verify_files(s.index_dir) if current_build(s.index_dir) is not None else None
                if problem is None:
                    build_index(load_report(s.corpus_dir), self.embedder, s.index_dir, show_progress=show_progress)
        except Exception as exc:
            problem = _reason(exc)
        if problem is not None:
            self._refuse(problem, fingerprint(s.index_dir))
            return False
        return self._load()

    def check(self) -> bool:
        """One look at the index on disk: load and swap it in (or refuse it) if it changed.
        Returns whether it changed."""
        if self.embedder is None or fingerprint(self.settings.index_dir) == self._seen:
            return False
        self._load()
        return True

    def watch(self) -> None:
        """``check`` every ``index_check_s`` seconds until ``stop``; returns at once when watching is
        off (0) or there is no model to load an index with."""
        interval = self.settings.index_check_s
        if interval <= 0 or self.embedder is None:
            return
        while not self.stopped.wait(interval):
            try:
                self.check()
            except Exception:  # e.g. an unreadable CURRENT: keep watching, the next look may succeed
                log.exception("checking the index failed")

    def stop(self) -> None:
        self.stopped.set()

    def _load(self) -> bool:
        index_dir = self.settings.index_dir
        for _ in range(LOAD_ATTEMPTS):
            before = fingerprint(index_dir)
            try:
                pipeline = Pipeline.load(self.settings, embedder=self.embedder)
            except Exception as exc:
                if fingerprint(index_dir) == before:
                    self._refuse(_reason(exc), before)
                    return False
                continue  # a build landed (or a file moved) while loading: that is no fault, read again
            if fingerprint(index_dir) != before:
                continue  # files changed under the load: what was read may not be what was verified
            previous = self.state.pipeline.summary().get("build_id") if self.state.ready else None
            self.state.swap(pipeline)
            self._seen = before
            if previous != (build_id := pipeline.summary().get("build_id")):
                log.info("index build %s is live (was %s)", build_id, previous)
            return True
        self._seen = None  # still changing: the next look tries again
        return False

    def _refuse(self, reason: str, seen: tuple[Any, ...]) -> None:
        self._seen = seen  # the same broken files are not reloaded every few seconds; a change is
        self.state.fail(reason)
        log.error("index unavailable: %s", reason)


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive lock on the index folder's lock file, held by one process at a time. On a read-only
    index (a shared volume built elsewhere) there is nothing to build and no lock to take."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = (index_dir / BUILD_LOCK).open("a")
    except OSError as err:
        log.debug("no build lock in %s (%s): building unguarded", index_dir, err)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _reason(exc: Exception) -> str:
    if isinstance(exc, RagError):
        return str(exc)
    # Not one of ours: a bug or the machine (memory, disk). Say where to look.
    log.exception("loading the index failed")
    return f"loading the index failed ({type(exc).__name__}: {exc}): see the server log"
