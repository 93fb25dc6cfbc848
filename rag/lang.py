"""Scripts and shared text patterns: tell Japanese, Chinese and English apart, and validate question text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rag.errors import DependencyError, InputError, QuestionTooLong

LANGUAGES = ("ja", "en", "zh")

KANA_RE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
# Han characters: the unified ideographs, extension A and the compatibility block.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RE = re.compile(f"[{HAN}]")
HAN_WORD_RE = re.compile(f"[{HAN}]+")
HAN_RUN_RE = re.compile(f"[{HAN}]{{2,}}")  # two or more: where Han character pairs can be cut
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
INVALID_UNICODE = "the text is not valid Unicode (a lone surrogate such as \\ud800): send it as UTF-8"
# Chinese function words Japanese does not use, and traditional forms OpenCC's Japanese table leaves alone.
# Japanese always carries kana, so these (and the character forms below) only break ties for kanji-only text.
CHINESE_MARKERS = set("吗呢吧哪啥谁么是了们这个说为还边让给见你您她怎們這嗎麼個說為會沒還邊讓與")


@lru_cache(maxsize=8)
def opencc_converter(table: str) -> Any:
    """OpenCC's converter for ``table`` ("s2t", "t2jp", ...), loaded once per process."""
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise DependencyError("opencc is missing: pip install opencc") from exc
    return opencc.OpenCC(table)


def japanese_forms(text: str) -> str:
    """Rewrite Chinese characters in their Japanese forms (产业 → 産業, 专利 → 専利), so a Chinese
    question shares words with the Japanese report. Simplified → traditional → Japanese shinjitai."""
    return str(opencc_converter("t2jp").convert(opencc_converter("s2t").convert(text)))


@lru_cache(maxsize=1 << 15)
def _han_side(ch: str) -> int:
    """+1 for a character only Chinese writes (报, 诗: simplified forms Japanese writes 報, 詩; 產: a traditional
    form Japanese writes 産), -1 for one only Japanese writes (産, 発), 0 for shared ones (写, 国, 人).
    Derived from OpenCC's tables, so it covers every character rather than a hand-picked few."""
    if ch in CHINESE_MARKERS or japanese_forms(ch) != ch:
        return 1
    traditional = opencc_converter("jp2t").convert(ch)
    # 業 is traditional Chinese too, and 写 simplified Chinese too: only a form both differ from is Japanese.
    return -1 if traditional != ch and opencc_converter("t2s").convert(traditional) != ch else 0


def detect_language(text: str) -> str:
    """Return "ja", "zh" or "en". Any kana means Japanese; Han without kana is Chinese when it has more
    Chinese-only characters (forms or function words) than Japanese-only ones, or as many and a sentence's
    ？ or ，, else Japanese; otherwise Latin script means English."""
    if KANA_RE.search(text):
        return "ja"
    han = HAN_RE.findall(text)
    latin = LATIN_RE.findall(text)
    # A Han character carries about a word, so it outweighs a few Latin letters.
    if han and len(han) * 3 >= len(latin):
        side = sum(_han_side(ch) for ch in han)
        # Kanji-only text with no telling character is read as the report's own language, unless it is punctuated
        # as a sentence: Japanese needs kana to ask or to join clauses (か, 、), Chinese asks with ？ and joins with ，.
        return "zh" if side > 0 or (side == 0 and re.search(r"[?,]", unicodedata.normalize("NFKC", text))) else "ja"
    return "en"


def clean_question(text: object, max_chars: int) -> str:
    """Normalize a question and reject what cannot be answered, with a message saying what to do."""
    if not isinstance(text, str):
        raise InputError("the question must be a string")
    cleaned = unicodedata.normalize("NFKC", _visible(text)).strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    if not cleaned:
        raise InputError("the question is empty: type a question about the report")
    if len(cleaned) > max_chars:
        raise QuestionTooLong(f"the question is {len(cleaned)} characters, over the limit of {max_chars}: shorten it")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        raise InputError("the question has no letters or digits: ask in words (Japanese, English or Chinese)")
    return cleaned


def clean_history(history: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Chat history with the same invisible characters dropped as from a question; its text reaches
    the follow-up rewrite and the embedder, so a lone surrogate there is refused like in a question."""
    return [
        {**m, "content": _visible(content, "history: ")} if isinstance(content := m.get("content"), str) else m
        for m in history or ()
    ]


def _visible(text: str, where: str = "") -> str:
    if SURROGATE_RE.search(text):
        # A lone UTF-16 half ("\ud800" in JSON, or undecodable bytes in a command-line argument) is not
        # text; dropping it would answer a different question than the one asked.
        raise InputError(where + INVALID_UNICODE)
    # Control and format characters (NUL, bidi marks, zero-width) are invisible and carry no words.
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cn"))
