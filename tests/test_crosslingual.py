"""Cross-lingual query terms (rag/crosslingual.py): which question words are looked up, and how they are matched."""

from __future__ import annotations

import numpy as np

from rag.crosslingual import TermTranslator, TranslationConfig, source_terms


def test_english_content_words_and_their_pairs() -> None:
    # Question words and "china" (in every question about the report) are not looked up.
    assert source_terms("How many patent applications did China file?", "en") == [
        "patent",
        "applications",
        "file",
        "patent applications",
        "applications file",
    ]


def test_chinese_words_in_japanese_forms_then_pairs_without_function_characters() -> None:
    terms = source_terms("人形机器人的发展目标是什么？", "zh")
    assert terms[:4] == ["人形", "機器", "発展", "目標"]  # Sudachi's words, rewritten 机器 → 機器, 发展 → 発展
    assert {"机器", "发展", "目标"} <= set(terms)  # character pairs of the question as written
    assert not [t for t in terms if set(t) & set("的是什么")]  # 人的, 是什, 什么 name no topic
    assert source_terms("人形ロボットの政策は？", "ja") == []  # Japanese meets the report directly


class FakeWords:
    """An embedder with hand-set word vectors, counting the words it is asked for."""

    model_id, dim, weights_hash = "fake-words", 3, "0" * 64

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = {w: np.asarray(v, np.float32) for w, v in vectors.items()}
        self.asked: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.asked += texts
        return np.stack([self.vectors[t] for t in texts])

    def encode_passages(self, texts: list[str], show_progress: bool | str = False) -> np.ndarray:
        return self.encode_queries(texts)


TERMS = ["特許", "産業"]
TERM_VECTORS = np.eye(3, dtype=np.float32)[:2]


def test_only_words_close_enough_become_report_words() -> None:
    words = FakeWords({"patent": [1, 0, 0], "industry": [0, 0.8, 0.6], "patent industry": [0.6, 0.8, 0]})
    translator = TermTranslator(TERMS, TERM_VECTORS, words, TranslationConfig(min_similarity=0.88))
    # patent → 特許 (cosine 1.0); industry → 産業 is only 0.8; the pair is nearest 産業 at 0.8 too.
    assert translator.translate("patent industry", "en") == [("特許", 1.0)]


def test_word_vectors_are_cached_and_the_cache_is_bounded() -> None:
    words = FakeWords({"patent": [1, 0, 0], "industry": [0, 1, 0], "patent industry": [0.6, 0.8, 0]})
    translator = TermTranslator(TERMS, TERM_VECTORS, words, TranslationConfig(cache_size=2))
    translator.translate("patent", "en")
    translator.translate("patent", "en")
    assert words.asked == ["patent"]  # the second question found its word cached
    assert translator.uncached(["patent", "industry"]) == ["industry"]
    translator.translate("patent industry", "en")
    assert len(translator._cache) == 2 and translator.uncached(["patent"]) == ["patent"]  # oldest dropped
    # Vectors the caller already computed are used as they are.
    translator.clear_cache()
    assert translator.translate("industry", "en", {"industry": np.array([1, 0, 0], np.float32)}) == [("特許", 1.0)]
