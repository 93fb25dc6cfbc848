from pathlib import Path

from rag.chunking import ChunkingConfig, chunk_sections, count_tokens, indexed_text, passage_units, split_text
from rag.corpus import load_report, parse_report_file

REPORT = Path(__file__).resolve().parent.parent / "corpus" / "report.txt"


def test_table_rows_keep_caption_header_and_source(sample_corpus: Path) -> None:
    chunks = chunk_sections(load_report(sample_corpus).sections)
    table = [c for c in chunks if c.kind == "table"]
    assert len(table) == 1
    lines = table[0].text.split("\n")
    assert lines[0] == "中国政府によるロボット産業発展政策の展開動向"
    assert lines[1] == table[0].table_header == "No. | 公布時間 | 政策名称 | 政策の主旨概要"
    assert lines[-1] == "資料) 中国政府WEBサイトより作成。"
    assert "3 | 2023年 | 人形ロボット指導意見 | 2027年までに世界の先進レベルに達する。" in lines


def test_small_budget_repeats_header_in_every_table_piece(sample_corpus: Path) -> None:
    chunks = chunk_sections(load_report(sample_corpus).sections, ChunkingConfig(max_tokens=70, min_tokens=10))
    pieces = [c for c in chunks if c.kind == "table"]
    assert len(pieces) >= 2
    assert all(c.text.split("\n")[1] == c.table_header for c in pieces)
    assert all(c.text.endswith("資料) 中国政府WEBサイトより作成。") for c in pieces)


def test_chunks_never_straddle_sections_and_ids_are_stable(sample_corpus: Path) -> None:
    report = load_report(sample_corpus)
    first, second = chunk_sections(report.sections), chunk_sections(report.sections)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    raw = report.text
    for chunk in first:
        if chunk.section_id in ("title", "toc"):
            continue
        start = raw.index(f"【{chunk.section_id}】")
        # The section ends at the next section header (sub-headings like 【主要…】 stay inside).
        end = min(
            (raw.find(f"【{s.id}】") for s in report.sections if raw.find(f"【{s.id}】") > start), default=len(raw)
        )
        section_raw = raw[start:end].replace("\t", " | ")
        for line in chunk.text.split("\n"):
            assert line.removeprefix("[図] ").removeprefix("- ") in section_raw, (chunk.section_id, line)


def test_real_report_chunks_fit_the_window_and_stay_short() -> None:
    chunks = chunk_sections(parse_report_file(REPORT).sections)
    assert all(count_tokens(indexed_text(c)) <= 512 for c in chunks)
    mean_chars = sum(len(c.text) for c in chunks) / len(chunks)
    assert mean_chars <= 500
    assert {c.section_id for c in chunks} >= {"1-1", "3-3", "5-5", "5のまとめ"}


def test_units_are_exact_substrings_and_skip_a_header_that_only_names_columns() -> None:
    chunks = chunk_sections(parse_report_file(REPORT).sections)
    stating = [c for c in chunks if c.table_header and "(14件)" in c.table_header]
    for chunk in chunks:
        units = passage_units(chunk)
        assert units and all(u in chunk.text for u in units)
        if chunk.table_header:
            assert (chunk.table_header in units) == (chunk in stating)
    # The header "第1回…(14件) | 第2回…(11件)" states the counts asked for: it is quotable.
    assert stating


def test_split_text_respects_budget_and_keeps_text() -> None:
    text = "中国のAI産業は拡大している。" * 40
    pieces = split_text(text, 50)
    assert len(pieces) > 1
    assert all(count_tokens(p) <= 50 for p in pieces)
    assert "".join(pieces) == text
