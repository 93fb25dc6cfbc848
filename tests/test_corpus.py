from pathlib import Path

import pytest

from rag.corpus import load_report, parse_report_file, parse_sections
from rag.errors import CorpusError

REPORT = Path(__file__).resolve().parent.parent / "corpus" / "report.txt"


def test_sample_sections_and_structure(sample_corpus: Path) -> None:
    report = load_report(sample_corpus)
    assert [s.id for s in report.sections] == ["title", "toc", "1-1", "1のまとめ", "2-1"]
    assert report.section("1-1").title == "ロボット政策の展開"
    assert report.section("1のまとめ").title == "政策の特徴"
    blocks = report.section("1-1").blocks
    table = next(b for b in blocks if b.kind == "table")
    assert table.caption == "中国政府によるロボット産業発展政策の展開動向"
    assert table.header == ("No.", "公布時間", "政策名称", "政策の主旨概要")
    assert len(table.rows) == 3 and table.rows[2][1] == "2023年"
    assert table.source == "資料) 中国政府WEBサイトより作成。"
    figure = next(b for b in blocks if b.kind == "figure")
    assert figure.caption == "特許出願数の推移" and figure.source == "資料) WIPOより作成。"
    heading = next(b for b in blocks if b.kind == "heading")
    assert heading.text == "【主要技術のブレークスルー】"
    body = next(b for b in blocks if b.text.startswith("①"))
    assert body.heading_path == ("主要技術のブレークスルー",)
    bullets = [b for b in blocks if b.kind == "bullet"]
    assert len(bullets) == 2 and all(b.text.startswith("👉") for b in bullets)
    # 👉 commentary is about the whole slide, not the last sub-heading.
    assert all(b.heading_path == () for b in bullets)


def test_real_report_has_all_sections() -> None:
    report = parse_report_file(REPORT)
    ids = [s.id for s in report.sections]
    expected = ["title", "toc"]
    counts = {1: 5, 2: 5, 3: 8, 4: 7, 5: 5}
    for chapter, n in counts.items():
        expected += [f"{chapter}-{i}" for i in range(1, n + 1)] + [f"{chapter}のまとめ"]
    assert ids == expected
    assert report.section("5のまとめ").title == "結語"
    tables = [b for s in report.sections for b in s.blocks if b.kind == "table"]
    assert len(tables) == 15
    assert all(t.source.startswith("資料)") for t in tables)


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "report.txt"
    bad.write_bytes("【1-1】中国".encode("shift_jis"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        parse_report_file(bad)


def test_no_sections_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "report.txt"
    plain.write_text("ただの文章です。\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no sections"):
        parse_report_file(plain)


def test_missing_metadata_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="RAG_CORPUS_DIR"):
        load_report(tmp_path)


def test_summary_header_with_colon() -> None:
    sections = parse_sections("【5のまとめ：結語】\n\n本文です。\n")
    assert sections[-1].id == "5のまとめ" and sections[-1].title == "結語"
