"""Tell Japanese, Chinese and English apart by script, and validate question text."""

from __future__ import annotations

import re
import unicodedata

from rag.errors import InputError, QuestionTooLong

LANGUAGES = ("ja", "en", "zh")

KANA_RE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Characters that occur in written Chinese (simplified or traditional) but not in modern Japanese,
# and Chinese function words; Japanese always carries kana, so these only break ties for kanji-only text.
CHINESE_MARKERS = set(
    # simplified forms
    "们这吗么个说为对时进还过边让给见产业发关经济开专图际间问题机构实现应领导动络测术资龙车门东"
    # traditional forms that modern Japanese writes differently
    "們這嗎麼個說為對會沒還邊讓產發關經濟專圖與實應龍車門東"
    # function words Japanese does not use
    "吗呢吧哪啥谁么是了"
)
JAPANESE_ONLY_KANJI = set("産発関済図対経広労働検県駅円辺読売価値単歳楽様")


def detect_language(text: str) -> str:
    """Return "ja", "zh" or "en". Any kana means Japanese; Han without kana is Chinese when it has
    simplified forms or Chinese function words, else Japanese; otherwise Latin script means English."""
    if KANA_RE.search(text):
        return "ja"
    han = HAN_RE.findall(text)
    latin = LATIN_RE.findall(text)
    # A Han character carries about a word, so it outweighs a few Latin letters.
    if han and len(han) * 3 >= len(latin):
        zh_score = sum(ch in CHINESE_MARKERS for ch in han)
        ja_score = sum(ch in JAPANESE_ONLY_KANJI for ch in han)
        # Kanji-only text with no telling character is read as the report's own language.
        return "zh" if zh_score > ja_score else "ja"
    return "en"


def clean_question(text: object, max_chars: int) -> str:
    """Normalize a question and reject what cannot be answered, with a message saying what to do."""
    if not isinstance(text, str):
        raise InputError("the question must be a string")
    # Drop control and format characters (NUL, bidi marks, zero-width) and lone surrogates.
    cleaned = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    cleaned = unicodedata.normalize("NFKC", cleaned).strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    if not cleaned:
        raise InputError("the question is empty: type a question about the report")
    if len(cleaned) > max_chars:
        raise QuestionTooLong(f"the question is {len(cleaned)} characters, over the limit of {max_chars}: shorten it")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        raise InputError("the question has no letters or digits: ask in words (Japanese, English or Chinese)")
    return cleaned
