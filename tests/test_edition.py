"""The aligned edition (rag/edition.py, rag/edition_index.py): units keyed by their Japanese text, translation
files checked line by line, passages put together in each language, and the index holding all three."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag.chunking import ChunkingConfig, chunk_sections
from rag.corpus import load_report
from rag.edition import (
    check_edition,
    edition_path,
    load_edition,
    report_editions,
    report_units,
    unit_key,
)
from rag.embed import HashEmbedder
from rag.errors import EditionError
from rag.index import build_index, current_build, load_index, read_manifest


def units_of(corpus: Path) -> list:
    report = load_report(corpus)
    return report_units(report, chunk_sections(report.sections))


def lines_of(corpus: Path) -> list[str]:
    return edition_path(corpus, "en").read_text(encoding="utf-8").splitlines()


def write(corpus: Path, lines: list[str]) -> None:
    edition_path(corpus, "en").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_unit_is_keyed_by_its_japanese_text(edition_corpus: Path) -> None:
    units = units_of(edition_corpus)
    kinds = {u.kind for u in units}
    assert {"title", "heading", "sentence", "caption", "header", "row", "figure", "source"} <= kinds
    assert all(u.key == unit_key(u.ja) for u in units)
    row = next(u for u in units if u.kind == "row")
    assert row.ja == "1 | 2012年 | サービスロボット特別企画 | 人型ロボットの開発に重点を置く。"
    assert next(u for u in units if u.kind == "figure").ja == "特許出願数の推移"  # without the [図] mark


def test_passages_are_put_together_in_the_editions_language(edition_corpus: Path) -> None:
    report = load_report(edition_corpus)
    edition = report_editions(report, ChunkingConfig())["en"]
    chunks = chunk_sections(report.sections)
    table = next(c for c in chunks if c.kind == "table")
    assert edition.passage(table).splitlines()[:2] == [
        "Trends in the Chinese government's robot industry development policy",
        "No. | Issued | Policy name | Gist of the policy",
    ]
    figure = next(c for c in chunks if "[図] 特許出願数の推移" in c.text)
    assert "[Figure] Trend in the number of patent applications\nSource) Compiled from WIPO." in edition.passage(figure)
    prose = next(c for c in chunks if "①" in c.text)
    assert "① Develop the “brain” of humanoid robots. ② Make breakthroughs" in edition.passage(prose)
    assert edition.context(prose) == "【1-1】Development of robot policy > Breakthroughs in key technologies"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda lines: [*lines, "{not json"], r"en\.jsonl:26: not valid JSON"),
        (lambda lines: [*lines, lines[3]], r"en\.jsonl:26: duplicate key \w+ \(first on line 4\)"),
        (lambda lines: [*lines, json.dumps({"key": "0" * 16, "text": "x"})], r":26: unit 0{16} matches no unit"),
        (
            lambda lines: [*lines[:2], json.dumps({**json.loads(lines[2]), "ja": "別の文"}), *lines[3:]],
            r':3: "ja" is not',
        ),
        (lambda lines: [*lines[:1], json.dumps({"key": json.loads(lines[1])["key"]}), *lines[2:]], r':2: .*"text"'),
    ],
)
def test_a_malformed_translation_file_is_refused_with_its_line(edition_corpus: Path, broken, message: str) -> None:
    write(edition_corpus, broken(lines_of(edition_corpus)))
    by_key = {u.key: u for u in units_of(edition_corpus)}
    with pytest.raises(EditionError, match=message):
        load_edition(edition_path(edition_corpus, "en"), "en", by_key)


def test_a_file_that_is_not_utf8_names_its_line(edition_corpus: Path) -> None:
    edition_path(edition_corpus, "en").write_bytes("\n".join(lines_of(edition_corpus)[:2]).encode() + b"\n\xff\xfe")
    with pytest.raises(EditionError, match=r"en\.jsonl:3: not UTF-8"):
        load_edition(edition_path(edition_corpus, "en"), "en", {u.key: u for u in units_of(edition_corpus)})


def test_the_index_holds_the_edition_and_its_hash(edition_corpus: Path, tmp_path: Path) -> None:
    report = load_report(edition_corpus)
    manifest, built = build_index(report, HashEmbedder(), tmp_path / "index")
    assert built and list(manifest["editions"]) == ["en"] and manifest["edition_units"] == {"en": {"missing": 0}}
    assert {"edition-en.json", "vectors-en.faiss", "unit-vectors-en.npy"} <= set(manifest["files"])
    index = load_index(tmp_path / "index")
    edition = index.editions["en"]
    assert len(edition.passages) == len(index.chunks) and len(edition.units) == len(index.unit_texts)
    # A changed translation makes the index stale: the next build redoes it.
    lines = lines_of(edition_corpus)
    write(edition_corpus, [line.replace("Growth in scale", "Expansion of scale") for line in lines])
    _, rebuilt = build_index(load_report(edition_corpus), HashEmbedder(), tmp_path / "index")
    assert rebuilt and load_index(tmp_path / "index").editions["en"].titles["2-1"] == "Expansion of scale"


def test_a_stale_edition_falls_back_to_the_original_for_what_it_lacks(
    edition_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(edition_corpus, [line for line in lines_of(edition_corpus) if "490万社" not in line])
    with caplog.at_level(logging.WARNING, logger="rag.edition"):
        manifest, _ = build_index(load_report(edition_corpus), HashEmbedder(), tmp_path / "index")
    assert manifest["edition_units"]["en"]["missing"] == 1
    assert sum("1 of 25 units have no translation" in r.getMessage() for r in caplog.records) == 1
    index = load_index(tmp_path / "index")
    u = next(i for i, text in enumerate(index.unit_texts) if "490万社" in text)
    assert index.editions["en"].units[u] is None
    assert "490万社" in index.editions["en"].passages[int(index.unit_chunk[u])]


def test_a_bad_translation_file_stops_the_build_and_keeps_the_last_good_index(
    edition_corpus: Path, tmp_path: Path
) -> None:
    first, _ = build_index(load_report(edition_corpus), HashEmbedder(), tmp_path / "index")
    write(edition_corpus, [*lines_of(edition_corpus), "{broken"])
    with pytest.raises(EditionError, match="not valid JSON"):
        build_index(load_report(edition_corpus), HashEmbedder(), tmp_path / "index", force=True)
    assert (read_manifest(tmp_path / "index") or {}).get("build_id") == first["build_id"]
    assert current_build(tmp_path / "index") is not None


def test_check_reports_every_problem_with_its_line(edition_corpus: Path) -> None:
    lines = lines_of(edition_corpus)
    row = next(i for i, line in enumerate(lines) if "2027年" in json.loads(line)["ja"])
    wrong = json.loads(lines[row])
    wrong["text"] = "3 | 2023 | Humanoid robot guiding opinions | Reach the world's advanced level by 2028."
    write(edition_corpus, [*lines[:row], json.dumps(wrong, ensure_ascii=False), *lines[row + 1 : -1], "{x"])
    result = check_edition(edition_path(edition_corpus, "en"), "en", units_of(edition_corpus))
    assert not result.ok and result.covered == 24 and len(result.missing) == 1
    assert any(f"en.jsonl:{row + 1} [{wrong['key']}] number 2027年 is missing" in p for p in result.problems)
    assert any("not valid JSON (Expecting property name enclosed in double quotes)" in p for p in result.problems)


def test_the_shipped_edition_covers_the_report_and_passes_its_checks() -> None:
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    units = units_of(corpus)
    for language in ("en", "zh"):
        result = check_edition(edition_path(corpus, language), language, units)
        assert result.problems == [] and result.missing == [], language
        assert result.covered == result.units == len(units)
