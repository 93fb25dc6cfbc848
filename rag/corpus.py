"""Parse the report into sections that keep its structure: headings, tables, sources, bullets, figures."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rag.errors import CorpusError
from rag.types import Block, Section

SECTION_RE = re.compile(r"^【(\d+)-(\d+)】\s*(.*)$")
SUMMARY_RE = re.compile(r"^【(\d+)のまとめ(?:[：:]\s*([^】]*))?】\s*(.*)$")
TOC_RE = re.compile(r"^【内\s*容\s*構\s*成】")
SUBHEADING_RE = re.compile(r"^【([^】]+)】\s*(.*)$")
# Second-level headings: "1. コア技術…", "(1) 新質生産力…", "<基幹技術の研究開発>", "＜指導理念＞".
MINOR_HEADING_RE = re.compile(r"^(?:\d+\.\s+\S.*|\(\d+\)\s*\S.*|[<＜][^>＞]{1,40}[>＞])$")
SOURCE_RE = re.compile(r"^(?:資料\s*\)|資料）)")
# Citation lines without the "資料)" prefix (seen in 【4-6】).
BARE_SOURCE_RE = re.compile(r"^.{0,120}(?:より引用|より作成)。$")
BULLET_RE = re.compile(r"^(?:-\s*)?(?:👉|・)\s*")
SENTENCE_END = ("。", "．", "！", "？", "!", "?")
MAX_CAPTION_CHARS = 100
MAX_HEADER_CELL = 40
METADATA_FILE = "metadata.json"


@dataclass(frozen=True)
class Report:
    """The parsed report with its metadata and a hash of its exact text."""

    sections: tuple[Section, ...]
    metadata: dict[str, str]
    text: str
    sha256: str
    folder: Path | None = None  # the corpus folder it was read from: its edition/ translations live there

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)


def load_report(corpus_dir: Path) -> Report:
    """Read ``metadata.json`` and the report file it names, and parse it."""
    metadata = load_metadata(corpus_dir)
    report_path = corpus_dir / metadata.get("file", "report.txt")
    return replace(parse_report_file(report_path, metadata), folder=corpus_dir)


def load_metadata(corpus_dir: Path) -> dict[str, str]:
    """The corpus's ``metadata.json``: the report's file name, title, author and date."""
    meta_path = corpus_dir / METADATA_FILE
    if not meta_path.is_file():
        raise CorpusError(f"no corpus metadata at {meta_path}: set RAG_CORPUS_DIR to the corpus folder")
    try:
        metadata: dict[str, str] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{meta_path} is not valid UTF-8 JSON ({exc}): fix or restore it") from exc
    return metadata


def report_title(corpus_dir: Path, default: str = "one report") -> str:
    """The report's title for page titles and API docs; ``default`` when the corpus cannot be read
    (a server still starts, and says what is wrong once it loads the index)."""
    try:
        return load_metadata(corpus_dir).get("title") or default
    except CorpusError:
        return default


def report_label(metadata: Mapping[str, str]) -> str:
    """The report as a reference names it: 邵 永裕「中国AI産業の発展現状と将来展望」(2026.1.30)."""
    title = metadata.get("title")
    if not title:
        return "the report"
    label = f"{metadata.get('author', '')}「{title}」"
    if date := metadata.get("date", ""):
        parts = date.split("-")
        # ISO dates are written the report's way, without leading zeros.
        label += f"({'.'.join(str(int(p)) for p in parts)})" if all(p.isdigit() for p in parts) else f"({date})"
    return label


def parse_report_file(path: Path, metadata: dict[str, str] | None = None) -> Report:
    if not path.is_file():
        raise CorpusError(f"report file not found: {path}: copy the report there or set RAG_CORPUS_DIR")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not UTF-8 (byte {exc.start}): convert it, e.g. `iconv -f SHIFT_JIS -t UTF-8`"
        ) from exc
    sections = parse_sections(text)
    if not any(s.id not in ("title", "toc") for s in sections):
        raise CorpusError(f"{path} has no sections like 【1-1】 or 【1のまとめ】: is it the right report?")
    return Report(
        sections=tuple(sections),
        metadata=dict(metadata or {}),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def parse_sections(text: str) -> list[Section]:
    """Split the text at section markers; text before the table of contents is the title page."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    sections: list[Section] = []
    current_id, current_title, chapter = "title", "", None
    body: list[str] = []

    def close() -> None:
        if current_id == "title":
            title_lines = [ln.strip().lstrip("▶") for ln in body if ln.strip()]
            title = title_lines[0] if title_lines else ""
            blocks = tuple(Block(kind="paragraph", text=ln) for ln in title_lines)
            if blocks:
                sections.append(Section(id="title", title=title, blocks=blocks))
            return
        if current_id == "toc":
            # The contents list is plain lines, not headings of this section.
            blocks = tuple(Block(kind="paragraph", text=ln.strip()) for ln in body if ln.strip())
        else:
            blocks = parse_blocks(body)
        sections.append(Section(id=current_id, title=current_title, blocks=blocks, chapter=chapter))

    for line in lines:
        stripped = line.strip()
        header = _section_header(stripped)
        if header is None:
            body.append(line)
            continue
        close()
        current_id, current_title, chapter, first_line = header
        body = [first_line] if first_line else []
    close()
    return sections


def _section_header(line: str) -> tuple[str, str, int | None, str] | None:
    """(id, title, chapter, text after the header) when the line opens a section."""
    if TOC_RE.match(line):
        return "toc", "内容構成", None, ""
    m = SECTION_RE.match(line)
    if m:
        return f"{m[1]}-{m[2]}", m[3].strip(), int(m[1]), ""
    m = SUMMARY_RE.match(line)
    if m:
        title = (m[2] or m[3] or "").strip()
        rest = m[3].strip() if m[2] else ""
        return f"{m[1]}のまとめ", title, int(m[1]), rest
    return None


def _is_blank(line: str) -> bool:
    return not line.strip()


def is_source(line: str) -> bool:
    """Whether a line cites where a table or figure came from (資料) …, …より作成。)."""
    return bool(SOURCE_RE.match(line) or BARE_SOURCE_RE.match(line))


def _clean_source(line: str) -> str:
    # The report sometimes doubles the prefix ("資料) 資料) …").
    return re.sub(r"^(?:資料\s*\)\s*)+", "資料) ", line.strip())


def _looks_like_caption(line: str) -> bool:
    return (
        len(line) <= MAX_CAPTION_CHARS
        and not line.endswith(SENTENCE_END)
        and not BULLET_RE.match(line)
        and not line.startswith("【")
        and "\t" not in line
    )


def parse_blocks(lines: list[str]) -> tuple[Block, ...]:
    """Turn a section's lines into blocks, attaching captions and sources to tables and figures."""
    blocks: list[Block] = []
    major: str | None = None  # current 【…】 sub-heading
    minor: str | None = None  # current second-level heading under it
    pending: list[str] = []  # caption candidates not yet claimed by a table or figure
    i, n = 0, len(lines)

    def path() -> tuple[str, ...]:
        return tuple(h for h in (major, minor) if h)

    def flush_pending(source: str = "") -> None:
        for caption in pending:
            blocks.append(Block(kind="figure", text=caption, heading_path=path(), caption=caption, source=source))
        pending.clear()

    while i < n:
        line = lines[i].rstrip()
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if "\t" in line:
            rows: list[tuple[str, ...]] = []
            while i < n and ("\t" in lines[i] or (_is_blank(lines[i]) and _next_is_row(lines, i))):
                if "\t" in lines[i]:
                    rows.append(tuple(cell.strip() for cell in lines[i].rstrip("\n").split("\t")))
                i += 1
            caption = pending.pop() if pending else ""
            flush_pending()
            source = ""
            j = _skip_blank(lines, i)
            if j < n and is_source(lines[j].strip()):
                source, i = _clean_source(lines[j]), j + 1
            trimmed = [_trim_row(r) for r in rows]
            # A header row is short labels; some tables start straight with data.
            has_header = len(trimmed) > 1 and all(len(cell) <= MAX_HEADER_CELL for cell in trimmed[0])
            header = trimmed[0] if has_header else ()
            body_rows = tuple(trimmed[1:] if has_header else trimmed)
            blocks.append(
                Block(
                    kind="table",
                    text=caption,
                    heading_path=path(),
                    caption=caption,
                    header=header,
                    rows=body_rows,
                    source=source,
                )
            )
            continue
        i += 1
        if is_source(stripped):
            source = _clean_source(stripped)
            if pending:
                flush_pending(source)
            else:
                # A source after a figure or table that had none: attach it there.
                for k in range(len(blocks) - 1, -1, -1):
                    if blocks[k].kind in ("figure", "table") and not blocks[k].source:
                        blocks[k] = replace(blocks[k], source=source)
                        break
                else:
                    blocks.append(Block(kind="paragraph", text=source, heading_path=path()))
                    # A free-standing source closes the slide part its sub-headings introduced.
                    major = minor = None
            continue
        m = SUBHEADING_RE.match(stripped)
        if m:
            flush_pending()
            major, minor = m[1].strip(), None
            blocks.append(Block(kind="heading", text=f"【{major}】", heading_path=path()))
            if m[2].strip():
                blocks.append(Block(kind="paragraph", text=m[2].strip(), heading_path=path()))
            continue
        if MINOR_HEADING_RE.match(stripped):
            flush_pending()
            minor = stripped
            blocks.append(Block(kind="heading", text=stripped, heading_path=path()))
            continue
        if BULLET_RE.match(stripped) or stripped.startswith("- "):
            flush_pending()
            if "👉" in stripped:
                # 👉 commentary speaks about the whole slide, not the last sub-heading.
                major = minor = None
            blocks.append(Block(kind="bullet", text=stripped.removeprefix("- ").strip(), heading_path=path()))
            continue
        if _looks_like_caption(stripped):
            gap = _skip_blank(lines, i) - i
            nxt = lines[i + gap].strip() if i + gap < n else ""
            # A caption with its image missing is followed by a wide gap or its source; one
            # followed directly by text is a heading for what follows.
            if gap >= 2 or is_source(nxt) or "\t" in nxt or not nxt:
                pending.append(stripped)
            else:
                flush_pending()
                minor = stripped
                blocks.append(Block(kind="heading", text=stripped, heading_path=path()))
            continue
        flush_pending()
        blocks.append(Block(kind="paragraph", text=stripped, heading_path=path()))
    flush_pending()
    return tuple(blocks)


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and _is_blank(lines[i]):
        i += 1
    return i


def _next_is_row(lines: list[str], i: int) -> bool:
    j = _skip_blank(lines, i)
    return j < len(lines) and j - i <= 1 and "\t" in lines[j]


def _trim_row(row: tuple[str, ...]) -> tuple[str, ...]:
    # Trailing empty cells come from ragged tab-separated rows.
    cells = list(row)
    while cells and not cells[-1]:
        cells.pop()
    return tuple(cells)
