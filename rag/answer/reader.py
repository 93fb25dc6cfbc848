"""The index as a reader of one language reads it: units, passages, titles and headers in the aligned edition
of that language, the Japanese original standing in where the edition lacks a unit."""

from __future__ import annotations

from rag.chunking import CELL_SEPARATOR
from rag.edition_index import EditionIndex
from rag.index import Index
from rag.lexical import TOKENIZERS, LexicalIndex
from rag.types import Chunk


class Reader:
    """One language's view of the index. For Japanese every text is the original."""

    def __init__(self, index: Index, language: str):
        self.index = index
        self.language = language
        self.edition: EditionIndex | None = index.editions.get(language) if language != "ja" else None
        self.tokenize = TOKENIZERS[language if self.edition is not None else "ja"]

    @property
    def translated(self) -> bool:
        return self.edition is not None

    def unit(self, u: int) -> str:
        """Unit ``u`` (a sentence or row of the index) in this language."""
        japanese = self.index.unit_texts[u]
        return self.edition.unit(u, japanese) if self.edition is not None else japanese

    def note(self, u: int) -> str | None:
        """The translator's note on unit ``u`` in this language, if it has one."""
        return self.edition.note(u) if self.edition is not None else None

    def has_unit(self, u: int) -> bool:
        return self.edition is None or self.edition.units[u] is not None

    def passage(self, position: int) -> str:
        chunk = self.index.chunks[position]
        return self.edition.passages[position] if self.edition is not None else chunk.text

    def context(self, position: int) -> str:
        chunk = self.index.chunks[position]
        return self.edition.contexts[position] if self.edition is not None else chunk.context

    def heading(self, position: int) -> str:
        """The innermost sub-heading of passage ``position`` in this language ("" when it sits under none)."""
        if not self.index.chunks[position].heading_path:
            return ""
        return self.context(position).rsplit(" > ", 1)[-1]

    def title(self, chunk: Chunk) -> str:
        if self.edition is None:
            return chunk.section_title
        return self.edition.titles.get(chunk.section_id, chunk.section_title)

    def header_cells(self, position: int) -> list[str]:
        """The table header of passage ``position`` as cells, in this language (empty for other passages)."""
        chunk = self.index.chunks[position]
        if chunk.kind != "table" or not chunk.table_header:
            return []
        lines = self.passage(position).split("\n")
        japanese = chunk.text.split("\n")
        header = next((t for t, j in zip(lines, japanese, strict=False) if j == chunk.table_header), "")
        return (header or chunk.table_header).split(CELL_SEPARATOR)

    @property
    def lexical(self) -> LexicalIndex:
        """BM25 over the passages in this language: its document frequencies weigh the question's terms."""
        return self.edition.lexical if self.edition is not None else self.index.lexical

    def passage_tokens(self, position: int) -> frozenset[str]:
        """The BM25 tokens of a passage as indexed in this language (its place, its text)."""
        return self.lexical.documents[position]
