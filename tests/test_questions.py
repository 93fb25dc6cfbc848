"""Validate the evaluation question set corpus/questions.jsonl against corpus/report.txt.

Every answerable question must point at evidence that is an exact substring of the report, lies
inside the section the question names, and holds the key facts a correct answer must contain. The
set is split into a tuning and a held-out test part, fixed in the file and stratified.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REPORT_PATH = REPO / "corpus" / "report.txt"
QUESTIONS_PATH = REPO / "corpus" / "questions.jsonl"

LANGUAGES = ("ja", "en", "zh")
MIN_ANSWERABLE = {"ja": 48, "en": 48, "zh": 20}
MIN_UNANSWERABLE_PER_LANGUAGE = 6
MIN_UNANSWERABLE_TOTAL = 12
MIN_QUESTIONS_PER_SECTION = 2
FIELDS = {"id", "language", "kind", "question", "answerable", "section", "evidence", "key_facts", "split"}
KINDS = {"fact", "table", "number", "summary", "structure", "meta", "followup", "help", "unanswerable", "injection"}
MIN_HELD_OUT = 0.30
# Kinds the issue asks the set to have, at least this many per language.
MIN_PER_KIND = {"summary": 4, "structure": 3, "table": 4, "number": 3, "followup": 4, "unanswerable": 7}

# A section header starts a line: 【2-1】... or 【1のまとめ】... / 【5のまとめ：結語】.
HEADER_RE = re.compile(r"^【(\d-\d)】|^【(\dのまとめ)", re.MULTILINE)
SECTION_ID_RE = re.compile(r"^(\d-\d|\dのまとめ|title|toc)$")
ID_RE = re.compile(r"^(ja|en|zh)-(\d{3}|[unfst]\d{2})$")
KANA_RE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_RE = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def report() -> str:
    return REPORT_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sections(report: str) -> dict[str, tuple[int, int]]:
    """Section id -> (start, end) character offsets: from its header to the next section header."""
    heads = [(m.group(1) or m.group(2), m.start()) for m in HEADER_RE.finditer(report)]
    ids = [h[0] for h in heads]
    assert len(ids) == len(set(ids)), f"a section header occurs twice: {Counter(ids).most_common(3)}"
    spans = {}
    for i, (sid, start) in enumerate(heads):
        end = heads[i + 1][1] if i + 1 < len(heads) else len(report)
        spans[sid] = (start, end)
    # The title page, then the contents, come before the first section.
    toc = report.index("【内 容 構 成】")
    spans["title"], spans["toc"] = (0, toc), (toc, heads[0][1])
    return spans


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    rows = []
    with QUESTIONS_PATH.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            assert line.strip(), f"line {n} is blank"
            rows.append(json.loads(line))
    return rows


@pytest.fixture(scope="module")
def answerable(questions: list[dict]) -> list[dict]:
    return [q for q in questions if q["answerable"]]


def test_report_has_all_sections(sections: dict) -> None:
    expected = {f"{c}-{n}" for c, top in ((1, 5), (2, 5), (3, 8), (4, 7), (5, 5)) for n in range(1, top + 1)}
    expected |= {f"{c}のまとめ" for c in range(1, 6)} | {"title", "toc"}
    assert set(sections) == expected


def test_fields_and_types(questions: list[dict]) -> None:
    for q in questions:
        fields = FIELDS | {"history"} if q.get("kind") == "followup" else FIELDS
        assert set(q) == fields, f"{q.get('id')}: fields {sorted(q)}"
        assert q["kind"] in KINDS and q["split"] in ("tune", "test"), q["id"]
        assert isinstance(q["id"], str) and isinstance(q["question"], str) and q["question"].strip()
        assert isinstance(q["answerable"], bool)
        assert isinstance(q["section"], str)
        assert isinstance(q["evidence"], list) and all(isinstance(e, str) for e in q["evidence"])
        assert isinstance(q["key_facts"], list) and all(isinstance(k, str) for k in q["key_facts"])


def test_ids_unique_and_well_formed(questions: list[dict]) -> None:
    ids = [q["id"] for q in questions]
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"
    for q in questions:
        m = ID_RE.match(q["id"])
        assert m, f"bad id {q['id']!r}"
        assert m.group(1) == q["language"], f"{q['id']}: id prefix does not match language {q['language']}"
        if m.group(2).startswith("u"):
            assert not q["answerable"], f"{q['id']}: a u-id is unanswerable"


def test_languages_valid(questions: list[dict]) -> None:
    bad = [q["id"] for q in questions if q["language"] not in LANGUAGES]
    assert not bad, f"invalid language: {bad}"


def test_counts(questions: list[dict]) -> None:
    ans = Counter(q["language"] for q in questions if q["answerable"])
    unans = Counter(q["language"] for q in questions if not q["answerable"])
    for lang, minimum in MIN_ANSWERABLE.items():
        assert ans[lang] >= minimum, f"{lang}: {ans[lang]} answerable < {minimum}"
    for lang in LANGUAGES:
        assert unans[lang] >= MIN_UNANSWERABLE_PER_LANGUAGE, f"{lang}: {unans[lang]} unanswerable"
    assert sum(unans.values()) >= MIN_UNANSWERABLE_TOTAL


def test_question_language_matches_script(questions: list[dict]) -> None:
    for q in questions:
        text = q["question"]
        if q["kind"] == "followup" and len(text) <= 12:
            continue  # 「2023年は？」, "那美国呢？": too short to tell by script; the history is in the language
        if q["language"] == "ja":
            assert KANA_RE.search(text), f"{q['id']}: Japanese question without kana"
        elif q["language"] == "zh":
            assert not KANA_RE.search(text), f"{q['id']}: Chinese question contains kana"
            han = HAN_RE.findall(text)
            assert han and len(han) > len(LATIN_RE.findall(text)), f"{q['id']}: Chinese question is not Han-dominant"
        else:
            assert not KANA_RE.search(text), f"{q['id']}: English question has kana"
            visible = [ch for ch in text if not ch.isspace() and ch not in "【】"]  # a section as the report writes it
            ascii_share = sum(ch.isascii() for ch in visible) / len(visible)
            assert ascii_share >= 0.95, f"{q['id']}: English question is not ASCII-dominant ({ascii_share:.2f})"


def test_unanswerable_have_no_answer_fields(questions: list[dict]) -> None:
    for q in questions:
        if not q["answerable"]:
            assert q["section"] == "" and q["evidence"] == [] and q["key_facts"] == [], q["id"]


def test_answerable_section_exists(answerable: list[dict], report: str, sections: dict) -> None:
    for q in answerable:
        sid = q["section"]
        assert sid and SECTION_ID_RE.match(sid), f"{q['id']}: bad section {sid!r}"
        if sid in ("title", "toc"):
            continue  # the title page and the contents have no 【…】 header
        header = f"【{sid}" if "まとめ" in sid else f"【{sid}】"
        assert header in report, f"{q['id']}: header {header} not in report"
        assert sid in sections, f"{q['id']}: {sid} is not a section header at a line start"


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_evidence_exact_and_well_formed(answerable: list[dict], report: str) -> None:
    flat = _flat(report)
    for q in answerable:
        assert 1 <= len(q["evidence"]) <= 3, f"{q['id']}: needs 1-3 evidence strings"
        for e in q["evidence"]:
            # Exact but for whitespace: a table row's cells are joined by tabs in the report.
            assert _flat(e) in flat, f"{q['id']}: evidence not in report: {e!r}"
            assert "\t" not in e and "\n" not in e and "\r" not in e, f"{q['id']}: tab/newline in {e!r}"
            assert e == e.strip(), f"{q['id']}: evidence starts/ends with whitespace: {e!r}"
            assert 4 <= len(e) <= 120, f"{q['id']}: evidence length {len(e)}: {e!r}"


def test_evidence_lies_in_section(answerable: list[dict], report: str, sections: dict) -> None:
    for q in answerable:
        start, end = sections[q["section"]]
        inside = _flat(report[start:end])
        for e in q["evidence"]:
            assert _flat(e) in inside, f"{q['id']}: evidence not inside section {q['section']}: {e!r}"


def test_key_facts_in_evidence(answerable: list[dict]) -> None:
    for q in answerable:
        assert 1 <= len(q["key_facts"]) <= 3, f"{q['id']}: needs 1-3 key facts"
        for k in q["key_facts"]:
            assert k and k == k.strip(), f"{q['id']}: empty or padded key fact {k!r}"
            assert any(k in e for e in q["evidence"]), f"{q['id']}: key fact {k!r} not in its evidence"


def test_follow_ups_have_a_history(questions: list[dict]) -> None:
    for q in questions:
        if q["kind"] == "followup":
            turns = q["history"]
            assert turns and turns[0]["role"] == "user" and turns[0]["content"].strip(), q["id"]


def test_the_kinds_the_issue_asks_for(questions: list[dict]) -> None:
    for lang in LANGUAGES:
        kinds = Counter(q["kind"] for q in questions if q["language"] == lang)
        for kind, minimum in MIN_PER_KIND.items():
            assert kinds[kind] >= minimum, f"{lang}: {kinds[kind]} {kind} questions < {minimum}"


def test_split_holds_out_at_least_30_percent_per_stratum(questions: list[dict]) -> None:
    # Stratified by language and answerability: each language's answerable and unanswerable questions are
    # held out in about the same share, and never less than 30% overall in a language.
    for lang in LANGUAGES:
        mine = [q for q in questions if q["language"] == lang]
        assert sum(q["split"] == "test" for q in mine) / len(mine) >= MIN_HELD_OUT, lang
        for answerable in (True, False):
            part = [q for q in mine if q["answerable"] is answerable]
            share = sum(q["split"] == "test" for q in part) / len(part)
            assert 0.25 <= share <= 0.5, f"{lang} answerable={answerable}: {share:.2f} held out"


def test_every_section_is_covered(answerable: list[dict], sections: dict) -> None:
    per_section = Counter(q["section"] for q in answerable)
    thin = {s: per_section[s] for s in sections if per_section[s] < MIN_QUESTIONS_PER_SECTION}
    assert not thin, f"sections with fewer than {MIN_QUESTIONS_PER_SECTION} questions: {thin}"


def test_questions_unique(questions: list[dict]) -> None:
    texts = Counter(q["question"] for q in questions)
    dupes = [t for t, c in texts.items() if c > 1]
    assert not dupes, f"duplicate questions: {dupes}"
