"""POST /api/feedback: its contract, and that every acknowledged rating survives many writers and a
server killed with SIGKILL mid-way, in a SQLite file that still passes its integrity check."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_process import rag_env, serving

from rag.config import FEEDBACK_FILE
from rag.serve.app import create_app
from rag.serve.state import AppState

CITATION = {"n": 1, "chunk_id": "abc123", "section": "1-1", "title": "ロボット政策の展開", "quote": "2027年までに…"}
RATING = {
    "question": "ロボット政策の2027年の目標は？",
    "answer": "「2027年までに世界の先進レベルに達する。」[1]",
    "citations": [CITATION],
    "vote": "up",
}
WRITERS = 8
ACKED_BEFORE_KILL = 120  # the kill comes once this many ratings were acknowledged, with more in flight
DEADLINE_S = 60


def _rows(db: Path) -> dict[int, dict[str, Any]]:
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return {row["id"]: dict(row) for row in conn.execute("SELECT * FROM feedback")}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # The server's state: feedback has its own file, so it is taken while the index is still loading.
    state = AppState(reason="loading", feedback_path=tmp_path / "data" / FEEDBACK_FILE)
    return TestClient(create_app(state, with_ui=False))


def test_feedback_is_stored_and_acknowledged_with_its_id(client: TestClient, tmp_path: Path) -> None:
    first = client.post("/api/feedback", json=RATING)
    second = client.post(
        "/api/feedback", json={**RATING, "question": "What is the 2027 goal?", "vote": "down", "comment": "vague"}
    )
    assert first.status_code == 201 and second.status_code == 201
    assert second.json() == {"id": first.json()["id"] + 1}
    rows = _rows(tmp_path / "data" / FEEDBACK_FILE)
    stored = rows[first.json()["id"]]
    assert stored["question"] == RATING["question"] and stored["answer"] == RATING["answer"]
    assert json.loads(stored["citations"]) == [CITATION] and stored["vote"] == "up" and stored["language"] == "ja"
    again = rows[second.json()["id"]]
    assert again["language"] == "en" and again["vote"] == "down" and again["comment"] == "vague"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"vote": "like"}, 422, "vote: Input should be 'up' or 'down'"),
        ({"vote": None}, 422, "vote: Input should be 'up' or 'down'"),
        ({"question": ""}, 422, "question: String should have at least 1 character"),
        ({"question": "   "}, 422, "feedback needs a non-empty question"),
        ({"answer": 5}, 422, "answer: Input should be a valid string"),
        ({"citations": None}, 422, "citations: Input should be a valid list"),
        ({"citations": [{**CITATION, "n": "1"}]}, 422, "citations.0.n: Input should be a valid integer"),
        (
            {"citations": [{**CITATION, "page": 3}]},
            422,
            "citations.0.page: unknown field: remove it (see the schema at /docs)",
        ),
        ({"stars": 5}, 422, "stars: unknown field: remove it (see the schema at /docs)"),
    ],
)
def test_bad_feedback_gets_one_clear_line(
    client: TestClient, tmp_path: Path, change: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/api/feedback", json={**RATING, **change})
    assert response.status_code == status
    assert response.json() == {
        "error": {"message": message, "type": response.json()["error"]["type"], "status": status}
    }
    assert not (tmp_path / "data" / FEEDBACK_FILE).exists() or _rows(tmp_path / "data" / FEEDBACK_FILE) == {}


def test_missing_fields_and_broken_json(client: TestClient) -> None:
    missing = client.post("/api/feedback", json={"question": "q", "answer": "a", "vote": "up"})
    assert missing.status_code == 422 and missing.json()["error"]["message"] == "citations: Field required"
    broken = client.post("/api/feedback", content=b'{"question": ', headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "bad_json"


def test_without_a_store_of_its_own_feedback_waits_for_the_index() -> None:
    # An AppState without a feedback path (as in tests): the store is in the live pipeline's data folder.
    client = TestClient(create_app(AppState(reason="loading"), with_ui=False))
    response = client.post("/api/feedback", json=RATING)
    assert response.status_code == 503 and response.json()["error"]["message"].startswith("not ready: loading")


def test_acknowledged_feedback_survives_sigkill(sample_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "data" / FEEDBACK_FILE
    acked: dict[int, str] = {}  # id -> question of every 201
    refused: list[str] = []
    lock = threading.Lock()
    with serving(rag_env(sample_corpus, tmp_path), tmp_path / "server.log") as server:

        def write(worker: int) -> None:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                for i in range(10_000):
                    question = f"w{worker}-{i}: ロボット政策の目標は？"
                    try:
                        response = client.post("/api/feedback", json={**RATING, "question": question})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code != 201:
                        refused.append(response.text)
                        return
                    with lock:
                        acked[response.json()["id"]] = question

        threads = [threading.Thread(target=write, args=(w,), daemon=True) for w in range(WRITERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + DEADLINE_S
        while len(acked) < ACKED_BEFORE_KILL:
            assert time.monotonic() < deadline and all(t.is_alive() for t in threads), f"{len(acked)} acknowledged"
            time.sleep(0.005)
        server.proc.send_signal(signal.SIGKILL)
        assert server.proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
        for t in threads:
            t.join(timeout=DEADLINE_S)
        assert not any(t.is_alive() for t in threads)
    assert refused == []

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    rows = _rows(db)
    assert len(acked) >= ACKED_BEFORE_KILL
    missing = {i: q for i, q in acked.items() if i not in rows or rows[i]["question"] != acked[i]}
    assert not missing, f"{len(missing)} acknowledged ratings lost"
    # Rows beyond the acknowledged ones were committed but their 201 never arrived; each is whole.
    assert all(r["answer"] == RATING["answer"] and json.loads(r["citations"]) == [CITATION] for r in rows.values())
    assert len({r["question"] for r in rows.values()}) == len(rows)
