"""Frozen dataclasses that flow between modules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """One structural unit inside a section.

    kind is one of: heading, paragraph, bullet, table, figure.
    A table keeps its caption, header row, rows and "資料)" source together;
    a figure is a caption (the image itself is missing from the text) with its source.
    """

    kind: str
    text: str
    heading_path: tuple[str, ...] = ()
    caption: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]
    chapter: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A citable passage: never straddles two sections."""

    id: str
    section_id: str
    section_title: str
    heading_path: tuple[str, ...]
    kind: str
    text: str
    order: int
    table_header: str = ""  # the header row line inside ``text`` for table passages

    @property
    def context(self) -> str:
        """Where the passage sits: section label, title and sub-heading path."""
        parts = [f"【{self.section_id}】{self.section_title}".strip(), *self.heading_path]
        return " > ".join(p for p in parts if p)

    @property
    def table_caption(self) -> str:
        """A table passage's first line: its caption (its header row when it has none); empty for other kinds."""
        return self.text.split("\n", 1)[0] if self.kind == "table" else ""


@dataclass(frozen=True)
class Translation:
    """A passage as the aligned edition of one language gives it."""

    language: str
    title: str
    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    retrievers: dict[str, int] = field(default_factory=dict)  # retriever name -> its rank
    translation: Translation | None = None  # the passage in the question's language, when the edition has it


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage, its section, and the words quoted from it, in the
    reader's language (``quote``, ``section_title``) and as the Japanese original writes them."""

    n: int
    chunk_id: str
    section_id: str
    section_title: str
    quote: str
    quote_original: str = ""  # the Japanese the quote translates; empty when ``quote`` is the original
    title_original: str = ""

    @property
    def original(self) -> str:
        return self.quote_original or self.quote


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    took_ms: float = 0.0
    generator: str = "extractive"  # or "llm"
    # Why an LLM answer was replaced by the extractive one (llm_timeout, wrong_language, ...), else None.
    fallback: str | None = None
    removed: tuple[Removed, ...] = ()  # generated sentences that failed verification
    query: str = ""  # the standalone question retrieval used (a follow-up rewritten with the history)
    interrupted: str | None = None  # the LLM failed after verified sentences had been streamed
    # What the question asked of the report: "content", "scoped" (a chapter or section), "meta" (its title,
    # author, date or contents) or "help" (a greeting or "what can you do?").
    intent: str = "content"
    span: str | None = None  # the asked-for amount or date, as the direct answer marks it
    direct: int = 1  # how many of the first citations make up the direct answer (a summary quotes several)


@dataclass(frozen=True)
class Removed:
    """A generated sentence taken out of the answer, and why."""

    text: str
    reason: str
