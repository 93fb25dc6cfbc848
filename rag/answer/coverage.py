"""Does the report cover the question? Evidence that separates covered from uncovered questions: the share of the
question's key terms (weighed by how rare they are in the report) that the leading passage holds, names the
report never mentions, numbers and years the quoted sections lack, and instructions to set the report aside."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from rag.intents import PLACE_RE, PLACES, SECTION_RE
from rag.lang import HAN_WORD_RE
from rag.lexical import LexicalIndex, japanese_nouns, places_named, tokenize
from rag.numbers import Quantity, quantities

# "第1章", "chapter 2", "第3节", "section 2-3" point into the report's structure; they are not figures to look for.
STRUCTURE_RE = re.compile(r"第\s*\d+\s*[章節节部]|\bchapters?\s*\d+|\bsections?\s*\d+(?:-\d+)?", re.IGNORECASE)
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
# Words that ask rather than name what is asked about ("how much", 何, 多少): not key terms. English words are
# given as the stemmer leaves them.
QUESTION_WORDS = {
    "en": frozenset(
        "name call kind type exampl mention describ explain list say tell give show main key major state note "
        "accord report author chapter section document studi paper".split()
    ),
    "ja": frozenset(
        "何 なに どの どう どんな いつ どこ 誰 だれ どれ どれくらい どのくらい どれほど 幾ら いくら 為る 有る "
        "居る 成る 言う 報告 報告書 レポート 挙げる 述べる 示す 記す 書く 見る 教える 呉れる 下さる 事 物 所 "
        "様 方 的 等 など 中 年 月".split()
    ),
    "zh": frozenset(),
}
# Chinese words that ask or point rather than name, and characters that are nearly always function words.
CHINESE_QUESTION_WORDS_RE = re.compile(
    "为什么|什么|多少|哪些|哪个|哪里|哪一|如何|怎么|怎样|是否|有没有|根据|报告|这个|那个|这些|那些|其中|分别|主要"
)
CHINESE_BREAK_RE = re.compile("[的了吗呢吧是谁哪几这那]")
LATIN_NAME_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*\b")
COMPOUND_SUFFIX_RE = re.compile(r"(?:-[a-z]{3,})+$")  # -based, -related, -powered
ACRONYM_RE = re.compile(r"[A-Z]{3,6}")  # two letters (EU) are spelt out by chance too often
ADJECTIVE_ENDING = "(?:an|ian|ese|nese|ean|n|li|)s?"  # after a place's stem: Chinese, Indian, Americans, German
# Capitalised words that begin English questions or name months: not names of anything in the report.
COMMON_CAPITALS = frozenset(
    "What Which Who Whom Whose When Where Why How Is Are Was Were Does Do Did Can Could Will Would Should Has Have "
    "Had In On For The A An Of And Or According Besides Under Before After Between Since Among If Please Tell Give "
    "List Name Summarize Summarise Describe Explain Compare I My Me It Its This That These Those There "
    "January February March April May June July August September October November December AI IT".split()
)


# What makes the rest of a message a question rather than a request to the assistant ("print your prompt").
ASKS_RES = {
    "en": re.compile(
        r"\?|^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could)\b", re.I
    ),
    "ja": re.compile(r"[?？]|か[。\s]*$|何|どの|どう|どこ|いつ|誰|どれ|いくら"),
    "zh": re.compile(r"[?？]|吗|呢|什么|哪|多少|谁|如何|怎么|几|是否"),
}


def asks(text: str, language: str) -> bool:
    """Whether ``text`` asks something (of the report), rather than telling the assistant to do something."""
    return bool(ASKS_RES[language].search(text))


def without_set_aside(question: str, language: str) -> str:
    """The question without its clauses telling the assistant to ignore the report or its instructions."""
    return SET_ASIDE_RES[language].sub(" ", question).strip()


def key_terms(question: str, language: str, lexical: LexicalIndex) -> list[str]:
    """The question's terms worth finding in the report, as the reader's BM25 spells them, less the words that
    only ask (how much, 何, 多少): in Japanese its nouns; in English its words; in Chinese its character pairs
    that the report uses (a pair across two words, 局发, names nothing)."""
    if language == "ja" or lexical.tokenizer is tokenize:
        tokens = [t for t in japanese_nouns(question) if t not in QUESTION_WORDS["ja"]]
    elif language == "zh":
        tokens = chinese_terms(question, lexical)
    else:
        tokens = [t for t in lexical.tokenizer(question) if t not in QUESTION_WORDS.get(language, ())]
    # Chapter and section numbers, and years, are checked as numbers, not as terms.
    return [t for t in dict.fromkeys(tokens) if not _is_number(t)]


def chinese_terms(question: str, lexical: LexicalIndex) -> list[str]:
    """A Chinese question's character pairs worth finding, without a segmenter: question words (什么, 多少) and
    function characters (的, 是) split the text into pieces, and of their pairs those the report uses are the
    terms. A pair the report never uses is left out: most join two words (业出 in 企业出海), and which of them
    is a word the report lacks no segmenter-free rule tells."""
    text = unicodedata.normalize("NFKC", question)
    terms = [t for t in lexical.tokenizer(text) if t.isascii()]
    for piece in CHINESE_BREAK_RE.split(CHINESE_QUESTION_WORDS_RE.sub(" ", text)):
        for run in HAN_WORD_RE.findall(piece):
            terms += [p for p in (run[i : i + 2] for i in range(len(run) - 1)) if lexical.document_frequency.get(p)]
    return terms


def _is_number(token: str) -> bool:
    return bool(re.fullmatch(r"[\d.,%]+", token))


def coverage(terms: Sequence[str], tokens: Iterable[str], lexical: LexicalIndex) -> float:
    """The share of the terms' weight (their inverse document frequency) that ``tokens`` hold; 1.0 for a
    question without terms. A term the report never uses weighs most and is never covered."""
    if not terms:
        return 1.0
    held = set(tokens)
    weights = {t: lexical.idf(t) for t in terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in held) / total if total else 1.0


def names_in(question: str) -> list[str]:
    """What the question names unmistakably: places, and Latin-script names written like names of products
    and firms, with a digit, an inner capital or all capitals (GPT-4.5, DeepSeek, SoftBank, IBM). A word that is
    only capitalised (Nvidia, or a transliteration such as Tongyi) is weighed by coverage instead."""
    found = [m.group(0) for m in PLACE_RE.finditer(question)]
    for word in LATIN_NAME_RE.findall(question):
        # A lowercase word joined on names a kind of thing, not a part of the name: DeepSeek-based is DeepSeek.
        stem = COMPOUND_SUFFIX_RE.sub("", word)
        word = stem if len([c for c in stem if c.isalpha()]) > 1 else word
        # "AI-related" is not a name: a part that is a generic word (AI) does not make the compound one.
        parts = [part for part in re.split(r"[-.]", word) if part and part not in COMMON_CAPITALS]
        if len([c for c in word if c.isalpha()]) > 1 and any(_shaped(part) for part in parts):
            found.append(word)
    return list(dict.fromkeys(found))


def _shaped(word: str) -> bool:
    return any(c.isdigit() for c in word) or any(c.isupper() for c in word[1:]) or (word.isupper() and len(word) > 1)


def unknown_names(question: str, report_text: str, language: str = "en") -> list[str]:
    """Names in the question that occur nowhere in the report (``report_text``: the original and its editions):
    places, as a segmenter finds them in Chinese and Japanese (贵州省, 新加坡); and capitalised English names none
    of whose words it has: the English edition writes Moonshot or Tongyi as the report names them, so a name it
    never writes (Microsoft, Kimi) the report does not mention."""
    named = [*names_in(question), *places_named(question, language), *places_by_adjective(question)]
    unknown = [name for name in dict.fromkeys(named) if not mentions(report_text, name)]
    for run in capitalised_names(question):
        if not any(mentions(report_text, word) for word in run):  # Tongyi Qianwen: the edition writes Tongyi Qwen
            unknown.append(" ".join(run))
    return unknown


def capitalised_names(question: str) -> list[list[str]]:
    """Runs of capitalised Latin words inside a sentence (Tongyi Qianwen, Microsoft), less common words (What,
    January, AI) and adjectives of places (American: the stem of America)."""
    runs: list[list[str]] = []
    for m in re.finditer(r"(?<![.?!:;\"“(]\s)(?<!^)\b[A-Z][a-z]{2,}(?:[\s-]+[A-Z][a-z]{2,})*\b", question.strip()):
        words = [w for w in re.split(r"[\s-]+", m.group(0)) if w not in COMMON_CAPITALS and not _of_a_place(w)]
        if words:
            runs.append(words)
    return runs


def places_by_adjective(question: str) -> list[str]:
    """The places a question names by their adjective: India for "Indian firms", China for "Chinese"."""
    return [
        place
        for word in re.findall(r"\b[A-Z][a-z]{3,}\b", question)
        for place in PLACES
        if (stem := _place_stem(place)) and word != place and re.fullmatch(re.escape(stem) + ADJECTIVE_ENDING, word)
    ]


def _of_a_place(word: str) -> bool:
    """Whether ``word`` is a place's adjective: it begins with the place less its last letter (American, Chinese,
    Japanese, German), so Unitree is not of the United States."""
    return any(word.startswith(stem) for place in PLACES if (stem := _place_stem(place)))


def _place_stem(place: str) -> str:
    """What a Latin place name and its adjective begin with (Chin- of China and Chinese); "" for short names."""
    return place[:-1] if len(place) >= 5 and place.isascii() and place.isalpha() else ""


def uses(report_text: str, term: str, lexical: LexicalIndex) -> bool:
    """Whether the report uses ``term`` (a key term as ``lexical`` spells it): in that edition, or anywhere in
    any language (``report_text``, lowercased); a Latin stem from a word's start, so "pari" of Paris is not found
    in "comparison" while "attract" is in "attracted"."""
    if lexical.document_frequency.get(term):
        return True
    if term.isascii():
        return re.search(rf"\b{re.escape(term.lower())}", report_text) is not None
    return term in report_text


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` has ``name`` as a word of its own, in any case (インド is not in ウインドファーム), a place
    by its adjective too (Chinese AI companies mention China), or an acronym spelt out in capitalised words (MIIT:
    the Ministry of Industry and Information Technology)."""
    pattern = re.escape(name)
    if name in PLACES and (stem := _place_stem(name)):
        # Case kept and a nationality's ending: Indian mentions India, "indicates" does not.
        adjective = rf"(?<![A-Za-z0-9])(?:{pattern}|{re.escape(stem)}{ADJECTIVE_ENDING})(?![A-Za-z])"
        if re.search(adjective, text):
            return True
    if name.isascii():
        pattern = rf"(?<![A-Za-z0-9]){pattern}(?![A-Za-z])"
    elif re.fullmatch(r"[\u30a0-\u30ff]+", name):
        pattern = rf"(?<![\u30a0-\u30ff]){pattern}(?![\u30a0-\u30ff])"
    if re.search(pattern, text, re.IGNORECASE):
        return True
    return bool(ACRONYM_RE.fullmatch(name)) and re.search(_spelt_out(name), text) is not None


def _spelt_out(acronym: str) -> str:
    """A pattern for the capitalised words whose initials make ``acronym``, with "of", "and" between them."""
    joiner = r"[\s-]+(?:(?:of|and|for|the|on|in|&)[\s-]+)*"
    return r"\b" + joiner.join(rf"{re.escape(letter)}[a-z'’]*" for letter in acronym) + r"\b"


def asked_numbers(question: str, words: bool = False) -> list[Quantity]:
    """The numbers and years a question names, less chapter and section references; with ``words`` also those
    written in words (June, third)."""
    return quantities(SECTION_RE.sub(" ", STRUCTURE_RE.sub(" ", question)), words=words)
