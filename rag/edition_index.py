"""The index in each edition language: every passage and every sentence or row as English and Chinese readers
read them, embedded and BM25-indexed in that language, aligned position for position with the Japanese."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import section_aliases
from rag.edition import Edition
from rag.embed import Embedder
from rag.lexical import TOKENIZERS, LexicalIndex
from rag.types import Chunk


def edition_files(language: str) -> tuple[str, ...]:
    """The files one language adds to an index build."""
    return (f"edition-{language}.json", f"vectors-{language}.faiss", f"unit-vectors-{language}.npy")


@dataclass
class EditionIndex:
    """One language's side of the index. ``units[u]`` translates the index's ``unit_texts[u]`` (None where
    the edition lacks it: the Japanese stands in); ``passages[i]`` and ``contexts[i]`` translate chunk i."""

    language: str
    sha256: str
    missing: int
    passages: list[str]
    contexts: list[str]
    headings: list[tuple[str, ...]]
    titles: dict[str, str]
    units: list[str | None]
    notes: list[str | None]  # the translator's note on unit u, where the original's wording needs one
    vectors: Any  # faiss.Index over the passages, inner product = cosine on the normalised vectors
    unit_vectors: np.ndarray
    lexical: LexicalIndex

    def unit(self, u: int, japanese: str) -> str:
        return self.units[u] or japanese

    def note(self, u: int) -> str | None:
        return self.notes[u] if self.units[u] is not None else None


def passage_input(edition: Edition, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a passage in the edition's language (chunking.indexed_text's
    counterpart): where it sits, how people name its chapter summary, then its text."""
    return f"{edition.context(chunk)}{section_aliases(chunk.section_id, chunk.section_title)}\n{edition.passage(chunk)}"


def unit_input(edition: Edition, chunk: Chunk, translated: str) -> str:
    """A translated sentence or row with what it needs to be understood alone (chunking.unit_indexed_text's
    counterpart)."""
    lines = [edition.context(chunk)]
    if chunk.kind == "table":
        head = (edition.unit(chunk.table_caption), edition.unit(chunk.table_header) if chunk.table_header else "")
        lines += [line for line in head if line and line != translated]
    return "\n".join([*lines, translated])


def build_parts(
    edition: Edition,
    chunks: Sequence[Chunk],
    units: Sequence[tuple[int, str]],
    embedder: Embedder,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Everything one language adds to the index, ready to write."""
    texts = [passage_input(edition, c) for c in chunks]
    translated = [edition.quote(chunks[i], text) for i, text in units]
    inputs = [unit_input(edition, chunks[i], t or text) for (i, text), t in zip(units, translated, strict=True)]
    vectors = embedder.encode_passages(texts + inputs, show_progress=show_progress)
    tokenize = TOKENIZERS[edition.language]
    return {
        "meta": {
            "language": edition.language,
            "sha256": edition.sha256,
            "missing": edition.missing,
            "passages": [edition.passage(c) for c in chunks],
            "contexts": [edition.context(c) for c in chunks],
            "headings": [list(edition.heading_path(c)) for c in chunks],
            "titles": {c.section_id: edition.unit(c.section_title) for c in chunks},
            "units": translated,
            "notes": [edition.note(chunks[i], text) for i, text in units],
            "tokens": [tokenize(t) for t in texts],
        },
        "vectors": vectors[: len(texts)],
        "unit_vectors": vectors[len(texts) :],
    }


def write_parts(folder: Path, parts: dict[str, Any]) -> None:
    import faiss

    meta_name, vectors_name, units_name = edition_files(parts["meta"]["language"])
    (folder / meta_name).write_text(json.dumps(parts["meta"], ensure_ascii=False), encoding="utf-8")
    flat = faiss.IndexFlatIP(parts["vectors"].shape[1])
    flat.add(np.ascontiguousarray(parts["vectors"], dtype=np.float32))
    faiss.write_index(flat, str(folder / vectors_name))
    np.save(folder / units_name, np.asarray(parts["unit_vectors"], dtype=np.float32))


def load_parts(folder: Path, language: str, n_chunks: int, n_units: int) -> EditionIndex:
    """Read one language's files; ValueError when they do not line up with the Japanese index."""
    import faiss

    meta_name, vectors_name, units_name = edition_files(language)
    meta = json.loads((folder / meta_name).read_text(encoding="utf-8"))
    vectors = faiss.read_index(str(folder / vectors_name))
    unit_vectors = np.load(folder / units_name, allow_pickle=False)
    if not (len(meta["passages"]) == vectors.ntotal == n_chunks and len(meta["units"]) == len(unit_vectors) == n_units):
        raise ValueError(f"the {language} edition does not line up with the passages")
    return EditionIndex(
        language=language,
        sha256=meta["sha256"],
        missing=meta["missing"],
        passages=meta["passages"],
        contexts=meta["contexts"],
        headings=[tuple(h) for h in meta["headings"]],
        titles=meta["titles"],
        units=meta["units"],
        notes=meta["notes"],
        vectors=vectors,
        unit_vectors=unit_vectors,
        lexical=LexicalIndex(meta["tokens"], TOKENIZERS[language]),
    )
