"""What the answerer says in its own words, in the asker's language."""

from __future__ import annotations

MESSAGES = {
    "ja": {
        "abstain": "申し訳ありませんが、この報告書にはご質問に答える記述が見当たりません。",
        "nearest": "関連しそうな節: {sections}",
        "untranslated": "",
        "note": "",
        "table": "表「{caption}」",
        "table_rows": "表「{caption}」の項目: {columns}",
        "section": "【{section}】{title}",
        "meta_title": "報告書: 「{title}」{subtitle}",
        "meta_author": "著者: {author}",
        "meta_date": "日付: {date}",
        "meta_toc": "構成:",
        "help": (
            "この報告書（{report}）について日本語・英語・中国語で質問できます。答えは報告書の該当箇所を引用し、"
            "節（【2-1】など）を示します。報告書に書かれていないことには、そうお伝えします。\n例:\n{examples}"
        ),
    },
    "en": {
        "abstain": "The report does not cover this question.",
        "nearest": "The nearest sections are: {sections}",
        "untranslated": " (in the original Japanese: this sentence has no translation yet)",
        "note": "Translator's note: {note}",
        "table": "Table “{caption}”",
        "table_rows": "Table “{caption}”, columns: {columns}",
        "section": "【{section}】{title}",
        "meta_title": "Report: “{title}”{subtitle}",
        "meta_author": "Author: {author}",
        "meta_date": "Date: {date}",
        "meta_toc": "Contents:",
        "help": (
            "Ask me about the report {report} in English, Japanese or Chinese. Every answer quotes the report and "
            "cites its section (e.g. 【2-1】); English quotes come from the project's translation, and the Japanese "
            "original is authoritative. When the report does not say, I tell you so.\nFor example:\n{examples}"
        ),
    },
    "zh": {
        "abstain": "抱歉，该报告中没有能回答这个问题的内容。",
        "nearest": "最接近的章节：{sections}",
        "untranslated": "（日文原文：此句尚无译文）",
        "note": "译注：{note}",
        "table": "表格“{caption}”",
        "table_rows": "表格“{caption}”，各列：{columns}",
        "section": "【{section}】{title}",
        "meta_title": "报告：“{title}”{subtitle}",
        "meta_author": "作者：{author}",
        "meta_date": "日期：{date}",
        "meta_toc": "目录：",
        "help": (
            "您可以用中文、日文或英文询问这份报告（{report}）。每个回答都引用报告原文并注明章节（如【2-1】）；"
            "中文引文出自本项目的译文，以日文原文为准。报告中没有的内容，我会如实说明。\n例如：\n{examples}"
        ),
    },
}

EXAMPLES = {
    "ja": [
        "中国のAIコア産業の規模は2025年にどのくらいですか？",
        "第4章のまとめは？",
        "2024年の米国と中国の民間AI投資額は？",
    ],
    "en": [
        "What is the size of China's core AI industry in 2025?",
        "Summarize chapter 4.",
        "How much did the US invest privately in AI in 2024 compared with China?",
    ],
    "zh": [
        "2025年中国人工智能核心产业规模有多大？",
        "第二章的总结是什么？",
        "中国人形机器人的发展目标是什么？",
    ],
}
