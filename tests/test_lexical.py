from rag.lexical import LexicalIndex, tokenize


def test_tokenize_keeps_latin_names_and_numbers() -> None:
    tokens = tokenize("DeepSeekとGPT-4.5の価格は1.2兆元で33.3%増えた")
    assert "deepseek" in tokens and "gpt-4.5" in tokens
    assert "1.2兆" in tokens and "33.3%" in tokens
    assert "の" not in tokens  # particles carry no topic


def test_han_bigrams_let_chinese_meet_japanese() -> None:
    japanese = set(tokenize("中国の人工知能産業の規模"))
    chinese = set(tokenize("中国人工智能产业规模"))
    assert "~人工" in japanese & chinese


def test_bm25_ranks_the_matching_passage_first() -> None:
    passages = ["特許出願数では中国が1位である。", "AIコア産業の規模は1.2兆元に達した。", "DeepSeekの価格は最も低い。"]
    index = LexicalIndex.from_texts(passages)
    assert int(index.scores("DeepSeekの価格").argmax()) == 2
    assert int(index.scores("特許出願数は?").argmax()) == 0
    assert index.scores("!!!").sum() == 0
