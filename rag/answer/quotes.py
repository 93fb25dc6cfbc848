"""Which sentences or rows answer: every candidate scored, the direct answer chosen by what the question asks
for (an amount, a date, a list...), and supporting quotes kept only when they add what the first lacks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.coverage import coverage
from rag.answer.reader import Reader
from rag.chunking import CELL_SEPARATOR, FIGURE_MARK
from rag.corpus import is_source
from rag.index import Index
from rag.numbers import MONEY, Quantity, is_amount, quantities
from rag.retrieve import Scored
from rag.types import Hit

# Sections that are about the report rather than in it: never evidence for a content question.
FRONT_MATTER = ("title", "toc")
# Kinds of unit that point at evidence rather than state it: a bare figure caption, a source line.
POINTERS = ("figure", "source", "caption")
# How the report numbers a list's items: ①, "1. ", "(1)", "（1）" (not "1.2兆元": a number, not a mark).
ITEM_MARK_RE = re.compile(r"\s*(?:([①-⑳])|(\d{1,2})[.．]\s|[(（](\d{1,2})[)）])")
SUPPORT_LIMITS = {"source": 1, "amount": 1, "date": 1, "who": 1, "compare": 2, "list": 2, "why": 2, "other": 1}


@dataclass(frozen=True)
class Quote:
    """A candidate sentence or row: index unit ``unit`` of passage ``position``, in the reader's language."""

    unit: int
    position: int
    text: str
    original: str
    kind: str  # sentence, row, caption, figure or source
    score: float
    cosine: float
    translated: bool


def unit_kind(index: Index, u: int) -> str:
    chunk = index.chunks[int(index.unit_chunk[u])]
    text = index.unit_texts[u]
    if text.startswith(FIGURE_MARK):
        return "figure"
    if is_source(text.strip()):
        return "source"
    if chunk.kind == "table":
        caption = text == chunk.table_caption and text != chunk.table_header
        return "caption" if caption or _sub_header(text) else "row"
    return "sentence"


def _sub_header(row: str) -> bool:
    """Whether a row only repeats a few labels (社名 | 製品名 | 社名 | 製品名…): a second header line, not data."""
    cells = [c.strip() for c in row.split(CELL_SEPARATOR) if c.strip()]
    return len(cells) >= 4 and 2 * len(set(cells)) <= len(cells) and not any(ch.isdigit() for ch in row)


def item_number(text: str) -> int | None:
    """The list position a line or table row marks itself with (at its start or a cell's), if any."""
    for cell in text.split(CELL_SEPARATOR):
        if m := ITEM_MARK_RE.match(cell):
            circled, digits, bracketed = m.groups()
            return ord(circled) - ord("①") + 1 if circled else int(digits or bracketed)
    return None


def row_number(text: str) -> int | None:
    """The number of a table row in its list (its first cell, when that holds only the number: "5 | DeepSeek系列")."""
    cells = text.split(CELL_SEPARATOR)
    m = re.fullmatch(r"\s*(\d{1,2})\s*", cells[0]) if len(cells) > 1 else None
    return int(m.group(1)) if m else None


def stated(text: str) -> list[Quantity]:
    """The numbers a unit states, less a table row's own number in its list."""
    return quantities(_stating(text))


def _stating(text: str) -> str:
    cells = text.split(CELL_SEPARATOR)
    return CELL_SEPARATOR.join(cells[1:] if row_number(text) is not None else cells)


# The counters the report's Japanese writes after a count (6件, 490万社, 3位, 6つ).
COUNTER_RE = re.compile(r"[かカヵヶ]国|[人名社件台個種位回校本枚点つ家]")


def states_count_in(text: str, counters: frozenset[str]) -> bool:
    """Whether a unit states a count in one of ``counters``, or a bare count (a table's header may carry its
    counter); not when each count it states is of something else (asked how many people, "6件で3位")."""
    body = _stating(text)
    for q in quantities(body):
        if is_amount(q) and not q.unit:
            counter = COUNTER_RE.match(body, q.end)
            if counter is None or counter.group() in counters:
                return True
    return False


def states_amount(text: str, money: bool = False, count: bool = False) -> bool:
    """Whether a unit states an amount, share or count (only a sum of money with ``money``, only a count with
    ``count``, either with both): not only dates, and not only a row's number in its list."""
    units = (MONEY if money else frozenset()) | ({""} if count else frozenset())
    return any(is_amount(q) and (not units or q.unit in units) for q in stated(text))


def states_share(text: str) -> bool:
    """Whether a unit states a percentage."""
    return any(q.unit == "percent" for q in stated(text))


def has_asked_for(text: str, kind: str, answer_type: str, share: bool = False) -> bool:
    """Whether a unit can state what the question asks for: an amount (a percentage for a ``share``), a date,
    or where data come from."""
    if answer_type == "source":
        return kind == "source"
    found = quantities(text)
    if answer_type == "amount":
        return any(is_amount(q) and (q.unit == "percent" or not share) for q in found)
    if answer_type == "date":
        return any(q.unit in ("year", "month") or not is_amount(q) for q in found)
    return False


class QuoteScorer:
    """Scores the units of the top passages for one question."""

    def __init__(self, index: Index, lexical_weight: float, rank_weight: float, type_weight: float):
        self.index = index
        self.lexical_weight = lexical_weight
        self.rank_weight = rank_weight
        self.type_weight = type_weight
        self._tokens: dict[tuple[str, int], frozenset[str]] = {}

    def unit_tokens(self, reader: Reader, u: int) -> frozenset[str]:
        key = (reader.language, u)
        if key not in self._tokens:
            self._tokens[key] = frozenset(reader.tokenize(reader.unit(u)))
        return self._tokens[key]

    def candidates(
        self,
        reader: Reader,
        terms: Sequence[str],
        answer_type: str,
        scored: Scored,
        positions: Sequence[int],
        ranks: dict[int, int],
        share: bool = False,
    ) -> list[Quote]:
        """Every unit of the passages at ``positions``, best first (``share``: the question asks for a share)."""
        quotes = []
        reader_sims = scored.reader_unit_sims
        for found in np.flatnonzero(np.isin(self.index.unit_chunk, list(positions))):
            u = int(found)
            position = int(self.index.unit_chunk[u])
            cosine = float(scored.unit_sims[u]) if len(scored.unit_sims) else 0.0
            if reader_sims is not None and reader.has_unit(u):
                cosine = max(cosine, float(reader_sims[u]))
            text = reader.unit(u)
            overlap = coverage(terms, self.unit_tokens(reader, u), reader.lexical) if terms else 0.0
            score = cosine + self.lexical_weight * overlap + self.rank_weight / ranks.get(position, len(ranks) + 1)
            kind = unit_kind(self.index, u)
            if has_asked_for(text, kind, answer_type, share):
                score += self.type_weight
            quotes.append(Quote(u, position, text, self.index.unit_texts[u], kind, score, cosine, reader.has_unit(u)))
        return sorted(quotes, key=lambda q: -q.score)


def content_positions(index: Index, hits: Sequence[Hit], passages: int) -> tuple[list[int], dict[int, int]]:
    """The top passages a content answer may quote (not the title page or contents), and their ranks."""
    top = [h for h in hits if h.chunk.section_id not in FRONT_MATTER][:passages]
    return [h.chunk.order for h in top], {h.chunk.order: h.rank for h in top}


def _norm(text: str) -> str:
    return re.sub(r"[\s|・,、，。.]+", "", text).lower()


def is_duplicate(quote: Quote, chosen: Sequence[Quote]) -> bool:
    mine = _norm(quote.original)
    return any(mine in _norm(c.original) or _norm(c.original) in mine for c in chosen)


def answering(quotes: Sequence[Quote], answer_type: str) -> list[Quote]:
    """The quotes that can answer, in order: those that state something (a question about where data come from
    is answered by a source line)."""
    return [q for q in quotes if q.kind not in POINTERS or (answer_type == "source" and q.kind == "source")]


def pick(
    quotes: Sequence[Quote],
    answer_type: str,
    terms: Sequence[str],
    tokens_of: dict[int, frozenset[str]],
    margin: float,
) -> list[Quote]:
    """The direct answer (the best quote that states something, not a caption or source line) and supporting
    quotes within ``margin`` of it, each holding a term of the question that the quotes before it lack (a
    question asking for two things gets both; a second quote that only repeats the topic is left out)."""
    stating = answering(quotes, answer_type)
    if not stating:
        return []
    direct = stating[0]
    chosen = [direct]
    covered = set(tokens_of[direct.unit])
    for quote in stating[1:]:
        if len(chosen) - 1 >= SUPPORT_LIMITS.get(answer_type, 1) or quote.score < direct.score - margin:
            break
        tokens = tokens_of[quote.unit]
        if not is_duplicate(quote, chosen) and any(t in tokens and t not in covered for t in terms):
            chosen.append(quote)
            covered |= tokens
    return chosen
