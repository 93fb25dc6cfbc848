"""Thumbs up/down ratings of answers, kept in a SQLite file so bad answers can become test questions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.errors import InputError, RagError
from rag.serialize import citation_json
from rag.types import Citation

VOTES = ("up", "down")
MAX_TEXT_CHARS = 20_000  # a rating is a question and one answer, not a document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    citations  TEXT NOT NULL,
    language   TEXT NOT NULL,
    vote       TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment    TEXT
)
"""


class FeedbackStore:
    """Append-only ratings in one SQLite file (WAL mode).

    Every call opens its own connection, so one store can be shared by the server's threads;
    WAL lets readers (``rag feedback export``) run while the server writes.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                # journal_mode is stored in the file, so setting it once here covers later connections.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            # A server-side problem, not a bad request: the plain RagError (HTTP 500).
            raise RagError(f"cannot open feedback database {self.path} ({exc}): check RAG_DATA_DIR") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # timeout: concurrent writers wait for the write lock instead of failing with "database is locked".
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            # FULL: a commit is on disk (WAL fsynced) before add() returns and the API answers 201,
            # so an acknowledged rating survives a power cut, not just a killed process.
            conn.execute("PRAGMA synchronous=FULL")
            yield conn

    def add(
        self,
        question: str,
        answer: str,
        citations: Sequence[Any],
        language: str,
        vote: str,
        comment: str | None = None,
    ) -> int:
        """Store one rating in its own transaction and return its id.

        ``citations`` are ``Citation`` objects or plain dicts; they are stored as JSON.
        """
        if vote not in VOTES:
            raise InputError(f"vote must be 'up' or 'down', not {vote!r}")
        for name, value in (("question", question), ("answer", answer)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"feedback needs a non-empty {name}")
            if len(value) > MAX_TEXT_CHARS:
                raise InputError(f"feedback {name} is longer than {MAX_TEXT_CHARS} characters")
        try:
            cites = json.dumps([_plain(c) for c in citations], ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"citations must be JSON-serialisable ({exc})") from exc
        row = (_now(), question, answer, cites, language, vote, comment)
        try:
            with self._connect() as conn:
                # IMMEDIATE takes the write lock up front; the busy timeout queues concurrent writers.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    (rowid,) = conn.execute(
                        "INSERT INTO feedback (created_at, question, answer, citations, language, vote, comment)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        row,
                    ).fetchone()
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise RagError(f"cannot save feedback to {self.path} ({exc})") from exc
        return int(rowid)

    def export(self) -> list[dict[str, Any]]:
        """All ratings, oldest first, with citations decoded back to lists."""
        try:
            with self._connect() as conn:
                rows = conn.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise RagError(f"cannot read feedback from {self.path} ({exc})") from exc
        return [{**dict(row), "citations": json.loads(row["citations"])} for row in rows]


def _plain(citation: Any) -> Any:
    # The same shape as the API's citations, so exported ratings line up with /ask responses.
    return citation_json(citation) if isinstance(citation, Citation) else citation


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=8)
def open_store(path: Path) -> FeedbackStore:
    """The store at ``path``, set up once per process and shared by the chat UI and the API."""
    return FeedbackStore(path)
