"""How a quote reads in an answer: a table row as its column names with their values, the asked-for amount or
date marked, amounts of an untranslated quote rendered in the reader's conventions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rag.answer.messages import MESSAGES
from rag.chunking import CELL_SEPARATOR
from rag.intents import PLACE_RE, PLACES
from rag.numbers import DATE_PARTS, Quantity, is_amount, quantities, render, same_value

# A cell left empty or holding a dash says nothing.
EMPTY_CELLS = ("", "-", "－", "—")
MAX_LABEL_CHARS = 40
SPAN_REACH = 40  # characters at which a question term's nearness to an amount counts half
# What a clause boundary between a term and an amount adds to their distance: a term of another clause counts a
# third at most ("4.9 million companies, while companies dedicated to AI rose to 6,000": "dedicated" is 6,000's).
CLAUSE_GAP = 2 * SPAN_REACH
CLAUSE_MARK_RE = re.compile(r"[,;、，；。]\s|[、，；。]")  # a clause ends (not the comma of 6,000)
CELL_JOIN = {"ja": "、", "en": "; ", "zh": "；"}
LABEL_JOIN = {"ja": ": ", "en": ": ", "zh": "："}


def row_text(row: str, header: Sequence[str], language: str) -> str:
    """A table row as "column: value" pairs when the header has a name for each cell, else its cells."""
    cells = [c.strip() for c in row.split(CELL_SEPARATOR)]
    names = [h.strip() for h in header]
    join = CELL_JOIN[language]
    # Only a header with a short label for every column names them; some tables open with a row of data or of
    # sub-captions over blank cells.
    if len(names) == len(cells) and all(0 < len(n) <= MAX_LABEL_CHARS for n in names):
        return join.join(f"{n}{LABEL_JOIN[language]}{c}" if n else c for n, c in zip(names, cells, strict=True)
                         if c not in EMPTY_CELLS)  # fmt: skip
    return join.join(c for c in cells if c not in EMPTY_CELLS)


def row_label(row: str) -> str:
    """What names a row: its first cell that is not a running number (No. 1, 2, …) or empty."""
    for cell in row.split(CELL_SEPARATOR):
        cell = cell.strip()
        if cell not in EMPTY_CELLS and not re.fullmatch(r"[\d.]+", cell):
            return cell
    return ""


def asked_span(
    text: str,
    answer_type: str,
    asked: Sequence[Quantity],
    anchors: Mapping[str, float],
    units: frozenset[str] = frozenset(),
    row: int | None = None,
    label_end: int = 0,
    named_places: Sequence[str] = (),
) -> Quantity | None:
    """The amount (or date) in ``text`` that answers: of the kind asked for, not one the question itself names,
    and the closest to where the question's terms occur, rarer terms counting more (``anchors``: term -> weight):
    "企業" is next to both 490万社 and 6000社, "登録件数" only to the first. An amount with its unit (12.0%, 490万社)
    before a bare number (the 1 of "トップ1人材"); one in the ``units`` the question asks for (a percentage for a
    share, a ratio for 何倍, a sum of money for "how much" investment, a count for "how many") before others; never
    the ``row``'s own number in its table ("No.: 5"). A row's label (its first ``label_end`` characters) names
    what all its cells are about, so the question's terms there tell no cell apart: "美国" in the US column's name
    does ("项目：民间AI投资额；中国：93亿美元(6.1%)；美国：1,091亿美元(71.7%)"). An amount stated for a place other
    than the ``named_places`` the question names is passed over."""
    if answer_type not in ("amount", "date"):
        return None
    found = [
        q
        for q in quantities(text)
        if (is_amount(q) if answer_type == "amount" else _is_date(q))
        and not any(same_value(q, a) for a in asked)
        and not (row is not None and not q.unit and q.value == row)
    ]
    if answer_type == "amount":
        found = [q for q in found if q.unit or "" in units] or found  # a bare count only when one is asked for
        found = [q for q in found if q.unit in units] or found
        # Asked about one place, an amount stated for another is not its answer, however near the other terms:
        # "US private AI investment was $109.1 billion, … 12 times China's $9.3 billion" answers China with 9.3.
        if named_places:
            asked_places = {p.lower() for p in named_places}
            found = [q for q in found if (_place_of(text, q) or "").lower() in asked_places | {""}] or found
    if not found:
        return None
    lowered = text.lower()
    # A Latin term from a word's start (the stem "invest" of "investment"; "ai" is not in "trails"), a place whole
    # ("us" is not in "use").
    places = {a: [m.start() for m in re.finditer(_anchor_pattern(a.lower()), lowered)] for a in anchors if len(a) > 1}
    places = {a: at for a, at in places.items() if at}
    in_cells = {a: kept for a, at in places.items() if (kept := [p for p in at if p >= label_end])}
    places = in_cells or places
    if not places:
        return found[0]

    def gap(q: Quantity, term: str, at: int) -> int:
        # Characters between the two, whichever comes first: "DeepSeek-R1 in January 2025" is 4 apart (a year
        # with its month and day, as it is marked), and CLAUSE_GAP more for each clause boundary between them.
        start, end = _with_date(text, q) if answer_type == "date" else (q.start, q.end)
        between = text[at + len(term) : start] if at < start else text[end:at]
        return max(0, start - (at + len(term)), at - end) + len(CLAUSE_MARK_RE.findall(between)) * CLAUSE_GAP

    def closeness(q: Quantity) -> float:
        # Each term counts once, by its nearest occurrence, halved at SPAN_REACH characters and fading beyond.
        return sum(anchors[a] / (1 + min(gap(q, a, p) for p in at) / SPAN_REACH) for a, at in places.items())

    return max(found, key=closeness)


def _place_of(text: str, q: Quantity) -> str | None:
    """The place an amount is stated for: the one its clause names ("57%が米国に、12%が中国に"), or of two there
    the nearest before it ("12 times China's $9.3 billion and 24 times the UK's $4.5 billion"); None if none."""
    starts = [0, *(m.end() for m in CLAUSE_MARK_RE.finditer(text, 0, q.start))]
    end = m.start() if (m := CLAUSE_MARK_RE.search(text, q.end)) else len(text)
    named = [(m.start(), m.group()) for m in PLACE_RE.finditer(text, starts[-1], end)]
    if len({name for _, name in named}) == 1:
        return named[0][1]
    before = [name for at, name in named if at < q.start]
    return before[-1] if before else (named[0][1] if named else None)


def _anchor_pattern(term: str) -> str:
    if not term.isascii():
        return re.escape(term)
    return rf"(?<![a-z0-9]){re.escape(term)}" + (r"(?![a-z])" if term.upper() in PLACES else "")


def named_label_end(shown: str, header: Sequence[str], language: str) -> int:
    """Where the label of a row shown as "column: value" pairs ends (its first pair); 0 for a row shown as bare
    cells, whose first cell may be a value (第1回…(14件))."""
    first = shown.split(CELL_JOIN[language], 1)[0]
    named = bool(header) and bool(header[0].strip()) and first.startswith(header[0].strip() + LABEL_JOIN[language])
    return len(first) if named else 0


def mark(text: str, span: Quantity | None) -> str:
    """``text`` with the span in **bold** (the chat renders Markdown; plain clients see the asterisks)."""
    if span is None:
        return text
    start, end = _with_date(text, span)
    return f"{text[:start]}**{text[start:end]}**{text[end:]}"


def _is_date(q: Quantity) -> bool:
    """A year (2025年, or 2025 as English writes it) or a month."""
    return q.unit in ("year", "month") or (not q.unit and not is_amount(q))


def _with_date(text: str, span: Quantity) -> tuple[int, int]:
    """A year's span grows to take its month and day (2025年1月, January 2025)."""
    if not _is_date(span) or span.unit == "month":
        return span.start, span.end
    start, end = span.start, span.end
    after = re.match(r"\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?", text[end:])
    if after:
        end += after.end()
    before = re.search(
        r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
        r"(?:\s+\d{1,2},)?\s+$",
        text[:start],
    )
    if before:
        start = before.start()
    return start, end


def untranslated_note(original: str, span: Quantity | None, language: str) -> str:
    """For a quote shown in Japanese to an English or Chinese reader: say so, and give its amount their way."""
    note = MESSAGES[language]["untranslated"]
    if span is not None and span.unit not in DATE_PARTS and language != "ja":
        rendered = render(span, language)
        if rendered != span.text:
            note = f" (= {rendered})" + note if language == "en" else f"（= {rendered}）" + note
    return note


def quote_marks(language: str) -> tuple[str, str]:
    return ("「", "」") if language == "ja" else ("“", "”")
