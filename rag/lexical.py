"""BM25 in each language: Japanese as Sudachi words, Latin names and Han bigrams; English as stemmed words;
Chinese as Han character pairs and Latin names."""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rag.errors import DependencyError
from rag.lang import HAN_RUN_RE, HAN_WORD_RE

# Part-of-speech classes that carry no topic: particles, auxiliaries, symbols, blanks.
SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
# Model and benchmark names: GPT-4.5, DeepSeek-R1, o4-mini, MMLU, 1.2兆 stays with Sudachi.
LATIN_TOKEN_RE = re.compile(r"[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*|\d+(?:\.\d+)?%?")
LATIN_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "what",
        "which",
        "who",
        "how",
        "many",
        "much",
        "does",
        "do",
        "did",
        "by",
        "with",
        "as",
        "at",
        "from",
        "that",
        "this",
        "it",
        "its",
        "be",
        "been",
        "report",
        "according",
        "china",
        "chinese",
    ]
)


@lru_cache(maxsize=1)
def _sudachi() -> Any:
    try:
        from sudachipy import Dictionary, SplitMode
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise DependencyError("sudachipy is missing: pip install sudachipy sudachidict_core") from exc
    # Short units (mode A) split compounds, so 人工知能産業 also matches 人工知能.
    return Dictionary(dict="core").tokenizer(mode=SplitMode.A)


_SUDACHI_LOCK = threading.Lock()


def _words(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Sudachi's words of ``text`` (NFKC) as BM25 spells them, with their part of speech; particles,
    auxiliaries and symbols left out."""
    tokenizer = _sudachi()
    # Sudachi's tokenizer object is not safe to share between threads.
    with _SUDACHI_LOCK:
        morphemes = [(m.surface(), m.normalized_form(), m.part_of_speech()) for m in tokenizer.tokenize(text)]
    words = []
    for surface, normalized, pos in morphemes:
        if pos[0] in SKIP_POS or not surface.strip():
            continue
        # Keep numbers as written: Sudachi normalizes "1.2兆" to 1200000000000.
        word = (surface if any(ch.isdigit() for ch in surface) else normalized).lower()
        if not (word.isascii() and word in LATIN_STOPWORDS):
            words.append((word, tuple(pos)))
    return words


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: Sudachi short units (normalized form, content words only), lowercase
    Latin names kept whole (GPT-4.5), and Han character bigrams so Chinese questions meet the
    kanji they share with the Japanese text."""
    text = unicodedata.normalize("NFKC", text)
    tokens = [word for word, _ in _words(text)]
    tokens.extend(t for t in LATIN_TOKEN_RE.findall(text.lower()) if t not in LATIN_STOPWORDS)
    for run in HAN_RUN_RE.findall(text):
        tokens.extend("~" + run[i : i + 2] for i in range(len(run) - 1))
    return tokens


def japanese_nouns(text: str) -> list[str]:
    """The nouns of Japanese text, as ``tokenize`` spells them (and its Latin names): what a question is
    about, without the verbs and question words that only ask (出す, 求める, どのような)."""
    text = unicodedata.normalize("NFKC", text)
    nouns = [w for w, pos in _words(text) if pos[0] in ("名詞", "形状詞") and pos[1] not in ("数詞", "助動詞語幹")]
    return nouns + [t for t in LATIN_TOKEN_RE.findall(text.lower()) if t not in LATIN_STOPWORDS]


@lru_cache(maxsize=1)
def _jieba() -> tuple[Any, frozenset[str]]:
    """jieba's tokenizer and the place names of its dictionary (tagged ns): the dictionary's own part-of-speech
    tagger would take another 100 MB for the one tag wanted."""
    try:
        import jieba
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise DependencyError("jieba is missing: pip install jieba") from exc
    jieba.setLogLevel(logging.WARNING)  # it announces loading its dictionary on stderr
    tokenizer = jieba.Tokenizer()
    with tokenizer.get_dict_file() as lines:  # "word frequency tag" per line, UTF-8
        places = frozenset(p[0] for line in lines if len(p := line.decode("utf-8").split()) == 3 and p[2] == "ns")
    return tokenizer, places


_JIEBA_LOCK = threading.Lock()


def chinese_words(text: str) -> list[str]:
    """jieba's words of Chinese text (NFKC)."""
    with _JIEBA_LOCK:  # its tokenizer loads its dictionary on first use: once, whichever thread comes first
        return list(_jieba()[0].cut(unicodedata.normalize("NFKC", text)))


def load_segmenter_in_background() -> None:
    """Load jieba's dictionary (about 1.5 s) off the request path, so the first Chinese question does not wait."""
    threading.Thread(target=chinese_words, args=("中文",), name="jieba-load", daemon=True).start()


def places_named(text: str, language: str) -> list[str]:
    """The place names a segmenter finds in Chinese or Japanese text (贵州省, 新加坡, シンガポール): its dictionary
    knows far more places than any list here."""
    if language == "zh":
        places = _jieba()[1]
        return [w for w in chinese_words(text) if w in places and len(w) > 1]
    if language == "ja":
        tokenizer = _sudachi()
        with _SUDACHI_LOCK:
            return [m.surface() for m in tokenizer.tokenize(unicodedata.normalize("NFKC", text))
                    if tuple(m.part_of_speech()[1:3]) == ("固有名詞", "地名")]  # fmt: skip
    return []


# Function words of English questions and passages; with them out, BM25 weighs what a question is about.
ENGLISH_STOPWORDS = LATIN_STOPWORDS - {"china", "chinese", "report"} | frozenset(
    "am has have had having i me my we our you your he him his she her they them their these those there here "
    "than then so such no not nor only own same too very can could will would shall should may might must "
    "about above after again against all any because before below between both during each few further into "
    "more most other out over under until up down off once why when where whom whose while if but into per "
    "also tell me please give list say says said show describe explain according s t".split()
)
ENGLISH_WORD_RE = re.compile(r"[a-z0-9]+(?:[-.'][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        import Stemmer
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise DependencyError("PyStemmer is missing: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


def tokenize_en(text: str) -> list[str]:
    """English BM25 tokens: lowercase words without function words, Snowball-stemmed (industries and
    industry meet), names with digits or hyphens kept whole (gpt-4.5, deepseek-v3) and split too."""
    words = [w.removesuffix("'s") for w in ENGLISH_WORD_RE.findall(unicodedata.normalize("NFKC", text).lower())]
    tokens = [w for w in words if w not in ENGLISH_STOPWORDS]
    parts = [p for w in tokens if "-" in w for p in w.split("-") if p and p not in ENGLISH_STOPWORDS]
    stem = _stemmer().stemWord
    return [w if any(ch.isdigit() for ch in w) else stem(w) for w in tokens + parts]


def tokenize_zh(text: str) -> list[str]:
    """Chinese BM25 tokens: every pair of neighbouring Han characters (most Chinese words are two characters,
    and no segmenter has to be loaded), a lone character where a run has only one, and Latin names."""
    text = unicodedata.normalize("NFKC", text)
    tokens = [t for t in LATIN_TOKEN_RE.findall(text.lower()) if t not in LATIN_STOPWORDS]
    for run in HAN_WORD_RE.findall(text):
        tokens.extend([run[i : i + 2] for i in range(len(run) - 1)] or [run])
    return tokens


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"ja": tokenize, "en": tokenize_en, "zh": tokenize_zh}


class LexicalIndex:
    """BM25 (bm25s) over pre-tokenized passages; scores every passage for a query tokenized the same way."""

    def __init__(self, corpus_tokens: Sequence[Sequence[str]], tokenizer: Callable[[str], list[str]] = tokenize):
        import bm25s

        # bm25s sets its own logger to DEBUG at import; keep its chatter out of the CLI.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25 = bm25s.BM25()
        # An empty passage would give bm25s an empty row; a placeholder token keeps ids aligned.
        self._bm25.index([list(tokens) or ["\x00"] for tokens in corpus_tokens], show_progress=False)
        self.size = len(corpus_tokens)
        self.tokenizer = tokenizer
        # Each passage's token set, and in how many passages each token occurs: what a question's terms are
        # weighed and looked for by when deciding whether the report covers it.
        self.documents = [frozenset(tokens) for tokens in corpus_tokens]
        self.document_frequency = Counter(token for document in self.documents for token in document)

    @classmethod
    def from_texts(cls, texts: Sequence[str], tokenizer: Callable[[str], list[str]] = tokenize) -> LexicalIndex:
        return cls([tokenizer(t) for t in texts], tokenizer)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token the report never uses weighs most of all."""
        return math.log((self.size + 1) / (self.document_frequency.get(token, 0) + 0.5))

    def scores(self, query: str, extra_terms: Sequence[tuple[str, float]] = ()) -> np.ndarray:
        """BM25 of the query's tokens, plus weighted BM25 of extra (already tokenized) terms."""
        total = np.zeros(self.size, dtype=np.float32)
        tokens = self.tokenizer(query)
        if tokens:
            total += np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        for term, weight in extra_terms:
            total += weight * np.asarray(self._bm25.get_scores([term]), dtype=np.float32)
        return total


def vocabulary(token_lists: Sequence[Sequence[str]]) -> list[str]:
    """The report's Japanese content words: BM25 tokens that are not Latin names or Han bigrams."""
    terms = {t for tokens in token_lists for t in tokens if not t.startswith("~") and not t.isascii() and len(t) >= 2}
    return sorted(terms)
