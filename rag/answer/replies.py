"""Replies that need no search: help for a greeting or "what can you do?", and the report's own title, author,
date and contents, read from the corpus metadata and the title page."""

from __future__ import annotations

from collections.abc import Mapping

from rag.answer.messages import EXAMPLES, MESSAGES
from rag.answer.reader import Reader
from rag.chunking import passage_units
from rag.numbers import render_date
from rag.types import Answer, Citation, Hit


def help_answer(question: str, language: str, report: str) -> Answer:
    examples = "\n".join(f"- {e}" for e in EXAMPLES[language])
    text = MESSAGES[language]["help"].format(report=report, examples=examples)
    return Answer(question, language, text, False, (), (), intent="help")


def _date(value: str, language: str) -> str:
    parts = value.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return render_date(int(parts[0]), int(parts[1]), int(parts[2]), language)
    return value


def meta_answer(
    question: str, reader: Reader, metadata: Mapping[str, str], fields: tuple[str, ...], hits: tuple[Hit, ...]
) -> Answer:
    """The title (always), and the author, date or contents when asked, cited to the title page or contents."""
    language, index = reader.language, reader.index
    messages = MESSAGES[language]
    section = "toc" if fields == ("toc",) else "title"
    chunks = [c for c in index.chunks if c.section_id == section]
    if not chunks:
        return Answer(question, language, messages["abstain"], True, (), hits, intent="meta")
    chunk = chunks[0]
    units = {index.unit_texts[u]: u for u in range(len(index.unit_texts)) if index.unit_chunk[u] == chunk.order}

    def shown(japanese: str) -> str:
        u = units.get(japanese)
        return reader.unit(u) if u is not None else japanese

    lines: list[str] = []
    originals: list[str] = []
    if section == "toc":
        lines.append(messages["meta_toc"])
        for unit in passage_units(chunk):
            lines.append(f"- {shown(unit)}")
            originals.append(unit)
    else:
        title, subtitle = metadata.get("title", ""), metadata.get("subtitle", "")
        lines.append(
            messages["meta_title"].format(title=shown(title), subtitle=f" {shown(subtitle)}" if subtitle else "")
        )
        originals += [title, subtitle]
        if "author" in fields or "date" in fields or fields == ("title",):
            author = metadata.get("author", "")
            if author and fields != ("title",):
                lines.append(messages["meta_author"].format(author=shown(author)))
                originals.append(author)
            if metadata.get("date") and "date" in fields:
                lines.append(messages["meta_date"].format(date=_date(metadata["date"], language)))
                originals += [u for u in units if u.startswith("(")]
    quote = "\n".join(line.removeprefix("- ") for line in lines)
    lines[-1] += " [1]"
    citation = Citation(
        1, chunk.id, chunk.section_id, reader.title(chunk), quote, "\n".join(o for o in originals if o),
        chunk.section_title,
    )  # fmt: skip
    return Answer(question, language, "\n".join(lines), False, (citation,), hits, intent="meta")
