"""Answers, citations, retrieval traces and eval reports as the Markdown/HTML the chat UI shows.

Pure functions without gradio, so they are tested fast. Everything taken from the report or the
user is escaped here: the chat renders Markdown with HTML, and a passage may contain ``<`` or ``*``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from typing import Any

from rag.lang import LANGUAGES
from rag.types import Answer, Citation, Hit

SOURCES_LABEL = "出典 · Sources · 来源"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$!])")
_BULLET = re.compile(r"^(\s*)- ")
_CITE_MARK = re.compile(r"\\\[(\d+)\\\]$")  # the answerer's own "[n]" ends a quote line


def md_escape(text: str) -> str:
    """Escape Markdown and HTML syntax so report text shows literally (``&`` too: ``&amp;`` is text)."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def answer_markdown(text: str) -> str:
    """The answer as Markdown: its "- " quote lines stay a list, its [n] markers become citation badges,
    everything else is literal."""
    lines = []
    for line in text.split("\n"):
        bullet = _BULLET.match(line)
        prefix, rest = (bullet.group(0), line[bullet.end() :]) if bullet else ("", line)
        escaped = _CITE_MARK.sub(r'<sup class="rr-ref">[\1]</sup>', md_escape(rest))
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


def citations_html(citations: Sequence[Citation], hits: Sequence[Hit]) -> str:
    """Under an answer: one folded <details> per citation, "[n] 【id】title", opening on the full
    passage with the quoted words marked."""
    if not citations:
        return ""
    chunks = {h.chunk.id: h.chunk for h in hits}
    items = []
    for c in citations:
        chunk = chunks.get(c.chunk_id)
        summary = (
            f'<span class="rr-n">[{c.n}]</span> '
            f'<span class="rr-sec">【{html.escape(c.section_id)}】</span>{html.escape(c.section_title)}'
        )
        if chunk is None:  # not among the hits: show what we have, the quote itself
            body = f"<mark>{_lines(c.quote)}</mark>"
        else:
            path = " › ".join(html.escape(p) for p in chunk.heading_path)
            where = f'<div class="rr-path">{path}</div>' if path else ""
            body = f'{where}<div class="rr-passage">{highlight(chunk.text, c.quote)}</div>'
        items.append(f'<details class="rr-cite"><summary>{summary}</summary>{body}</details>')
    return f'<div class="rr-sources"><div class="rr-sources-title">{SOURCES_LABEL}</div>{"".join(items)}</div>'


def meta_html(answer: Answer) -> str:
    """A quiet footer line: detected language and time taken."""
    state = " · abstained" if answer.abstained else ""
    return f'<div class="rr-meta">{html.escape(answer.language)} · {answer.took_ms:.0f} ms{state}</div>'


def answer_message(answer: Answer) -> str:
    """The full chat message: the answer, its sources and the footer."""
    parts = [answer_markdown(answer.text), citations_html(answer.citations, answer.hits), meta_html(answer)]
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
    """Rows of mode, language and the retrieval metrics from ``run_evaluation``'s report
    (languages without questions left out)."""
    rows = []
    for mode, by_lang in report["retrieval"].items():
        for lang in _ordered(by_lang):
            m = by_lang[lang]
            if m["n"]:
                rows.append([mode, lang, m["n"], *(round(m[k], 3) for k in _RETRIEVAL_KEYS)])
    return rows


_RETRIEVAL_KEYS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")


def _ordered(by_lang: dict[str, Any]) -> list[str]:
    order = [*LANGUAGES, "all"]
    return sorted(by_lang, key=lambda lang: order.index(lang) if lang in order else len(order))


RETRIEVAL_COLUMNS = ["mode", "lang", "n", "hit@1", "hit@5", "hit@10", "MRR@10", "nDCG@10"]


def answers_table(report: dict[str, Any]) -> list[list[Any]]:
    """Rows of language and the answer metrics (key facts, abstention, citation validity)."""
    keys = ("key_facts", "abstention_precision", "abstention_recall", "wrong_abstention", "valid_citations")
    answers = report.get("answers", {})
    return [
        [lang, answers[lang]["answerable"], answers[lang]["unanswerable"], *(round(answers[lang][k], 3) for k in keys)]
        for lang in _ordered(answers)
    ]


ANSWER_COLUMNS = [
    "lang",
    "answerable",
    "unanswerable",
    "key facts",
    "abstention P",
    "abstention R",
    "wrong abstention",
    "valid citations",
]
