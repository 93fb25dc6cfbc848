"""Extractive answers: quote the report's own sentences or table rows, cite them, or abstain."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rag.chunking import FIGURE_MARK
from rag.index import Index
from rag.lang import DIGITS_RE, japanese_forms
from rag.lexical import tokenize
from rag.retrieve import Scored
from rag.types import Answer, Citation, Hit

NON_ANSWER_PREFIXES = (FIGURE_MARK, "資料)")
# "第1章", "chapter 2", "第3节" point into the report's structure; they are not figures to look for.
STRUCTURE_RE = re.compile(r"第\s*\d+\s*[章節节]|\bchapters?\s*\d+|\bsections?\s*\d+(?:-\d+)?", re.IGNORECASE)
# An instruction to set the report or earlier instructions aside ("ignore the report", "忽略报告", "レポートは
# 無視して") asks nothing of the report, yet its words ("report", "instructions") meet it. Such a clause is cut
# out by its verb in the imperative: first in its clause in English and Chinese, a request form in Japanese
# (so "risks firms ignore" and "無視している" stay). The rest of the question must then find its own words
# in the quote that leads the answer. A clause ends at punctuation (or at "and" in English).
CLAUSE_START = r"(?:^|(?<=[.,;:!?。，、；：！？\n]))\s*"
SET_ASIDE_RES = {
    "en": re.compile(
        CLAUSE_START + r"(?:(?:please|now|just|then)\s+)*(?:ignore|disregard|forget)\b.*?(?=\band\b|[.,;:!?\n]|$)",
        re.IGNORECASE | re.DOTALL,
    ),
    "zh": re.compile(
        CLAUSE_START + r"[请先现在就]*(?:忽略|忽视|无视|無視|别管|不要管|不要理会|忘记|忘掉)[^，,。；;：:！!？?\n]*"
    ),
    "ja": re.compile(r"[^、，,。；;：:！!？?\n]*(?:無視|忘れ)(?:して|しろ|せよ|て|ろ)(?![いおま])"),
}

MESSAGES = {
    "ja": {
        "intro": "報告書には次のように記されています。",
        "table": "（表「{caption}」より）",
        "abstain": "申し訳ありませんが、この報告書にはご質問に答える記述が見当たりません。",
        "nearest": "関連しそうな節: {sections}",
    },
    "en": {
        "intro": "The report says (quoted in its original Japanese):",
        "table": " (from the table “{caption}”)",
        "abstain": "The report does not cover this question.",
        "nearest": "The nearest sections are: {sections}",
    },
    "zh": {
        "intro": "报告中的相关内容如下（引用日文原文）：",
        "table": "（摘自表格“{caption}”）",
        "abstain": "抱歉，该报告中没有能回答这个问题的内容。",
        "nearest": "最接近的章节：{sections}",
    },
}


@dataclass(frozen=True)
class AnswerConfig:
    """Quote selection and abstention. Thresholds are calibrated by `rag eval` on the question set."""

    passages: int = 5  # top passages whose sentences/rows may be quoted
    max_quotes: int = 4
    # Further quotes must score within this margin of the best one.
    quote_margin: float = 0.05
    # Weight of the share of question words a quote contains (helps numbers and names).
    lexical_weight: float = 0.05
    # Bonus for sentences of higher-ranked passages (weight / rank).
    rank_weight: float = 0.02
    caption_penalty: float = 0.05
    # Abstain when the best quote's cosine is below this, per question language
    # (cross-lingual similarities run lower than Japanese-to-Japanese ones).
    abstain_below: dict[str, float] = field(default_factory=lambda: {"ja": 0.0, "en": 0.0, "zh": 0.0})


@dataclass(frozen=True)
class Quote:
    chunk_pos: int
    text: str
    score: float
    cosine: float


class ExtractiveAnswerer:
    def __init__(self, index: Index, config: AnswerConfig | None = None):
        self.index = index
        self.config = config or AnswerConfig()
        # Tokenized once here rather than on every question.
        self._unit_tokens = [frozenset(tokenize(text)) for text in index.unit_texts]

    def candidate_quotes(self, question: str, scored: Scored, hits: list[Hit]) -> list[Quote]:
        """Sentences and rows of the top passages, best first: closeness to the question, the share
        of its words (or their report-word translations) they contain, and their passage's rank."""
        top = hits[: self.config.passages]
        rank_of = {h.chunk.order: h.rank for h in top}
        words = question_words(question, scored.language) | {term for term, _ in scored.expansions}
        quotes = []
        # A chunk's order is its position in the index.
        for u in np.flatnonzero(np.isin(self.index.unit_chunk, list(rank_of))):
            text = self.index.unit_texts[u]
            cosine = float(scored.unit_sims[u]) if len(scored.unit_sims) else 0.0
            overlap = len(words & self._unit_tokens[u]) / len(words) if words else 0.0
            prior = self.config.rank_weight / rank_of[int(self.index.unit_chunk[u])]
            score = cosine + self.config.lexical_weight * overlap + prior
            if text.startswith(NON_ANSWER_PREFIXES):
                # A caption of a missing figure or a source line rarely answers anything by itself.
                score -= self.config.caption_penalty
            quotes.append(Quote(int(self.index.unit_chunk[u]), text, score, cosine))
        return sorted(quotes, key=lambda q: -q.score)

    def evidence_strength(self, quotes: list[Quote]) -> float:
        return quotes[0].cosine if quotes else 0.0

    def should_abstain(self, question: str, language: str, quotes: list[Quote], hits: list[Hit]) -> bool:
        """Abstain when no quote is close enough, when the question names a number or year
        (2020年, 2030) that none of the quoted passages mention (the report covers the topic
        but not what was asked), or when what is left of the question once instructions to set
        the report aside are cut out shares no word with the leading quote."""
        if not quotes or self.evidence_strength(quotes) < self.config.abstain_below.get(language, 0.0):
            return True
        return self.abstains_by_rule(question, language, quotes)

    def abstains_by_rule(self, question: str, language: str, quotes: list[Quote]) -> bool:
        """The rules of ``should_abstain`` that do not depend on a threshold (``quotes`` not empty)."""
        rest = without_set_aside(question, language)
        if rest != question and not question_words(rest, language) & set(tokenize(quotes[0].text)):
            return True
        # Only the sections the answer would quote from count: a year somewhere else in the top
        # five (2020 as a robot-density baseline) says nothing about the quoted figures.
        sections = {self.index.chunks[q.chunk_pos].section_id for q in self.chosen(quotes)}
        passages = "\n".join(c.text for c in self.index.chunks if c.section_id in sections)
        return any(number not in passages for number in DIGITS_RE.findall(STRUCTURE_RE.sub(" ", question)))

    def chosen(self, quotes: list[Quote]) -> list[Quote]:
        """The quotes an answer uses: the best one and those within the margin of it."""
        best = quotes[0].score
        return [q for q in quotes if q.score >= best - self.config.quote_margin][: self.config.max_quotes]

    def answer(self, question: str, scored: Scored, hits: list[Hit]) -> Answer:
        language = scored.language
        quotes = self.candidate_quotes(question, scored, hits)
        if self.should_abstain(question, language, quotes, hits):
            return Answer(question, language, abstention_text(language, hits), True, (), tuple(hits))
        chosen = self.chosen(quotes)
        citations = []
        lines = [MESSAGES[language]["intro"]]
        for n, quote in enumerate(chosen, start=1):
            chunk = self.index.chunks[quote.chunk_pos]
            citations.append(Citation(n, chunk.id, chunk.section_id, chunk.section_title, quote.text))
            suffix = ""
            if chunk.kind == "table" and chunk.table_caption != quote.text:
                suffix = MESSAGES[language]["table"].format(caption=chunk.table_caption)
            opening, closing = ("「", "」") if language == "ja" else ("“", "”")
            lines.append(f"- {opening}{quote.text}{closing}{suffix} [{n}]")
        return Answer(question, language, "\n".join(lines), False, tuple(citations), tuple(hits))


def question_words(question: str, language: str) -> set[str]:
    """The question's BM25 words; Chinese in Japanese character forms, so they meet the report's."""
    return set(tokenize(japanese_forms(question) if language == "zh" else question))


def without_set_aside(question: str, language: str) -> str:
    """The question without its clauses telling the assistant to ignore the report or its instructions."""
    return SET_ASIDE_RES[language].sub(" ", question).strip()


def abstention_text(language: str, hits: list[Hit]) -> str:
    sections: list[str] = []
    for hit in hits:
        label = f"【{hit.chunk.section_id}】{hit.chunk.section_title}"
        if label not in sections:
            sections.append(label)
    text = MESSAGES[language]["abstain"]
    if sections:
        text += "\n" + MESSAGES[language]["nearest"].format(sections=", ".join(sections[:3]))
    return text
