"""Answers, citations, retrieval traces and eval reports as the Markdown/HTML the chat UI shows.

Pure functions without gradio, so they are tested fast. Everything taken from the report or the
user is escaped here: the chat renders Markdown with HTML, and a passage may contain ``<`` or ``*``.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from rag.lang import LANGUAGES
from rag.types import Answer, Citation, Hit

SOURCES_LABEL = "出典 · Sources · 来源"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$!])")
_BULLET = re.compile(r"^(\s*)- ")
_CITE_MARK = re.compile(r"\\\[(\d+)\\\]$")  # the answerer's own "[n]" ends a quote line
_ANY_CITE_MARK = re.compile(r"\\\[(\d+)\\\]")  # a generated answer cites after each claim
_BOLD = re.compile(r"\\\*\\\*(.+?)\\\*\\\*")  # **span**, as md_escape leaves it


def md_escape(text: str) -> str:
    """Escape Markdown and HTML syntax so report text shows literally (``&`` too: ``&amp;`` is text)."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def answer_markdown(text: str, generated: bool = False) -> str:
    """The answer as Markdown: its "- " quote lines stay a list, its [n] markers become citation badges
    (an extractive answer's at line ends only, a generated answer's anywhere), everything else is literal."""
    marks = _ANY_CITE_MARK if generated else _CITE_MARK
    lines = []
    for line in text.split("\n"):
        bullet = _BULLET.match(line)
        prefix, rest = (bullet.group(0), line[bullet.end() :]) if bullet else ("", line)
        escaped = marks.sub(r'<sup class="rr-ref">[\1]</sup>', md_escape(rest))
        # The answerer marks the asked-for amount or date in **bold**: the one piece of Markdown let through.
        escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
        lines.append(prefix + escaped)
    return "\n".join(lines)


def stream_pieces(text: str, steps: int = 40, min_piece: int = 3) -> Iterator[str]:
    """Growing prefixes of ``text``, about ``steps`` of them, the last being the whole text."""
    size = max(min_piece, -(-len(text) // steps))
    for end in range(size, len(text) + size, size):
        yield text[: min(end, len(text))]


def highlight(passage: str, quote: str) -> str:
    """The passage as HTML with the quote wrapped in <mark>; both escaped.

    The quote is found exactly, else ignoring whitespace (a table row may be re-spaced when
    quoted); when it is not in the passage at all the passage is shown unmarked.
    """
    span = _find(passage, quote)
    if span is None:
        return _lines(passage)
    start, end = span
    return f"{_lines(passage[:start])}<mark>{_lines(passage[start:end])}</mark>{_lines(passage[end:])}"


def _find(passage: str, quote: str) -> tuple[int, int] | None:
    quote = quote.strip()
    if not quote:
        return None
    start = passage.find(quote)
    if start >= 0:
        return start, start + len(quote)
    chars = [re.escape(c) for c in quote if not c.isspace()]
    match = re.search(r"\s*".join(chars), passage)
    return match.span() if match else None


def _lines(text: str) -> str:
    # One line of HTML: a blank line would end the Markdown renderer's HTML block mid-passage.
    return html.escape(text).replace("\r", "").replace("\n", "<br>")


# Under a translated passage: whose translation it is, and which text rules.
TRANSLATION_NOTES = {
    "en": "English translation by report-rag; the Japanese original is authoritative.",
    "zh": "中文译文由 report-rag 提供，以日文原文为准。",
}
ORIGINAL_LABEL = "原文 · Japanese original · 日文原文"


def citations_html(citations: Sequence[Citation], hits: Sequence[Hit]) -> str:
    """Under an answer: one folded <details> per citation, "[n] 【id】title", opening on the full passage with
    the quoted words marked; for a translated passage, the Japanese original folded inside it, its quote
    marked too."""
    if not citations:
        return ""
    found = {h.chunk.id: h for h in hits}
    shared = Counter(c.section_id for c in citations)
    items = []
    for c in citations:
        hit = found.get(c.chunk_id)
        summary = (
            f'<span class="rr-n">[{c.n}]</span> '
            f'<span class="rr-sec">【{html.escape(c.section_id)}】</span>{html.escape(c.section_title)}'
        )
        if shared[c.section_id] > 1:  # several from one section: say which part of it each one is
            summary += f'<span class="rr-sub"> › {html.escape(_part(c, hit))}</span>'
        if hit is None:  # not among the hits: show what we have, the quote itself
            body = f"<mark>{_lines(c.quote)}</mark>"
        elif hit.translation is not None:
            t = hit.translation
            original = _passage_html(hit.chunk.heading_path, hit.chunk.text, c.original)
            body = (
                _passage_html(t.heading_path, t.text, c.quote)
                + f'<div class="rr-note">{html.escape(TRANSLATION_NOTES.get(t.language, ""))}</div>'
                + f'<details class="rr-original"><summary>{ORIGINAL_LABEL}</summary>{original}</details>'
            )
        else:
            body = _passage_html(hit.chunk.heading_path, hit.chunk.text, c.quote)
        items.append(f'<details class="rr-cite"><summary>{summary}</summary>{body}</details>')
    return f'<div class="rr-sources"><div class="rr-sources-title">{SOURCES_LABEL}</div>{"".join(items)}</div>'


def _part(citation: Citation, hit: Hit | None) -> str:
    """Where in its section a citation sits: its passage's sub-heading, or else its quote's beginning."""
    if hit is not None:
        path = hit.translation.heading_path if hit.translation is not None else hit.chunk.heading_path
        if path:
            return path[-1]
    first = citation.quote.split("\n", 1)[0]
    return first if len(first) <= 60 else first[:59] + "…"


def _passage_html(heading_path: Sequence[str], text: str, quote: str) -> str:
    path = " › ".join(html.escape(p) for p in heading_path)
    where = f'<div class="rr-path">{path}</div>' if path else ""
    return f'{where}<div class="rr-passage">{_marked_lines(text, quote) or _lines(text)}</div>'


def _marked_lines(text: str, quote: str) -> str:
    """The passage with every line of a (multi-line) quote marked."""
    spans = sorted(span for line in quote.split("\n") if (span := _find(text, line)) is not None)
    if not spans:
        return ""
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        out += [_lines(text[at:start]), f"<mark>{_lines(text[start:end])}</mark>"]
        at = end
    return "".join([*out, _lines(text[at:])])


def meta_html(answer: Answer) -> str:
    """A quiet footer line: detected language and time taken."""
    state = " · abstained" if answer.abstained else ""
    state += html.escape(generation_note(answer))
    return f'<div class="rr-meta">{html.escape(answer.language)} · {answer.took_ms:.0f} ms{state}</div>'


def generation_note(answer: Answer) -> str:
    """What the LLM path did, for the footer; empty for a plain extractive answer."""
    note = ""
    if answer.generator == "llm":
        note = " · generated by the LLM, verified against the passages"
    if answer.fallback:
        note = f" · quoted instead of generated ({answer.fallback})"
    if answer.removed:
        note += f" · {len(answer.removed)} unverified sentence(s) removed"
    if answer.interrupted:
        note += f" · the LLM stopped early ({answer.interrupted})"
    return note


def answer_message(answer: Answer) -> str:
    """The full chat message: the answer, its sources and the footer."""
    parts = [
        answer_markdown(answer.text, answer.generator == "llm"),
        citations_html(answer.citations, answer.hits),
        meta_html(answer),
    ]
    return "\n\n".join(p for p in parts if p)


def trace_rows(answer: Answer) -> list[dict[str, Any]]:
    """One row per retrieved passage: rank, fused score, each retriever's rank, and whether it is cited."""
    cited: dict[str, list[int]] = {}
    for c in answer.citations:
        cited.setdefault(c.chunk_id, []).append(c.n)
    return [
        {
            "rank": h.rank,
            "score": h.score,
            "retrievers": dict(h.retrievers),
            "section": h.chunk.section_id,
            "title": h.chunk.section_title,
            "kind": h.chunk.kind,
            "cited": cited.get(h.chunk.id, []),
            "text": h.chunk.text,
        }
        for h in answer.hits
    ]


def trace_html(answer: Answer) -> str:
    """The retrieval trace as an HTML table, each passage folded under its first line."""
    head = (
        f'<div class="rr-trace-q">{html.escape(answer.question)}'
        f' <span class="rr-meta">({html.escape(answer.language)}, {len(answer.hits)} passages)</span></div>'
    )
    rows = []
    for r in trace_rows(answer):
        found = "".join(
            f'<span class="rr-badge rr-{html.escape(name)}">{html.escape(name)} #{rank}</span>'
            for name, rank in r["retrievers"].items()
        )
        cited = " ".join(f"[{n}]" for n in r["cited"])
        first = r["text"].partition("\n")[0]
        preview = html.escape(first[:80]) + ("…" if len(r["text"]) > 80 or "\n" in r["text"] else "")
        rows.append(
            "<tr>"
            f'<td class="rr-num">{r["rank"]}</td>'
            f'<td class="rr-num">{r["score"]:.4f}</td>'
            f"<td>{found}</td>"
            f'<td class="rr-cited">{cited}</td>'
            f"<td>【{html.escape(r['section'])}】{html.escape(r['title'])}"
            f' <span class="rr-kind">{html.escape(r["kind"])}</span></td>'
            f'<td><details><summary>{preview}</summary><div class="rr-passage">{_lines(r["text"])}</div></details></td>'
            "</tr>"
        )
    table = (
        '<table class="rr-trace"><thead><tr><th>#</th><th>score</th><th>found by (rank)</th><th>cited</th>'
        f"<th>section</th><th>passage</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return head + table


TRACE_EMPTY = '<div class="rr-meta">Ask a question to see which passages were retrieved, by which retriever.</div>'


def retrieval_table(report: dict[str, Any]) -> list[list[Any]]:
    """Rows of split, mode, language and the retrieval metrics from ``run_evaluation``'s report
    (languages without questions left out)."""
    rows = []
    for split, by_mode in report["retrieval"].items():
        for mode, by_lang in by_mode.items():
            for lang in _ordered(by_lang):
                m = by_lang[lang]
                if m["n"]:
                    rows.append([split, mode, lang, m["n"], *(round(m[k], 3) for k in _RETRIEVAL_KEYS)])
    return rows


_RETRIEVAL_KEYS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")


def _ordered(by_lang: dict[str, Any]) -> list[str]:
    order = [*LANGUAGES, "all"]
    return sorted(by_lang, key=lambda lang: order.index(lang) if lang in order else len(order))


RETRIEVAL_COLUMNS = ["split", "mode", "lang", "n", "hit@1", "hit@5", "hit@10", "MRR@10", "nDCG@10"]

_ANSWER_KEYS = (
    "key_facts",
    "wrong_abstention",
    "abstention_recall",
    "abstention_precision",
    "quotes_per_answer",
    "quotes_with_evidence",
    "valid_citations",
)


def answers_table(report: dict[str, Any]) -> list[list[Any]]:
    """Rows of split, language and the answer metrics (key facts in the direct answer, abstention, quotes)."""
    rows = []
    for split, by_lang in report.get("answers", {}).items():
        for lang in _ordered(by_lang):
            m = by_lang[lang]
            rows.append([split, lang, m["answerable"], m["unanswerable"], *(round(m[k], 3) for k in _ANSWER_KEYS)])
    return rows


ANSWER_COLUMNS = [
    "split",
    "lang",
    "answerable",
    "unanswerable",
    "key facts",
    "wrong abstention",
    "abstention R",
    "abstention P",
    "quotes/answer",
    "quotes w/ evidence",
    "valid citations",
]
