"""Feedback store: a real SQLite file in WAL mode, safe across threads, exported by the CLI."""

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.config import get_settings
from rag.errors import InputError, RagError
from rag.feedback import FeedbackStore
from rag.types import Citation

CITE = Citation(1, "abc123", "2-1", "規模の拡大", "中国のAIコア産業の規模は2025年に約1.2兆元に達した。")


def test_add_export_round_trip(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "nested" / "feedback.sqlite3")  # parent folders are created
    first = store.add("規模は？", "「約1.2兆元」 [1]", [CITE], "ja", "up")
    second = store.add("What about robots?", "The report does not cover this.", [], "en", "down", comment="wrong")
    assert second == first + 1
    rows = store.export()
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0]["question"] == "規模は？" and rows[0]["answer"] == "「約1.2兆元」 [1]"
    assert rows[0]["vote"] == "up" and rows[0]["language"] == "ja" and rows[0]["comment"] is None
    # Citations come back as the API's JSON shape, not as a string.
    assert rows[0]["citations"] == [
        {
            "n": 1,
            "chunk_id": "abc123",
            "section": "2-1",
            "title": "規模の拡大",
            "quote": CITE.quote,
            "quote_original": CITE.quote,
            "title_original": "規模の拡大",
        }
    ]
    assert rows[1]["citations"] == [] and rows[1]["comment"] == "wrong"
    assert rows[0]["created_at"].endswith("+00:00")  # an ISO timestamp in UTC


def test_reopening_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path).add("q", "a", [{"n": 1}], "zh", "down")
    assert [r["vote"] for r in FeedbackStore(path).export()] == ["down"]


def test_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writes_from_eight_threads(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    per_thread = 25
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.add(f"q{worker}-{i}", "a", [CITE], "ja", "up" if i % 2 else "down")
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = store.export()
    assert len(rows) == 8 * per_thread
    assert {r["question"] for r in rows} == {f"q{w}-{i}" for w in range(8) for i in range(per_thread)}
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("vote", ["", "like", "UP", "👍", None])
def test_invalid_vote_is_rejected(tmp_path: Path, vote: object) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    with pytest.raises(InputError, match="vote must be 'up' or 'down'"):
        store.add("q", "a", [], "ja", vote)  # type: ignore[arg-type]
    assert store.export() == []


def test_empty_question_and_unserialisable_citations_are_rejected(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    with pytest.raises(InputError, match="question"):
        store.add("  ", "a", [], "ja", "up")
    with pytest.raises(InputError, match="JSON"):
        store.add("q", "a", [object()], "ja", "up")
    assert store.export() == []


def test_unusable_location_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RagError, match="RAG_DATA_DIR"):
        FeedbackStore(blocker / "feedback.sqlite3")


def test_cli_exports_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        store = FeedbackStore(tmp_path / "data" / "feedback.sqlite3")
        store.add("中国人形机器人的发展目标是什么？", "“2027年…” [1]", [CITE], "zh", "up")
        store.add("Is there a chapter on Japan?", "The report does not cover this question.", [], "en", "down")
        runner = CliRunner()

        printed = runner.invoke(app, ["feedback", "export"])
        assert printed.exit_code == 0, printed.output
        lines = [json.loads(line) for line in printed.stdout.splitlines()]
        assert [(r["language"], r["vote"]) for r in lines] == [("zh", "up"), ("en", "down")]
        assert lines[0]["question"] == "中国人形机器人的发展目标是什么？"  # UTF-8, not \\u escapes
        assert "中国人形机器人" in printed.stdout

        out = tmp_path / "ratings.jsonl"
        written = runner.invoke(app, ["feedback", "export", "--out", str(out)])
        assert written.exit_code == 0, written.output
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == lines
        assert "wrote 2 ratings" in written.stderr
    finally:
        get_settings.cache_clear()


def _rate(path: str, worker: int, n: int) -> None:
    store = FeedbackStore(Path(path))  # each process opens the file itself, as each server worker does
    for i in range(n):
        store.add(f"質問 {worker}-{i}", "答え", [], "ja", "up")


def test_several_processes_write_one_file_safely(tmp_path: Path) -> None:
    """`rag serve --workers N`: N processes open and write the same new file at once (WAL, busy timeout)."""
    import multiprocessing

    path = tmp_path / "feedback.sqlite3"
    context = multiprocessing.get_context("spawn")  # as uvicorn starts its workers
    processes = [context.Process(target=_rate, args=(str(path), w, 40)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    rows = FeedbackStore(path).export()
    assert sorted(r["question"] for r in rows) == sorted(f"質問 {w}-{i}" for w in range(4) for i in range(40))
    assert len({r["id"] for r in rows}) == 160
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
