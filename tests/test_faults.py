"""Index faults: broken files give a 503 that says what to run, at start-up and while serving, never an
answer from a damaged index; the next good build brings the service back without a restart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_process import rag, rag_env, serving

from rag.chunking import ChunkingConfig
from rag.config import Settings
from rag.corpus import load_report
from rag.embed import HashEmbedder
from rag.errors import IndexError_
from rag.index import POINTER, build_index, current_build, identity, load_index
from rag.serve.app import create_app
from rag.serve.state import AppState
from rag.serve.watch import IndexWatcher

Q = "ロボット政策の2027年の目標は？"
FORCE = re.escape("run `rag build --force`")
GONE = "build-20990101T000000-gone00"


def _live(index_dir: Path) -> Path:
    build = current_build(index_dir)
    assert build is not None
    return build


def _truncate(index_dir: Path) -> None:
    path = _live(index_dir) / "vectors.faiss"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(index_dir: Path) -> None:
    path = _live(index_dir) / "chunks.jsonl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\x00garble\x00"  # same size: only the checksum can tell
    path.write_bytes(bytes(data))


def _delete(index_dir: Path) -> None:
    (_live(index_dir) / "tokens.json").unlink()


def _other_model(index_dir: Path) -> None:
    path = _live(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["model_weights_sha256"] = "0" * 64
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _missing_build(index_dir: Path) -> None:
    (index_dir / POINTER).write_text(GONE + "\n", encoding="utf-8")


def _garble_manifest(index_dir: Path) -> None:
    (_live(index_dir) / "manifest.json").write_text('{"files": ', encoding="utf-8")


# What breaking the index does, and the message that must come back (a regex on the whole reason).
FAULTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated vectors": (_truncate, rf"index file vectors\.faiss is truncated \(\d+ of \d+ bytes\): {FORCE}"),
    "garbled chunk store": (_garble, rf"index file chunks\.jsonl is corrupted \(checksum differs\): {FORCE}"),
    "deleted file": (_delete, rf"index file tokens\.json is missing: {FORCE}"),
    "manifest for another model": (
        _other_model,
        r"index was built for another embedding model weights: run `rag build` to rebuild it",
    ),
    "missing build": (_missing_build, rf"index build '{GONE}' named in .*CURRENT is missing: {FORCE}"),
    "garbled manifest": (_garble_manifest, rf"index manifest .*manifest\.json is unreadable: {FORCE}"),
}
# A manifest for another model is an out-of-date index, not a damaged one: start-up rebuilds it as before.
DAMAGE = [name for name in FAULTS if name != "manifest for another model"]


def _settings(sample_corpus: Path, tmp_path: Path) -> Settings:
    return Settings(
        corpus_dir=sample_corpus, index_dir=tmp_path / "index", data_dir=tmp_path / "data", embed_model="hash"
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_load_refuses_a_broken_index_with_what_to_run(sample_corpus: Path, tmp_path: Path, fault: str) -> None:
    report, embedder = load_report(sample_corpus), HashEmbedder()
    build_index(report, embedder, tmp_path / "index")
    breaks, message = FAULTS[fault]
    breaks(tmp_path / "index")
    with pytest.raises(IndexError_) as refused:
        load_index(tmp_path / "index", identity(report, embedder, ChunkingConfig()))
    assert re.fullmatch(message, str(refused.value))


@pytest.mark.parametrize("fault", DAMAGE)
def test_start_up_refuses_a_damaged_index_then_takes_the_rebuilt_one(
    sample_corpus: Path, tmp_path: Path, fault: str
) -> None:
    settings = _settings(sample_corpus, tmp_path)
    report, embedder = load_report(sample_corpus), HashEmbedder()
    build_index(report, embedder, settings.index_dir)
    breaks, message = FAULTS[fault]
    breaks(settings.index_dir)
    pointer = (settings.index_dir / POINTER).read_text(encoding="utf-8")
    state = AppState(reason="loading")
    watcher = IndexWatcher(state, settings, embedder)

    assert watcher.start_up() is False
    client = TestClient(create_app(state, with_ui=False))
    health = client.get("/healthz")
    assert health.status_code == 503 and re.fullmatch(message, health.json()["reason"])
    search = client.post("/api/search", json={"query": Q})
    assert search.status_code == 503 and search.json()["error"]["type"] == "index_error"
    assert re.fullmatch(f"unavailable: {message}", search.json()["error"]["message"])
    # Refused, not repaired behind the operator's back: the live pointer is as it was.
    assert (settings.index_dir / POINTER).read_text(encoding="utf-8") == pointer
    assert watcher.check() is False  # the same broken files are not reloaded at every look

    manifest, _ = build_index(report, embedder, settings.index_dir, force=True)  # what `rag build --force` does
    assert watcher.check() is True
    assert client.get("/healthz").json()["index"]["build_id"] == manifest["build_id"]
    assert client.post("/api/search", json={"query": Q}).json()["hits"][0]["section"] == "1-1"


def test_start_up_rebuilds_an_index_for_another_model(sample_corpus: Path, tmp_path: Path) -> None:
    settings = _settings(sample_corpus, tmp_path)
    first, _ = build_index(load_report(sample_corpus), HashEmbedder(), settings.index_dir)
    _other_model(settings.index_dir)
    state = AppState(reason="loading")
    assert IndexWatcher(state, settings, HashEmbedder()).start_up() is True
    live = state.pipeline.summary()
    assert live["build_id"] != first["build_id"] and live["model_id"] == "hash-ngram"


def test_served_start_up_with_a_truncated_index_then_rag_build(sample_corpus: Path, tmp_path: Path) -> None:
    env = rag_env(sample_corpus, tmp_path)
    assert rag(env, "build").returncode == 0
    _truncate(tmp_path / "index")
    with serving(env, tmp_path / "server.log") as server:
        health = server.health_until(lambda r: r.json().get("reason") != "loading the model and index")
        reason = health.json()["reason"]
        assert health.status_code == 503 and re.fullmatch(FAULTS["truncated vectors"][1], reason)
        for path, body in (("/api/search", {"query": Q}), ("/api/ask", {"question": Q})):
            refused = httpx.post(f"{server.base}{path}", json=body, timeout=10)
            assert refused.status_code == 503 and refused.json()["error"]["message"] == f"unavailable: {reason}"
        chat = httpx.post(
            f"{server.base}/v1/chat/completions", json={"messages": [{"role": "user", "content": Q}]}, timeout=10
        )
        assert chat.status_code == 503 and chat.json()["error"]["message"] == f"unavailable: {reason}"

        rebuilt = rag(env, "build", "--force", "--json")  # what the 503 says to run
        assert rebuilt.returncode == 0, rebuilt.stderr
        build_id = json.loads(rebuilt.stdout)["manifest"]["build_id"]
        server.serving_build(build_id)
        search = httpx.post(f"{server.base}/api/search", json={"query": Q}, timeout=10)
        assert search.status_code == 200 and search.json()["hits"][0]["section"] == "1-1"


def test_served_index_broken_while_running_goes_503_and_recovers(sample_corpus: Path, tmp_path: Path) -> None:
    env = rag_env(sample_corpus, tmp_path)
    index_dir = tmp_path / "index"
    report, embedder = load_report(sample_corpus), HashEmbedder()
    with serving(env, tmp_path / "server.log") as server:
        build_id = server.health_until(lambda r: r.status_code == 200).json()["index"]["build_id"]
        for fault, (breaks, message) in FAULTS.items():
            breaks(index_dir)
            health = server.health_until(lambda r: r.status_code == 503)
            assert re.fullmatch(message, health.json()["reason"]), fault
            search = httpx.post(f"{server.base}/api/search", json={"query": Q}, timeout=10)
            assert search.status_code == 503 and re.fullmatch(
                f"unavailable: {message}", search.json()["error"]["message"]
            )

            manifest, _ = build_index(report, embedder, index_dir, force=True)
            assert manifest["build_id"] != build_id
            build_id = manifest["build_id"]
            server.serving_build(build_id)
            search = httpx.post(f"{server.base}/api/search", json={"query": Q}, timeout=10)
            assert search.status_code == 200 and search.json()["hits"][0]["section"] == "1-1", fault
