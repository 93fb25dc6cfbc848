from pathlib import Path

import pytest

from rag.chunking import ChunkingConfig
from rag.corpus import load_report
from rag.embed import HashEmbedder
from rag.errors import IndexError_
from rag.index import build_index, current_build, identity, load_index, read_manifest


def test_build_is_skipped_when_nothing_changed(sample_corpus: Path, tmp_path: Path) -> None:
    report, embedder = load_report(sample_corpus), HashEmbedder()
    first, built = build_index(report, embedder, tmp_path / "index")
    assert built and first["chunks"] > 0 and first["corpus_sha256"] == report.sha256
    again, built_again = build_index(report, embedder, tmp_path / "index")
    assert not built_again and again["build_id"] == first["build_id"]
    forced, built_forced = build_index(report, embedder, tmp_path / "index", force=True)
    assert built_forced and forced["build_id"] != first["build_id"]


def test_index_from_another_corpus_or_model_is_refused(sample_corpus: Path, tmp_path: Path) -> None:
    report, embedder = load_report(sample_corpus), HashEmbedder()
    build_index(report, embedder, tmp_path / "index")
    other_model = identity(report, HashEmbedder(dim=64), ChunkingConfig())
    other_model["model_id"] = "another-model"
    with pytest.raises(IndexError_, match=r"another embedding model.*rag build"):
        load_index(tmp_path / "index", other_model)
    (sample_corpus / "report.txt").write_text(
        (sample_corpus / "report.txt").read_text(encoding="utf-8") + "\n追記。\n", encoding="utf-8"
    )
    changed = identity(load_report(sample_corpus), embedder, ChunkingConfig())
    with pytest.raises(IndexError_, match="corpus"):
        load_index(tmp_path / "index", changed)


@pytest.mark.parametrize("damage", ["truncate", "delete", "garble"])
def test_damaged_index_is_refused_with_what_to_run(sample_corpus: Path, tmp_path: Path, damage: str) -> None:
    build_index(load_report(sample_corpus), HashEmbedder(), tmp_path / "index")
    build = current_build(tmp_path / "index")
    assert build is not None
    target = build / "vectors.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:10])
    elif damage == "delete":
        target.unlink()
    else:
        (build / "chunks.jsonl").write_text("not json\n", encoding="utf-8")
    with pytest.raises(IndexError_, match="rag build --force"):
        load_index(tmp_path / "index")


def test_missing_index_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match=r"no index.*rag build"):
        load_index(tmp_path / "nothing")


def test_failed_build_leaves_the_live_index(sample_corpus: Path, tmp_path: Path) -> None:
    report = load_report(sample_corpus)
    manifest, _ = build_index(report, HashEmbedder(), tmp_path / "index")

    class Broken(HashEmbedder):
        def encode_passages(self, texts: list[str], show_progress: bool | str = False):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        build_index(report, Broken(), tmp_path / "index", force=True)
    live = read_manifest(tmp_path / "index")
    assert live is not None and live["build_id"] == manifest["build_id"]
    assert load_index(tmp_path / "index").manifest["build_id"] == manifest["build_id"]
    assert not list((tmp_path / "index").glob(".staging-*"))
