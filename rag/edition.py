"""The aligned edition: the project's English and Chinese translation of the report, unit by unit.

A unit is a piece the index quotes or shows: a sentence or line of prose, a table row (or a piece of a long
row), a table caption or header row, a figure caption, a source line, a sub-heading, a section title. Each
translation is keyed by a hash of its Japanese text, so a revised report shows exactly which units have none;
a passage is put together from its units' translations, the Japanese standing in for any that is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.chunking import CELL_SEPARATOR, FIGURE_MARK, UNIT_SPLIT_RE, ChunkingConfig, chunk_sections
from rag.corpus import Report, is_source
from rag.edition_checks import translation_problems
from rag.errors import EditionError
from rag.types import Chunk

log = logging.getLogger(__name__)

EDITION_LANGUAGES = ("en", "zh")
EDITION_DIR = "edition"
# How a translated figure caption is marked, and how the sentences of one line are joined.
FIGURE_MARKS = {"ja": FIGURE_MARK, "en": "[Figure] ", "zh": "[图] "}
SENTENCE_JOINER = {"ja": "", "en": " ", "zh": ""}


def unit_key(text: str) -> str:
    """The key of a unit's translation: a hash of its exact Japanese text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Unit:
    key: str
    section: str
    kind: str  # title, heading, sentence, caption, header, row, figure, source
    ja: str


def line_units(chunk: Chunk, line: str) -> list[tuple[str, str]]:
    """(kind, Japanese text) of the units one line of a passage is made of, in order. A table line is one
    unit as written (its cells and their separators are the unit); prose is split into sentences."""
    if chunk.kind == "table":
        if line == chunk.table_header:
            return [("header", line)]
        if is_source(line.strip()):
            return [("source", line)]
        first = chunk.text.split("\n", 1)[0]
        return [("caption" if line == first and CELL_SEPARATOR not in line else "row", line)]
    if line.startswith(FIGURE_MARK):
        return [("figure", line[len(FIGURE_MARK) :].strip())]
    kind = "source" if is_source(line.strip()) else "sentence"
    return [(kind, piece.strip()) for piece in UNIT_SPLIT_RE.split(line) if piece.strip()]


def report_units(report: Report, chunks: Iterable[Chunk]) -> list[Unit]:
    """Every unit of the report once, in reading order: section titles first, then each passage's
    sub-headings and lines."""
    units: dict[str, Unit] = {}

    def add(section: str, kind: str, text: str) -> None:
        key = unit_key(text)
        if text.strip() and key not in units:
            units[key] = Unit(key, section, kind, text)

    for section in report.sections:
        add(section.id, "title", section.title)
    for chunk in chunks:
        for heading in chunk.heading_path:
            add(chunk.section_id, "heading", heading)
        for line in chunk.text.split("\n"):
            if line.strip():
                for kind, text in line_units(chunk, line):
                    add(chunk.section_id, kind, text)
    return list(units.values())


@dataclass(frozen=True)
class Edition:
    """One language's translations, keyed by unit key; ``missing`` counts the report's units it lacks."""

    language: str
    path: Path
    sha256: str
    texts: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)
    missing: int = 0

    def get(self, japanese: str) -> str | None:
        return self.texts.get(unit_key(japanese))

    def unit(self, japanese: str) -> str:
        """The translation of one unit, or the Japanese itself when it has none."""
        return self.get(japanese) or japanese

    def note(self, chunk: Chunk, japanese: str) -> str | None:
        """The translator's notes on the units of a quotable piece of ``chunk`` (a known typo kept as written)."""
        found = [self.notes[key] for _, text in line_units(chunk, japanese) if (key := unit_key(text)) in self.notes]
        return " ".join(found) or None

    def line(self, chunk: Chunk, line: str) -> str:
        pieces = []
        for kind, text in line_units(chunk, line):
            translated = self.unit(text)
            pieces.append(FIGURE_MARKS[self.language] + translated if kind == "figure" else translated)
        if chunk.kind == "table":
            return pieces[0] if pieces else line
        return SENTENCE_JOINER[self.language].join(pieces)

    def passage(self, chunk: Chunk) -> str:
        """The passage's text in this language, line for line."""
        return "\n".join(self.line(chunk, line) for line in chunk.text.split("\n") if line.strip())

    def quote(self, chunk: Chunk, japanese: str) -> str | None:
        """The translation of a quotable piece of ``chunk`` (a sentence or row as ``passage_units`` gives it),
        or None when a unit of it has no translation."""
        units = line_units(chunk, japanese)
        if not units or any(self.get(text) is None for _, text in units):
            return None
        return self.line(chunk, japanese)

    def heading_path(self, chunk: Chunk) -> tuple[str, ...]:
        return tuple(self.unit(h) for h in chunk.heading_path)

    def context(self, chunk: Chunk) -> str:
        """Section label, title and sub-headings in this language (Chunk.context's counterpart)."""
        parts = [f"【{chunk.section_id}】{self.unit(chunk.section_title)}".strip(), *self.heading_path(chunk)]
        return " > ".join(p for p in parts if p)


@dataclass(frozen=True)
class EditionReport:
    """What `rag edition check` reports for one language."""

    language: str
    path: Path
    units: int
    covered: int
    problems: list[str]  # file:line and what is wrong (file format, unknown or duplicate keys, failed checks)
    missing: list[Unit]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing


def check_edition(path: Path, language: str, units: list[Unit]) -> EditionReport:
    """Every problem of one translation file, each with its line, instead of stopping at the first: the file's
    format, duplicate keys, keys of no unit, and each translation's numbers, names and table cells."""
    by_key = {u.key: u for u in units}
    problems: list[str] = []
    seen: set[str] = set()
    if not path.is_file():
        return EditionReport(language, path, len(units), 0, [f"{path}: no such file"], list(units))
    try:
        entries = list(_lenient_entries(path, problems))
    except EditionError as exc:
        return EditionReport(language, path, len(units), 0, [str(exc)], list(units))
    for number, entry in entries:
        key = entry["key"]
        where = f"{path}:{number} [{key}]"
        if key in seen:
            problems.append(f"{where} duplicate key: keep one")
            continue
        seen.add(key)
        unit = by_key.get(key)
        if unit is None:
            problems.append(f"{where} matches no unit of the report: remove the line (the report was revised?)")
            continue
        problems += [f"{where} {problem}" for problem in translation_problems(unit.ja, entry["text"], language)]
    missing = [u for u in units if u.key not in seen]
    return EditionReport(language, path, len(units), len(units) - len(missing), problems, missing)


def _lenient_entries(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's unit objects; a line that is not one is noted in ``problems`` and skipped."""
    for number, entry, problem in _entries(path):
        if problem is None:
            yield number, entry
        else:
            problems.append(f"{path}:{number} {problem}")


def edition_path(corpus_dir: Path, language: str) -> Path:
    return corpus_dir / EDITION_DIR / f"{language}.jsonl"


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EditionError(f"{path}:{line}: not UTF-8 (byte {exc.start}): save the file as UTF-8") from exc


def _entries(path: Path) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    """(line number, object, what is wrong with it or None) for each line of a translation file."""
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, {}, f"not valid JSON ({exc.msg}): fix the line"
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            yield number, {}, 'not a unit object: each line needs "key" and "text"'
        elif not isinstance(entry.get("text"), str) or not entry["text"].strip():
            yield number, entry, f'unit {entry["key"]} has no "text": translate it or drop the line'
        else:
            yield number, entry, None


def read_entries(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each line of a translation file; a file that is not UTF-8 JSON Lines
    raises EditionError naming the file and line."""
    for number, entry, problem in _entries(path):
        if problem is not None:
            raise EditionError(f"{path}:{number}: {problem}")
        yield number, entry


def load_edition(path: Path, language: str, units: dict[str, Unit]) -> Edition:
    """Read and validate one translation file against the report's units.

    Raises EditionError (one line, naming the file and line) for a file that is not UTF-8 JSON Lines, a
    duplicate key, a key that matches no unit of the report, or a "ja" field that is not its unit's text.
    """
    texts: dict[str, str] = {}
    notes: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, entry in read_entries(path):
        key = entry["key"]
        if key in lines:
            raise EditionError(f"{path}:{number}: duplicate key {key} (first on line {lines[key]}): keep one")
        if key not in units:
            raise EditionError(
                f"{path}:{number}: unit {key} matches no unit of the report (was the report revised?): "
                "remove the line, or run `rag edition check` to list such lines"
            )
        if "ja" in entry and entry["ja"] != units[key].ja:
            raise EditionError(f'{path}:{number}: "ja" is not the text of unit {key}: restore it from the report')
        lines[key] = number
        texts[key] = entry["text"]
        if isinstance(entry.get("note"), str) and entry["note"].strip():
            notes[key] = entry["note"]
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return Edition(language, path, sha256, texts, notes, missing=sum(1 for k in units if k not in texts))


def load_editions(corpus_dir: Path, units: list[Unit]) -> dict[str, Edition]:
    """The editions present in ``corpus_dir/edition``; one warning line per language that lacks units."""
    by_key = {u.key: u for u in units}
    editions = {}
    for language in EDITION_LANGUAGES:
        path = edition_path(corpus_dir, language)
        if not path.is_file():
            log.warning("no %s edition at %s: %s questions are matched against the Japanese only", language, path,
                        language)  # fmt: skip
            continue
        edition = load_edition(path, language, by_key)
        if edition.missing:
            log.warning(
                "%s edition: %d of %d units have no translation (run `rag edition check`): those are shown and "
                "searched in Japanese", language, edition.missing, len(units),
            )  # fmt: skip
        editions[language] = edition
    return editions


def report_editions(report: Report, config: ChunkingConfig) -> dict[str, Edition]:
    """The editions in the report's corpus folder, checked against its units (none for a report that was not
    read from a folder)."""
    if report.folder is None:
        return {}
    return load_editions(report.folder, report_units(report, chunk_sections(report.sections, config)))
