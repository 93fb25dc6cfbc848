"""Index hot swap: `rag build` while the server answers swaps the new index in without a restart; every
request succeeds and answers wholly from the old build or wholly from the new one."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_process import rag, rag_env, serving

from rag.config import Settings
from rag.corpus import load_report
from rag.embed import HashEmbedder
from rag.errors import IndexError_
from rag.index import build_index
from rag.pipeline import Pipeline
from rag.serialize import hit_json
from rag.serve.state import AppState
from rag.serve.watch import IndexWatcher

QUERIES = ("ロボット政策の2027年の目標は？", "AI関連企業の登録件数", "robot policy", "政策の特徴")
ENOUGH = 20  # responses to see before the rebuild and after the swap
DEADLINE_S = 60


def _settings(corpus: Path, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data", embed_model="hash", **extra
    )


def _revise(corpus: Path) -> None:
    """A second edition of the report: a mark at the end of every sentence and bracketed line, so every
    passage (and its id, a hash of its text) differs from the first edition's."""
    path = corpus / "report.txt"
    text = re.sub(r"([。)])$", r"\1（改訂）", path.read_text(encoding="utf-8"), flags=re.M)
    path.write_text(text, encoding="utf-8")


def _expected(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """What the live build on disk answers to each query, computed here with the same code and embedder."""
    pipeline = Pipeline.load(settings, embedder=HashEmbedder())
    return {q: [hit_json(h) for h in pipeline.search(q, k=3).hits] for q in QUERIES}


@pytest.fixture
def watched(sample_corpus: Path, tmp_path: Path) -> tuple[IndexWatcher, Settings]:
    settings = _settings(sample_corpus, tmp_path, index_check_s=0.05)
    watcher = IndexWatcher(AppState(reason="loading"), settings, HashEmbedder())
    assert watcher.start_up() is True
    return watcher, settings


def test_check_swaps_in_a_rebuild_with_the_same_embedder(watched: tuple[IndexWatcher, Settings]) -> None:
    watcher, settings = watched
    state, before = watcher.state, watcher.state.pipeline
    assert watcher.check() is False and state.pipeline is before  # nothing changed: nothing reloaded

    manifest, _ = build_index(load_report(settings.corpus_dir), before.embedder, settings.index_dir, force=True)
    assert watcher.check() is True
    after = state.pipeline
    assert after is not before and after.summary()["build_id"] == manifest["build_id"] != before.summary()["build_id"]
    assert after.embedder is before.embedder  # the model is not loaded again
    assert watcher.check() is False and state.pipeline is after


def test_watch_runs_until_stopped(watched: tuple[IndexWatcher, Settings]) -> None:
    watcher, settings = watched
    thread = threading.Thread(target=watcher.watch, daemon=True)
    thread.start()
    try:
        manifest, _ = build_index(load_report(settings.corpus_dir), HashEmbedder(), settings.index_dir, force=True)
        deadline = time.monotonic() + DEADLINE_S
        while watcher.state.pipeline.summary()["build_id"] != manifest["build_id"]:
            assert time.monotonic() < deadline, "the watcher did not swap the rebuild in"
            time.sleep(0.02)
    finally:
        watcher.stop()
        thread.join(timeout=DEADLINE_S)
    assert not thread.is_alive()


def test_a_build_finishing_during_a_load_is_not_taken_for_a_fault(
    watched: tuple[IndexWatcher, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher, settings = watched
    before = watcher.state.pipeline
    report = load_report(settings.corpus_dir)
    build_index(report, HashEmbedder(), settings.index_dir, force=True)  # a change for the watcher to load
    load = Pipeline.load.__func__  # type: ignore[attr-defined]
    built: list[str] = []

    def racing_load(cls: type[Pipeline], *args: Any, **kwargs: Any) -> Pipeline:
        if not built:  # the first load meets files replaced under it by yet another build
            built.append(build_index(report, HashEmbedder(), settings.index_dir, force=True)[0]["build_id"])
            raise IndexError_("index in build-x cannot be read: run `rag build --force`")
        return load(cls, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "load", classmethod(racing_load))
    assert watcher.check() is True
    # Not a 503: the load was tried again and took the build that landed meanwhile.
    assert watcher.state.ready and watcher.state.pipeline is not before
    assert watcher.state.pipeline.summary()["build_id"] == built[0]
    assert watcher.check() is False


def test_rag_build_while_hammered_swaps_atomically(sample_corpus: Path, tmp_path: Path) -> None:
    env = rag_env(sample_corpus, tmp_path)
    settings = _settings(sample_corpus, tmp_path)
    with serving(env, tmp_path / "server.log") as server:
        first = server.health_until(lambda r: r.status_code == 200).json()["index"]["build_id"]
        old = _expected(settings)
        results: list[tuple[str, int, Any, bool]] = []  # query, status, hits, sent after /healthz showed the swap
        swapped, stop = threading.Event(), threading.Event()

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                i = worker
                while not stop.is_set():
                    query, after = QUERIES[i % len(QUERIES)], swapped.is_set()
                    try:
                        response = client.post("/api/search", json={"query": query, "k": 3})
                        results.append((query, response.status_code, response.json().get("hits"), after))
                    except httpx.HTTPError as exc:
                        results.append((query, 0, repr(exc), after))
                    i += 1

        def wait_for(count: int) -> None:
            deadline = time.monotonic() + DEADLINE_S
            while len(results) < count:
                assert time.monotonic() < deadline, f"only {len(results)} responses"
                time.sleep(0.01)

        threads = [threading.Thread(target=hammer, args=(w,), daemon=True) for w in range(4)]
        for t in threads:
            t.start()
        try:
            wait_for(ENOUGH)
            _revise(sample_corpus)
            built = rag(env, "build", "--json")  # the report changed, so this builds (no --force needed)
            assert built.returncode == 0, built.stderr
            second = json.loads(built.stdout)["manifest"]["build_id"]
            server.serving_build(second)
            swapped.set()
            wait_for(len(results) + ENOUGH)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=DEADLINE_S)
        new = _expected(settings)

    assert first != second
    ids = {
        name: {h["chunk_id"] for hits in table.values() for h in hits} for name, table in (("old", old), ("new", new))
    }
    assert not ids["old"] & ids["new"], "the two editions must share no passage, or a mix could go unseen"
    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:3]
    # Each response is exactly one build's answer: a mix of the two would match neither.
    seen = [("old" if hits == old[q] else "new" if hits == new[q] else "mixed", after) for q, _, hits, after in results]
    assert [s for s, _ in seen].count("mixed") == 0
    assert {s for s, _ in seen} == {"old", "new"}
    # Once /healthz shows the new build, no request is answered from the old one.
    assert {s for s, after in seen if after} == {"new"}
