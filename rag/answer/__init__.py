"""Extractive answers: the sentence or row that answers first, with the asked-for span marked, in the reader's
language; supporting quotes only when they add something; whole summaries for a chapter or section; the report's
metadata; help; or an abstention when the report does not cover the question."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rag.answer.compose import asked_span, mark, named_label_end, quote_marks, row_label, row_text, untranslated_note
from rag.answer.coverage import (
    STRUCTURE_RE,
    asked_numbers,
    asks,
    coverage,
    key_terms,
    mentions,
    names_in,
    unknown_names,
    uses,
    without_set_aside,
)
from rag.answer.messages import MESSAGES
from rag.answer.quotes import (
    Quote,
    QuoteScorer,
    answering,
    content_positions,
    is_duplicate,
    item_number,
    pick,
    row_number,
    stated,
    states_amount,
    states_count_in,
    states_share,
    unit_kind,
)
from rag.answer.reader import Reader
from rag.answer.replies import help_answer, meta_answer
from rag.index import Index
from rag.intents import (
    PLACE_RE,
    Intent,
    answer_type,
    asked_counters,
    asked_units,
    asks_count,
    asks_money,
    asks_quantity,
    asks_share,
    list_position,
)
from rag.lang import LANGUAGES
from rag.numbers import Quantity, is_amount, quantities, rounds, same_value
from rag.retrieve import Scored
from rag.types import Answer, Chunk, Citation, Hit

__all__ = [
    "STRUCTURE_RE",
    "AnswerConfig",
    "Evidence",
    "ExtractiveAnswerer",
    "abstention_text",
    "without_set_aside",
]

RULED_OUT = -1.0  # the coverage of a question a rule refuses: below every threshold
BULLET = "👉"
LEADING_MARKS_RE = re.compile(r"^(?:-\s*)?(?:👉|・|◆)\s*")
SMALL_TABLE_ROWS = 6  # a table with this many rows or fewer is quoted whole when asked what it holds
# Asked why, how or how two differ, the direct answer takes the rest of its line (a bullet's sentences make one
# point: "their strategies differ." then how). For list and other questions too it changed 15 tuning answers for
# one more key fact, most of them only longer.
CONTINUED_TYPES = ("why", "compare")
SAME_MONTH_LINES = 3  # at most this many timeline entries of one month lead an answer


@dataclass(frozen=True)
class AnswerConfig:
    """Quote selection and abstention. The coverage thresholds are fitted by `rag eval --calibrate` on the
    tuning questions."""

    passages: int = 5  # top passages whose sentences/rows may be quoted
    # Weight of the share of the question's key terms a quote holds, and bonus for higher-ranked passages.
    lexical_weight: float = 0.2
    rank_weight: float = 0.05
    # Bonus for a quote holding what the question asks for (an amount, a date).
    type_weight: float = 0.05
    # Supporting quotes must score within this margin of the direct answer.
    support_margin: float = 0.03
    # A quote that agrees with the question's numbers and names may stand in for a better one that does not
    # when it scores within this margin of the best. On the tuning part 0.05 to 0.1 do equally well (0.04 loses a
    # right answer, 0.15 lets two unanswerable questions through): the middle of that range.
    agree_margin: float = 0.075
    # Bonus for a quote holding what a follow-up itself asks about.
    focus_weight: float = 0.2
    # Bonus for the list item a question asks for by position ("the third one"): marked with that number; and
    # a malus for a quote naming only rounds other than the one asked about (第5回, the fifth round).
    item_weight: float = 0.2
    # Abstain when the leading passage holds less than this share of the question's key terms, per language.
    abstain_below: dict[str, float] = field(default_factory=lambda: {"ja": 0.0, "en": 0.0, "zh": 0.0})


@dataclass(frozen=True)
class Evidence:
    """What a content answer would quote, and whether the report covers the question."""

    quotes: list[Quote]  # the direct answer first, then the supporting quotes
    terms: list[str]
    coverage: float  # RULED_OUT when a rule refuses
    reason: str | None  # why a rule refuses: set_aside, unknown_name, unknown_terms, missing_number, no_amount,
    # name_elsewhere, no_quote
    wanted: int | None = None  # the list position the question asks for ("the third one"), if any
    focus: tuple[str, ...] = ()  # the terms a follow-up itself asks about ("dedicated" in "how many were dedicated?")
    lead: int = 1  # how many of the quotes make up the direct answer (the lines of one asked-for month)


class ExtractiveAnswerer:
    def __init__(self, index: Index, config: AnswerConfig | None = None, metadata: Mapping[str, str] | None = None):
        self.index = index
        self.config = config or AnswerConfig()
        self.metadata = dict(metadata or {})
        self.readers = {language: Reader(index, language) for language in LANGUAGES}
        c = self.config
        self.scorer = QuoteScorer(index, c.lexical_weight, c.rank_weight, c.type_weight)
        texts = [f"{chunk.context}\n{chunk.text}" for chunk in index.chunks]
        for edition in index.editions.values():
            texts += [f"{c}\n{p}" for c, p in zip(edition.contexts, edition.passages, strict=True)]
        # Every word of the report in every language, for telling a name or a word it never uses.
        self.report_text = "\n".join(texts)
        self.report_lower = self.report_text.lower()
        # The passages of each list (a table, or the sub-headings under one heading), found once.
        self._lists: dict[tuple[str, ...], list[int]] = {}
        for chunk in index.chunks:
            self._lists.setdefault(self._list_key(chunk.order), []).append(chunk.order)
        # Each section's text in all languages, and the numbers it states: what a direct answer must agree with.
        self._sections: dict[str, tuple[str, list[Quantity]]] = {}

    def answer(self, question: str, scored: Scored, hits: list[Hit]) -> Answer:
        language, intent = scored.language, scored.intent
        reader = self.readers[language]
        if intent.kind == "help":
            return help_answer(question, language, self._report_name(reader))
        if intent.kind == "meta":
            return meta_answer(question, reader, self.metadata, intent.fields, tuple(hits))
        if intent.broad:
            whole = self.whole(question, reader, intent, hits)
            if whole is not None:
                return whole
        evidence = self.evidence(question, scored, hits)
        if evidence.reason is not None or evidence.coverage < self.config.abstain_below.get(language, 0.0):
            return self.abstention(question, language, hits, intent)
        listed = self.numbered_list(question, reader, evidence, hits, intent)
        return listed or self.compose(question, reader, evidence, hits, intent)

    def _report_name(self, reader: Reader) -> str:
        """The report's title as the reader's edition writes it (the title page's first line)."""
        title = self.metadata.get("title", "")
        for u, text in enumerate(self.index.unit_texts):
            if text == title:
                return reader.unit(u)
        return title or "the report"

    # -- content questions ----------------------------------------------------------------------------

    def evidence(self, question: str, scored: Scored, hits: Sequence[Hit]) -> Evidence:
        """The quotes an answer would use and the evidence for abstaining (also what calibration fits).

        The direct answer is the best quote whose section agrees with what the question states outright: its
        numbers and years (in any language's way of writing them), the places and names it mentions. A quote
        from a section lacking them answers another question; when no quote agrees, the report does not hold
        the answer.
        """
        language = scored.language
        reader = self.readers[language]
        # What is left once instructions to set the report aside are cut out is what the report must cover.
        rest = without_set_aside(question, language)
        terms = key_terms(rest, language, reader.lexical)
        kind = answer_type(question)
        positions, ranks = content_positions(self.index, hits, self.config.passages)
        wanted = list_position(question)
        if wanted is not None:  # the list's other passages too: its sixth item may be in a passage of its own
            positions = [*positions, *self._same_lists(positions)]
        candidates = self.scorer.candidates(reader, terms, kind, scored, positions, ranks, asks_share(question))
        focus_terms = key_terms(scored.focus, language, reader.lexical) if scored.focus else []
        # What is new in the follow-up marks its span: "dedicated", not "companies" asked about before.
        before = set(key_terms(scored.previous, language, reader.lexical)) if scored.previous else set()
        new_terms = [t for t in focus_terms if t not in before] or focus_terms
        if scored.focus:
            candidates = self._towards_focus(candidates, reader, new_terms, asked_numbers(scored.focus, words=True))
        if wanted is not None:
            candidates = self._towards_item(candidates, wanted)
        if asked_rounds := rounds(question):  # a quote on other rounds answers another question: ranked down
            malus = -self.config.item_weight
            candidates = _lifted(candidates, lambda q: malus if _on_other_rounds(q, asked_rounds) else 0.0)
        tokens = {q.unit: self.scorer.unit_tokens(reader, q.unit) for q in candidates}
        unconstrained = pick(candidates, kind, terms, tokens, self.config.support_margin)
        if not unconstrained:
            return Evidence([], terms, RULED_OUT, "no_quote")
        if unknown_names(question, self.report_text, language):
            return Evidence([], terms, RULED_OUT, "unknown_name")
        if terms and not any(uses(self.report_lower, t, reader.lexical) for t in terms):
            # Not one of the question's words is in the report, in any language ("Tell me a joke").
            return Evidence([], terms, RULED_OUT, "unknown_terms")
        asked, names = asked_numbers(question), names_in(question)
        best = unconstrained[0].score
        agreeing = [
            q
            for q in answering(candidates, kind)
            if q.score >= best - self.config.agree_margin and self._agrees(q.position, asked, names)
        ]
        if kind == "amount" and asks_share(question):  # asked how large a share, a percentage answers it
            agreeing.sort(key=lambda q: not states_share(q.original))
        direct = agreeing[0] if agreeing else None
        if direct is None:
            return Evidence([], terms, RULED_OUT, "missing_number" if asked else "name_elsewhere")
        # A follow-up on a new topic ("主な収入源は？" after prices) asks in its own words, not the earlier question's.
        asking = scored.focus if set(focus_terms) - before else question
        money = asks_money(asking)
        if (asks_quantity(asking) or money) and not states_amount(direct.original, money, asks_count(asking)):
            # Asked how many or how much (money), the best sentence states no such amount: the report lacks it.
            return Evidence([], terms, RULED_OUT, "no_amount")
        if (counters := asked_counters(asking)) and not states_count_in(direct.original, counters):
            # Asked how many people (何人, 多少名), the best sentence counts cases or ranks: not what was asked.
            return Evidence([], terms, RULED_OUT, "no_amount")
        quotes = pick(
            [direct, *(q for q in candidates if q is not direct)], kind, terms, tokens, self.config.support_margin
        )
        if scored.focus and not focus_terms:  # a follow-up that only names another month ("5月は？")
            quotes, lead = _with_same_month(quotes, answering(candidates, kind), asked_numbers(question, words=True))
        elif kind in CONTINUED_TYPES:
            quotes, lead = self._with_rest_of_line(quotes, candidates, language)
        else:
            lead = 1
        # Once told to set the report aside, what is left must ask about the report in words of its own.
        if rest != question and (not asks(rest, language) or not set(terms) & tokens[quotes[0].unit]):
            return Evidence(quotes, terms, RULED_OUT, "set_aside")
        held = reader.passage_tokens(quotes[0].position)
        if wanted is not None:  # an item is read within its list, whose other passages say what the list is of
            held = held.union(*(reader.passage_tokens(p) for p in self._same_list(quotes[0].position)))
        return Evidence(quotes, terms, coverage(terms, held, reader.lexical), None, wanted, tuple(new_terms), lead)

    def _towards_focus(
        self, candidates: list[Quote], reader: Reader, focus: Sequence[str], numbers: Sequence[Quantity]
    ) -> list[Quote]:
        """Quotes holding what a follow-up itself asks about ranked up, by how much of it they hold: "付与数は？"
        after a question about applications wants the sentence on grants, not the one on applications again;
        "5月は？" the line of May; "那2023年10月的算力基础设施行动计划呢？" the row holding all of it, not the earlier
        row sharing 基础设施."""

        def share(q: Quote) -> float:
            # How much of what the follow-up names the quote holds: its words (weighed by rarity), its numbers.
            parts = []
            if focus:
                parts.append(coverage(focus, self.scorer.unit_tokens(reader, q.unit), reader.lexical))
            if numbers:
                parts.append(float(all(any(_states(s, n) for s in stated(q.original)) for n in numbers)))
            return sum(parts) / len(parts) if parts else 0.0

        weight = self.config.focus_weight
        return _lifted(candidates, lambda q: weight * share(q))

    def _with_rest_of_line(
        self, quotes: list[Quote], candidates: Sequence[Quote], language: str
    ) -> tuple[list[Quote], int]:
        """The direct answer with the sentences after it on its line: a slide's bullet is one point, and asked why
        or how, its first sentence often states the problem and the next one the answer ("技術の断片化：…に直面。
        中国はオープンソース戦略で…")."""
        direct = quotes[0]
        if direct.kind != "sentence":
            return quotes, 1
        chunk = self.index.chunks[direct.position]
        units = self._units(chunk)
        line = next((x for x in chunk.text.split("\n") if direct.original in x), "")
        after = line[line.index(direct.original) + len(direct.original) :] if line else ""
        by_unit = {q.unit: q for q in candidates}
        lead = [direct]
        for u in units[units.index(direct.unit) + 1 :]:
            text = self.index.unit_texts[u]
            if u not in by_unit or text not in after:
                break
            lead.append(by_unit[u])
            after = after[after.index(text) + len(text) :]
        if len(lead) == 1:
            return quotes, 1
        # One point, one quote: the sentences read and are cited as the stretch of the line they make.
        start = line.index(direct.original)
        end = start + len(line[start:]) - len(after)
        joined = replace(
            direct,
            text=(" " if language == "en" else "").join(q.text for q in lead),
            original=line[start:end],
            translated=all(q.translated for q in lead),
        )
        return [joined, *(q for q in quotes[1:] if all(q.unit != other.unit for other in lead))], 1

    def _towards_item(self, candidates: list[Quote], wanted: int) -> list[Quote]:
        """The item a question asks for by its place in a list ranked up: the line or row marked with that
        number (⑥, "3.", "(3)"), or the lines under a sub-heading marked with it."""
        weight = self.config.item_weight
        return _lifted(candidates, lambda q: weight if self._item_of(q) == wanted else 0.0)

    def _list_key(self, position: int) -> tuple[str, ...]:
        """What the passages of one list share: their table, or their parent heading, in one section."""
        chunk = self.index.chunks[position]
        if chunk.kind == "table":
            return (chunk.section_id, chunk.table_caption)
        return (chunk.section_id, *chunk.heading_path[:-1])

    def _same_list(self, position: int) -> list[int]:
        return self._lists[self._list_key(position)]

    def _same_lists(self, positions: Sequence[int]) -> list[int]:
        """Passages continuing the numbered lists that the passages at ``positions`` hold."""
        numbered = [
            p
            for p in positions
            if self._heading_item(p)
            or any(item_number(self.index.unit_texts[u]) for u in self._units(self.index.chunks[p]))
        ]
        found = {q for p in numbered for q in self._same_list(p)}
        return sorted(found - set(positions))

    def _item_of(self, quote: Quote) -> int | None:
        return item_number(quote.original) or self._heading_item(quote.position)

    def _heading_item(self, position: int) -> int | None:
        path = self.index.chunks[position].heading_path
        return item_number(path[-1]) if path else None

    def _agrees(self, position: int, asked: Sequence[Quantity], names: Sequence[str]) -> bool:
        """Whether the section of passage ``position`` states the question's numbers and mentions its names."""
        section = self.index.chunks[position].section_id
        if section not in self._sections:
            inside = [c for c in self.index.chunks if c.section_id == section]
            text = "\n".join(f"{c.context}\n{c.text}\n{self._in_editions(c)}" for c in inside)
            self._sections[section] = (text, quantities(text))
        text, stated = self._sections[section]
        numbers_ok = all(any(same_value(s, q, rounding=True) for s in stated) for q in asked)
        return numbers_ok and all(mentions(text, name) for name in names)

    def _in_editions(self, chunk: Chunk) -> str:
        return "\n".join(f"{e.contexts[chunk.order]}\n{e.passages[chunk.order]}" for e in self.index.editions.values())

    def compose(self, question: str, reader: Reader, evidence: Evidence, hits: list[Hit], intent: Intent) -> Answer:
        language = reader.language
        kind = answer_type(question)
        asked = asked_numbers(question, words=True)  # never the span: "the fifth round" is not the answer 5
        lines, citations = [], []
        span_text = None
        opening, closing = quote_marks(language)
        for n, quote in enumerate(evidence.quotes, start=1):
            chunk = self.index.chunks[quote.position]
            shown = self._display(reader, quote)
            text, original = quote.text, quote.original
            by_heading = n == 1 and evidence.wanted is not None and item_number(original) is None
            if by_heading and self._heading_item(quote.position) == evidence.wanted:
                # The item is its numbered sub-heading ("3. Governance, compliance…"): it leads, with its line.
                heading = reader.heading(quote.position)
                shown = f"{heading}{': ' if language == 'en' else '：'}{shown}"
                text, original = f"{heading}\n{text}", f"{chunk.heading_path[-1]}\n{original}"
            if n <= evidence.lead:
                # A follow-up's span is the one by what it asks about itself, when the quote holds that.
                shown_tokens = set(reader.tokenize(shown))
                near = [t for t in evidence.focus if t in shown_tokens] or evidence.terms
                anchors = {t: reader.lexical.idf(t) for t in near}
                # A place the question names tells its cell or clause apart more than any word ("the US" share).
                places = PLACE_RE.findall(question)
                anchors |= dict.fromkeys(places, max(anchors.values(), default=1.0))
                row = row_number(original) if quote.kind == "row" else None
                header = reader.header_cells(quote.position) if quote.kind == "row" else []
                label_end = named_label_end(shown, header, language)
                span = asked_span(shown, kind, asked, anchors, asked_units(question), row, label_end, places)
                span_text = span.text if span is not None else None
                untranslated = reader.translated and not quote.translated
                note = untranslated_note(quote.original, span, language) if untranslated else ""
                line = f"{mark(shown, span)}{self._table_label(reader, chunk, quote)}{note} [{n}]"
            else:
                line = f"- {opening}{shown}{closing} [{n}]"
            lines.append(line)
            if translator_note := reader.note(quote.unit):  # a typo of the original kept as written: what is meant
                lines.append(MESSAGES[language]["note"].format(note=translator_note))
            citations.append(self._citation(n, reader, chunk, text, original))
        return Answer(
            question, language, "\n".join(lines), False, tuple(citations), tuple(hits), intent=intent.kind,
            span=span_text, direct=evidence.lead,
        )  # fmt: skip

    def _display(self, reader: Reader, quote: Quote) -> str:
        if quote.kind == "row":
            return row_text(quote.text, reader.header_cells(quote.position), reader.language)
        # The slide's 👉 and bullet marks point at the sentence; in an answer they are noise.
        return LEADING_MARKS_RE.sub("", quote.text)

    def _table_label(self, reader: Reader, chunk: Chunk, quote: Quote) -> str:
        if quote.kind != "row" or not chunk.table_caption or chunk.table_caption == chunk.table_header:
            return ""
        caption = reader.passage(chunk.order).split("\n", 1)[0]
        label = MESSAGES[reader.language]["table"].format(caption=caption)
        return f"（{label}）" if reader.language != "en" else f" ({label})"

    def _citation(self, n: int, reader: Reader, chunk: Chunk, quote: str, original: str) -> Citation:
        return Citation(n, chunk.id, chunk.section_id, reader.title(chunk), quote, original, chunk.section_title)

    # -- a chapter's summary, a section or a table as a whole -------------------------------------------

    def whole(self, question: str, reader: Reader, intent: Intent, hits: list[Hit]) -> Answer | None:
        """The part of the report the question points at, quoted whole: a chapter summary's sentences, a
        section's 👉 takeaways (or its opening lines), its tables; None when the report has no such part."""
        if intent.kind == "table" or "table" in intent.fields:
            return self.tables(question, reader, intent, hits)
        chunks = [c for c in self.index.chunks if c.section_id in intent.sections]
        if not chunks:
            return None
        picked: list[tuple[Chunk, list[int]]] = []
        for chunk in chunks:
            units = self._units(chunk)
            if not chunk.section_id.endswith("のまとめ"):
                units = [u for u in units if self.index.unit_texts[u].lstrip("- ").startswith(BULLET)]
            if units:
                picked.append((chunk, units))
        if not picked:  # a section without 👉 takeaways: its own prose, outside its tables and sub-headings
            picked = [(c, self._units(c)) for c in chunks if c.kind == "text" and not c.heading_path]
            picked = [(c, units) for c, units in picked if units] or [(chunks[0], self._units(chunks[0])[:3])]
        head = picked[0][0]
        parts = [(chunk, [self._plain(reader, u) for u in units], units) for chunk, units in picked]
        return self._whole_answer(question, reader, intent, hits, reader.title(head), head, parts)

    def tables(self, question: str, reader: Reader, intent: Intent, hits: list[Hit]) -> Answer | None:
        """What the tables in scope hold: each small table's rows, or a larger one's columns and row names."""
        if intent.sections:
            scope = [c for c in self.index.chunks if c.section_id in intent.sections and c.kind == "table"]
        else:
            top = next((h.chunk for h in hits if h.chunk.kind == "table"), None)
            scope = [] if top is None else [c for c in self.index.chunks if _same_table(c, top)]
        if not scope:
            return None
        groups: dict[tuple[str, str], list[Chunk]] = {}
        for chunk in scope:
            groups.setdefault((chunk.section_id, chunk.table_caption), []).append(chunk)
        parts: list[tuple[Chunk, list[str], Sequence[int] | Sequence[str]]] = []
        for chunks in groups.values():
            rows = {c.order: [u for u in self._units(c) if unit_kind(self.index, u) == "row"] for c in chunks}
            caption = reader.passage(chunks[0].order).split("\n", 1)[0]
            if sum(len(r) for r in rows.values()) <= SMALL_TABLE_ROWS:
                # A small table whole: each of its passages cites its own rows (the caption heads the first).
                for i, c in enumerate(chunks):
                    cells = [
                        row_text(reader.unit(u), reader.header_cells(c.order), reader.language) for u in rows[c.order]
                    ]
                    parts.append((c, ([caption] if i == 0 else []) + cells, rows[c.order]))
            else:
                # A larger one: its columns and what each row is about, citing its caption and header.
                labels = [row_label(reader.unit(u)) for r in rows.values() for u in r]
                columns = ", ".join(h for h in reader.header_cells(chunks[0].order) if h)
                shown = [MESSAGES[reader.language]["table_rows"].format(caption=caption, columns=columns),
                         "; ".join(label for label in labels if label)]  # fmt: skip
                head_lines = [line for line in (chunks[0].table_caption, chunks[0].table_header) if line]
                parts.append((chunks[0], shown, head_lines))
        head = parts[0][0]
        return self._whole_answer(question, reader, intent, hits, reader.title(head), head, parts)

    def _whole_answer(
        self,
        question: str,
        reader: Reader,
        intent: Intent,
        hits: list[Hit],
        title: str,
        head: Chunk,
        parts: Sequence[tuple[Chunk, list[str], Sequence[int] | Sequence[str]]],
    ) -> Answer:
        lines = [MESSAGES[reader.language]["section"].format(section=head.section_id, title=title)]
        citations = []
        for n, (chunk, shown, units) in enumerate(parts, start=1):
            lines += [f"- {text}" for text in shown]
            lines[-1] += f" [{n}]"
            originals = [self.index.unit_texts[u] if isinstance(u, int) else u for u in units]
            quote = "\n".join(shown)
            citations.append(self._citation(n, reader, chunk, quote, "\n".join(originals)))
        return Answer(
            question, reader.language, "\n".join(lines), False, tuple(citations), tuple(hits), intent=intent.kind,
            direct=len(citations),
        )  # fmt: skip

    def numbered_list(
        self, question: str, reader: Reader, evidence: Evidence, hits: list[Hit], intent: Intent
    ) -> Answer | None:
        """A question about a numbered list as a whole ("What are the main challenges?") answered with its items,
        one numbered sub-heading each, when the direct answer sits under one."""
        direct = evidence.quotes[0]
        head = self.index.chunks[direct.position]
        if answer_type(question) != "list" or evidence.wanted is not None:
            return None
        if len(head.heading_path) < 2 or not self._heading_item(direct.position):
            return None
        items: dict[str, Chunk] = {}
        for position in self._same_list(direct.position):
            chunk = self.index.chunks[position]
            if self._heading_item(position):
                items.setdefault(chunk.heading_path[-1], chunk)
        # About the list, not one item: its heading holds a term of the question, none of its items' headings do.
        terms = set(evidence.terms)
        parent = reader.context(direct.position).split(" > ")[-2]
        if len(items) < 3 or not terms & set(reader.tokenize(parent)):
            return None
        if any(terms & set(reader.tokenize(reader.heading(chunk.order))) for chunk in items.values()):
            return None
        parts = [(chunk, [reader.heading(chunk.order)], [heading]) for heading, chunk in items.items()]
        return self._whole_answer(question, reader, intent, hits, reader.title(head), head, parts)

    def _units(self, chunk: Chunk) -> list[int]:
        return [int(u) for u in np.flatnonzero(self.index.unit_chunk == chunk.order)]

    def _plain(self, reader: Reader, u: int) -> str:
        return LEADING_MARKS_RE.sub("", reader.unit(u)).strip()

    # -- abstention -------------------------------------------------------------------------------------

    def abstention(self, question: str, language: str, hits: list[Hit], intent: Intent) -> Answer:
        text = abstention_text(language, hits, self.readers[language])
        return Answer(question, language, text, True, (), tuple(hits), intent=intent.kind)


def abstention_text(language: str, hits: Sequence[Hit], reader: Reader | None = None) -> str:
    """That the report does not cover the question, and the nearest sections (titled in the reader's language)."""
    sections: list[str] = []
    for hit in hits:
        if hit.chunk.section_id in ("title", "toc"):
            continue
        title = reader.title(hit.chunk) if reader is not None else hit.chunk.section_title
        label = f"【{hit.chunk.section_id}】{title}"
        if label not in sections:
            sections.append(label)
    text = MESSAGES[language]["abstain"]
    if sections:
        text += "\n" + MESSAGES[language]["nearest"].format(sections=", ".join(sections[:3]))
    return text


def _states(stated: Quantity, asked: Quantity) -> bool:
    """Whether a number of a quote states one asked for as the same kind of thing: a month as a month, a year
    (2022, as English writes it) as a year; the 6 of "No. 6" is not June."""
    same_kind = stated.unit == asked.unit or (stated.unit == "year" and not is_amount(asked))
    return same_kind and same_value(stated, asked)


def _lifted(candidates: list[Quote], bonus: Callable[[Quote], float]) -> list[Quote]:
    """The candidates with their ``bonus`` added to their scores (a malus when negative), best first."""
    return sorted((replace(q, score=q.score + b) if (b := bonus(q)) else q for q in candidates), key=lambda q: -q.score)


def _leading(lead: list[Quote], quotes: list[Quote]) -> tuple[list[Quote], int]:
    """The quotes with ``lead`` (the direct answer and what joins it) first, and how many lead."""
    return lead + [q for q in quotes[1:] if all(q.unit != other.unit for other in lead)], len(lead)


def _with_same_month(
    quotes: list[Quote], stating: Sequence[Quote], asked: Sequence[Quantity]
) -> tuple[list[Quote], int]:
    """The quotes with every other timeline entry of the asked-for month (and year) beside the direct answer, and
    how many lead: a timeline may list two events under one month ("5月は？"), and quoting one answers half. An
    entry opens with its date ("・2025年5月⇒…"); a table row or sentence that mentions the month further on is
    keyed by something else."""
    dates = [n for n in asked if not is_amount(n)]  # the month, and the year (2025 as English writes it)
    direct = quotes[0]

    def dated(q: Quote) -> bool:
        opening = _opening_date(q.original)
        return bool(opening) and all(any(_states(s, n) for s in opening) for n in dates)

    if not any(n.unit == "month" for n in dates) or not dated(direct):
        return quotes, 1
    lead = [direct]
    for q in stating:
        if len(lead) < SAME_MONTH_LINES and q.kind == direct.kind and dated(q) and not is_duplicate(q, lead):
            lead.append(q)
    return _leading(lead, quotes)


def _opening_date(text: str) -> list[Quantity]:
    """The date a line opens with ("・2025年5月⇒…": the year and month), or nothing when it opens otherwise."""
    line = LEADING_MARKS_RE.sub("", text)
    found, end = [], 0
    for q in quantities(line):
        if is_amount(q) or q.start > end + 1:  # the date ends where anything else begins
            break
        found.append(q)
        end = q.end
    return found


def _on_other_rounds(quote: Quote, asked: set[int]) -> bool:
    """Whether a quote names rounds (第3回及び第4回), none of them one of ``asked``."""
    named = rounds(quote.original)
    return bool(named) and not named & asked


def _same_table(chunk: Chunk, other: Chunk) -> bool:
    return chunk.kind == "table" and chunk.section_id == other.section_id and chunk.table_caption == other.table_caption
