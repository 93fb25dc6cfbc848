"""The on-disk index: FAISS vectors, chunk store, BM25 tokens and a manifest, swapped in atomically.

Layout: ``index/CURRENT`` names the live build folder ``index/build-<id>/``. A build is written to a
new folder and becomes live by atomically replacing CURRENT, so readers never see a half-written
index and a failed build leaves the old one in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import ChunkingConfig, chunk_sections, indexed_text, passage_units, unit_indexed_text
from rag.corpus import Report
from rag.edition import Edition, report_editions
from rag.edition_index import EditionIndex, build_parts, edition_files, load_parts, write_parts
from rag.embed import Embedder, Labelled
from rag.errors import IndexError_
from rag.lexical import LexicalIndex, tokenize, vocabulary
from rag.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 3: the aligned edition (English and Chinese parts); 4: its translator's notes
POINTER = "CURRENT"
FILES = (
    "vectors.faiss",
    "chunks.jsonl",
    "tokens.json",
    "units.json",
    "unit_vectors.npy",
    "terms.json",
    "term_vectors.npy",
)
BUILD_HINT = "run `rag build`"
EDITION_NAMES = {"en": "English", "zh": "Chinese"}  # for the build's progress bars
REBUILD_HINT = "run `rag build --force`"


@dataclass
class Index:
    """A loaded index: everything retrieval needs, read-only once built."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: Any  # faiss.Index
    lexical: LexicalIndex
    # Sentence/row-level pieces of every passage, embedded too: the answerer quotes them and
    # retrieval scores a passage by its best piece as well as by itself.
    unit_chunk: np.ndarray  # unit -> chunk position
    unit_texts: list[str]
    unit_vectors: np.ndarray
    # The report's Japanese content words, embedded, for cross-lingual query expansion.
    terms: list[str]
    term_vectors: np.ndarray
    # The project's English and Chinese translation, aligned with the passages and units above.
    editions: dict[str, EditionIndex] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        keys = ("model_id", "corpus_sha256", "chunks", "sections", "built_at", "build_id", "editions")
        return {k: self.manifest.get(k) for k in keys}


def build_files(manifest: dict[str, Any]) -> tuple[str, ...]:
    """Every data file of a build: the Japanese index's and each edition language's."""
    return FILES + tuple(name for language in manifest.get("editions") or {} for name in edition_files(language))


def identity(
    report: Report, embedder: Embedder, config: ChunkingConfig, editions: dict[str, Edition] | None = None
) -> dict[str, Any]:
    """What an index must have been built from to be valid for this corpus, its editions, model and chunking.
    ``editions`` default to those in the report's corpus folder."""
    editions = report_editions(report, config) if editions is None else editions
    # The passages as embedded and the units quoted from them: a change in how they are cut or labelled makes
    # the index stale even when the report, the model and the size settings are the same.
    chunks = chunk_sections(report.sections, config)
    passages = "\x1e".join(indexed_text(c) + "\x1f" + "\x1f".join(passage_units(c)) for c in chunks)
    return {
        "format_version": FORMAT_VERSION,
        "corpus_sha256": report.sha256,
        "passages_sha256": hashlib.sha256(passages.encode()).hexdigest(),
        "model_id": embedder.model_id,
        "model_weights_sha256": embedder.weights_hash,
        "chunking": config.as_dict(),
        "editions": {language: edition.sha256 for language, edition in sorted(editions.items())},
    }


def mismatch(manifest: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """A one-line reason why an index does not fit what is expected, or None."""
    labels = {
        "format_version": "index format",
        "corpus_sha256": "corpus (the report changed)",
        "passages_sha256": "passage layout (chunking or labelling changed)",
        "model_id": "embedding model",
        "model_weights_sha256": "embedding model weights",
        "chunking": "chunking settings",
        "editions": "edition (a translation in corpus/edition changed)",
    }
    for key, label in labels.items():
        if manifest.get(key) != expected.get(key):
            return f"index was built for another {label}"
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / POINTER
    if not pointer.is_file():
        return None
    return index_dir / pointer.read_text(encoding="utf-8").strip()


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    build = current_build(index_dir)
    if build is None or not (build / "manifest.json").is_file():
        return None
    try:
        manifest: dict[str, Any] = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest


def build_index(
    report: Report,
    embedder: Embedder,
    index_dir: Path,
    config: ChunkingConfig | None = None,
    *,
    force: bool = False,
    show_progress: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Build the index unless a valid one for the same corpus, model and chunking exists.

    Returns the live manifest and whether a build happened.
    """
    import faiss

    config = config or ChunkingConfig()
    # Read (and checked) before anything is written: a malformed translation file stops the build here.
    editions = report_editions(report, config)
    expected = identity(report, embedder, config, editions)
    existing = read_manifest(index_dir)
    if not force and existing and mismatch(existing, expected) is None and verify_files(index_dir) is None:
        return existing, False

    started = time.perf_counter()
    chunks = chunk_sections(report.sections, config)
    texts = [indexed_text(c) for c in chunks]
    units = [(i, unit) for i, chunk in enumerate(chunks) for unit in passage_units(chunk)]
    unit_inputs = [unit_indexed_text(chunks[i], unit) for i, unit in units]
    vectors = embedder.encode_passages(texts + unit_inputs, show_progress and "Japanese passages, sentences and rows")
    vectors, unit_vectors = vectors[: len(texts)], vectors[len(texts) :]
    tokens = [tokenize(t) for t in texts]
    terms = vocabulary(tokens)
    term_vectors = embedder.encode_queries(terms) if terms else np.zeros((0, vectors.shape[1]), np.float32)
    parts = [
        build_parts(e, chunks, units, Labelled(embedder, f"{EDITION_NAMES.get(lang, lang)} edition"), show_progress)
        for lang, e in sorted(editions.items())
    ]

    index_dir.mkdir(parents=True, exist_ok=True)
    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    staging = index_dir / f".staging-{build_id}"
    staging.mkdir()
    try:
        # Inner product equals cosine similarity on the normalized vectors.
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(flat, str(staging / "vectors.faiss"))
        with (staging / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        (staging / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
        (staging / "units.json").write_text(json.dumps(units, ensure_ascii=False), encoding="utf-8")
        np.save(staging / "unit_vectors.npy", unit_vectors.astype(np.float32))
        (staging / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        np.save(staging / "term_vectors.npy", term_vectors.astype(np.float32))
        for part in parts:
            write_parts(staging, part)
        files = build_files(expected)
        manifest = {
            **expected,
            "build_id": build_id,
            "corpus_file": report.metadata.get("file", ""),
            "title": report.metadata.get("title", ""),
            "dim": int(vectors.shape[1]),
            "chunks": len(chunks),
            "units": len(units),
            "terms": len(terms),
            "sections": len(report.sections),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "edition_units": {e.language: {"missing": e.missing} for e in editions.values()},
            "files": {name: _sha256(staging / name) for name in files},
            # Sizes tell a truncated file (an interrupted copy, a full disk) from a garbled one.
            "sizes": {name: (staging / name).stat().st_size for name in files},
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = index_dir / f"build-{build_id}"
        staging.rename(final)
        _write_pointer(index_dir, final.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_old_builds(index_dir, keep=final.name)
    log.info("built index %s: %d chunks in %.1fs", build_id, len(chunks), manifest["build_seconds"])
    return manifest, True


def _write_pointer(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{POINTER}.{uuid.uuid4().hex}"
    tmp.write_text(name + "\n", encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / POINTER)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    # The previous build stays one generation so a server still reading it is not cut off.
    builds = sorted(p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep)
    for old in builds[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def verify_files(index_dir: Path) -> str | None:
    """A reason the live index files are missing or corrupted, or None when they are intact."""
    build = current_build(index_dir)
    if build is None:
        return f"no index at {index_dir}: {BUILD_HINT}"
    if build.parent != index_dir or not build.is_dir():  # an empty or stray name in CURRENT counts as missing
        return f"index build {build.name!r} named in {index_dir / POINTER} is missing: {REBUILD_HINT}"
    if not (build / "manifest.json").is_file():
        return f"index manifest {build / 'manifest.json'} is missing: {REBUILD_HINT}"
    manifest = read_manifest(index_dir)
    if manifest is None:
        return f"index manifest {build / 'manifest.json'} is unreadable: {REBUILD_HINT}"
    digests: dict[str, str] = manifest.get("files") or {}
    sizes: dict[str, int] = manifest.get("sizes") or {}  # absent in manifests written before sizes were kept
    for name in build_files(manifest):
        path = build / name
        if name not in digests:
            return f"index manifest in {build.name} has no checksum for {name}: {REBUILD_HINT}"
        if not path.is_file():
            return f"index file {name} is missing: {REBUILD_HINT}"
        size, expected = path.stat().st_size, sizes.get(name)
        if expected is not None and size < expected:
            return f"index file {name} is truncated ({size} of {expected} bytes): {REBUILD_HINT}"
        if _sha256(path) != digests[name]:
            return f"index file {name} is corrupted (checksum differs): {REBUILD_HINT}"
    return None


def fingerprint(index_dir: Path) -> tuple[Any, ...]:
    """What the live index looks like on disk without reading it: the build named in CURRENT and the
    size and modification time of its files. Cheap enough to compare every few seconds."""
    build = current_build(index_dir)
    if build is None:
        return (None,)
    stats: list[tuple[str, int, int] | None] = []
    manifest = read_manifest(index_dir) or {}
    for name in ("manifest.json", *build_files(manifest)):
        try:
            st = (build / name).stat()
        except OSError:
            stats.append(None)
        else:
            stats.append((name, st.st_size, st.st_mtime_ns))
    return (build.name, *stats)


def load_index(index_dir: Path, expected: dict[str, Any] | None = None) -> Index:
    """Load the live index, refusing one that is damaged or built for another corpus or model."""
    import faiss

    problem = verify_files(index_dir)
    if problem:
        raise IndexError_(problem)
    manifest = read_manifest(index_dir)
    build = current_build(index_dir)
    assert manifest is not None and build is not None  # verify_files checked both
    if expected is not None:
        reason = mismatch(manifest, expected)
        if reason:
            raise IndexError_(f"{reason}: {BUILD_HINT} to rebuild it")
    try:
        vectors = faiss.read_index(str(build / "vectors.faiss"))
        with (build / "chunks.jsonl").open(encoding="utf-8") as fh:
            chunks = [_chunk_from_json(json.loads(line)) for line in fh if line.strip()]
        tokens = json.loads((build / "tokens.json").read_text(encoding="utf-8"))
        units = json.loads((build / "units.json").read_text(encoding="utf-8"))
        unit_vectors = np.load(build / "unit_vectors.npy", allow_pickle=False)
        terms = json.loads((build / "terms.json").read_text(encoding="utf-8"))
        term_vectors = np.load(build / "term_vectors.npy", allow_pickle=False)
        editions = {
            language: load_parts(build, language, len(chunks), len(units))
            for language in manifest.get("editions") or {}
        }
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise IndexError_(f"index in {build} cannot be read ({exc}): {REBUILD_HINT}") from exc
    if not (vectors.ntotal == len(chunks) == len(tokens) == manifest.get("chunks")) or len(units) != len(unit_vectors):
        raise IndexError_(f"index in {build} is inconsistent (counts differ): {REBUILD_HINT}")
    return Index(
        path=build,
        manifest=manifest,
        chunks=chunks,
        vectors=vectors,
        lexical=LexicalIndex(tokens),
        unit_chunk=np.array([i for i, _ in units], dtype=np.int64),
        unit_texts=[text for _, text in units],
        unit_vectors=unit_vectors,
        terms=terms,
        term_vectors=term_vectors,
        editions=editions,
    )


def _chunk_from_json(data: dict[str, Any]) -> Chunk:
    data["heading_path"] = tuple(data["heading_path"])
    return Chunk(**data)
