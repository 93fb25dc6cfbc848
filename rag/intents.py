"""What a question asks of the report as a document: help, its title/author/date/contents, a chapter's
summary, a section, a table; and what kind of answer a content question wants (an amount, a date, a list...).

Rules over the wording of the three languages, with Arabic and kanji/Chinese numerals and English number
words, so "Summarize chapter 4", 「第3章のまとめ」, 「第二章的总结」 and "what does section 2-3 say" all
find their part of the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.numbers import MONEY

# Countries and regions in the three languages: a follow-up naming one swaps it for the previous question's, and
# a question about one the report never mentions is not answered.
PLACES = (
    "中国 米国 アメリカ 日本 英国 イギリス ドイツ フランス 欧州 ヨーロッパ インド 韓国 ロシア カナダ 台湾 "
    "美国 德国 法国 欧洲 印度 韩国 俄罗斯 加拿大 "
    "China U.S. US USA America United States Japan UK Britain Germany France Europe EU India Korea Russia "
    "Canada Taiwan Singapore Israel"
).split()
PLACE_RE = re.compile(
    "|".join(rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])" for p in sorted(PLACES, key=len, reverse=True))
)
NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
ENGLISH_ORDINALS = {
    "one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4, "fourth": 4, "five": 5,
    "fifth": 5, "six": 6, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
}  # fmt: skip
_NUM = r"(\d{1,2}|[一二三四五六七八九十]|one|two|three|four|five|six|first|second|third|fourth|fifth|sixth)"
CHAPTER_RES = (
    re.compile(rf"第\s*{_NUM}\s*[章部]"),
    re.compile(rf"\bchapter\s+{_NUM}\b", re.IGNORECASE),
    re.compile(rf"\b{_NUM}(?:st|nd|rd|th)?\s+chapter\b", re.IGNORECASE),
    re.compile(rf"(?<![\d-]){_NUM}\s*章"),
)
# A chapter named by its place rather than its number: the last one, the first one.
LAST_CHAPTER_RE = re.compile(
    r"\b(?:the\s+)?(?:last|final|closing|concluding)\s+chapter\b|最後の章|最終章|最后一章|最终章|最后的章节",
    re.IGNORECASE,
)
FIRST_CHAPTER_RE = re.compile(r"最初の章|冒頭の章|首章|开头的章节")
# 【2-3】, section 2-3, 2-3節, 第3-2节, 3-7节, §2-3
SECTION_RE = re.compile(r"(?:【|§|\bsection\s*|第)?\s*(\d)\s*[-‐−ー－の]\s*(\d)\s*(?:】|節|节|\b)", re.IGNORECASE)
SUMMARY_WORDS = re.compile(
    r"summar|conclu|bottom line|main points|key points|takeaway|overview|in short|nutshell|gist|in a word|"
    r"まとめ|要点|要約|結論|結語|概要|要旨|概略|一言|总结|小结|概括|结论|结语|概述|简要|主要观点",
    re.IGNORECASE,
)
# A question for what a table holds as a whole, rather than for something in it.
TABLE_OVERVIEW_RE = re.compile(
    r"\bwhat(?:'s| is| does)? (?:in|shown in|listed in) the table|\bwhat does the table (?:show|list|contain|compare)|"
    r"表には何|表に(?:は)?何が|何が載|どんな\w{0,4}が載|表の内容|列了什么|列出了什么|哪些指标|哪些项目|什么内容|比较了哪些",
    re.IGNORECASE,
)
TABLE_WORDS = re.compile(r"\btables?\b|表格|図表|(?<![a-z])表(?!示|明|現|现)", re.IGNORECASE)
REPORT_WORDS = re.compile(
    r"\b(?:this|the) (?:report|study|document|paper)\b|レポート|報告書|本報告|本稿|资料|报告|本文", re.I
)
HELP_RES = {
    "en": re.compile(
        r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|greetings|thanks?(?: you)?)\b[\s!.,]*(?:there)?[\s!.]*$|"
        r"\bwhat can (?:you|i) (?:do|ask)|\bwhat (?:can|could) you help\b|\bhow (?:do|can|should) i use\b|"
        r"\bwhat (?:questions|kinds? of questions) can\b|^help\b",
        re.IGNORECASE,
    ),
    "ja": re.compile(
        r"^(?:こんにちは|こんばんは|おはよう|はじめまして|ありがとう|どうも)|何ができ|使い方|何を(?:聞け|質問でき)|ヘルプ"
    ),
    "zh": re.compile(r"^(?:你好|您好|嗨|哈喽|谢谢)|你能做什么|你能回答|能问什么|可以问什么|怎么用|如何使用|帮助"),
}
AUTHOR_WORDS = re.compile(
    r"\bwho (?:wrote|authored|is the author|are the authors)|\bauthor of (?:this|the) (?:report|study)|"
    r"誰が.{0,4}(?:書|執筆|作)|著者は(?:誰|だれ|どなた)|筆者は誰|執筆者|作成者|谁写|作者是谁|谁撰写|作者是谁|由谁",
    re.IGNORECASE,
)
DATE_WORDS = re.compile(
    r"\bwhen (?:was|is) (?:it|this|the report|this report)|\bpublication date\b|\bpublished\b|"
    r"いつ(?:書|出|発表|公表|作成|発行)|発行日|日付|"
    r"什么时候(?:写|发布|发表|出版)|何时(?:发布|发表|出版)|发布时间|发表时间|发布日期",
    re.IGNORECASE,
)
TITLE_WORDS = re.compile(r"\btitle\b|タイトル|題名|表題|副題|标题|题目|副标题", re.IGNORECASE)
TOC_WORDS = re.compile(
    r"table of contents|\bchapters (?:of|in) (?:this|the) report|\b(?:what|which|how many) (?:\w+ )?chapters\b|"
    r"\boutline of\b|目次|章立て|何章|目录|几章|哪几章|哪些章",
    re.IGNORECASE,
)
# What is left of a broad request once its pointers and request words are taken out: "Summarize chapter 4"
# leaves nothing, "第1章のまとめによると、中国の産業政策は何と連動…" leaves a question of its own.
REQUEST_WORDS = re.compile(
    r"summari[sz]e|summary|conclusion|bottom line|main points|key points|takeaways?|overview|briefly|"
    r"what(?:'s| is| does| do)?|tell me|about|say|says|cover|covers|contain|contains|is in|in|of|on|the|this|"
    r"that|report|section|chapter|please|give|me|an?|and|its|it|are|were|was|discuss|discussed|"
    r"まとめ|要点|要約|結論|結語|概要|について|教えて|ください|何|どんな|ざっくり|内容|書かれて|述べられて|"
    r"います|ですか|でしょうか|には|では|は|を|の|が|か|て|总结|小结|概括|结论|结语|主要|内容|讲了|说了|"
    r"什么|是|的|了|这一节|这一章|本章|本节|部分|报告|请|一下|吗|呢",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Intent:
    """How a question addresses the report as a document.

    kind: "help"; "meta" (its ``fields``: author, date, title, toc); "scoped" (about one chapter summary or
    section, ``sections``; ``broad`` when it asks for the whole of it, e.g. "Summarize chapter 4"); "table"
    (a table found by its caption; ``broad`` likewise) or "content" (an ordinary question).
    """

    kind: str
    sections: tuple[str, ...] = ()
    broad: bool = False
    fields: tuple[str, ...] = ()


CONTENT = Intent("content")


def _numeral(text: str) -> int | None:
    text = text.lower()
    if text.isdigit():
        return int(text)
    return NUMERALS.get(text) or ENGLISH_ORDINALS.get(text)


# Which item of a list a question asks for: 3番目, 三つ目, 最初, 第六个, "the third one". Not 第15次 or 第2回
# (names of plans and rounds, matched as written), not "the 15th Five-Year Plan" (a name) nor "the first half".
ORDINAL_WORDS = [word for word in ENGLISH_ORDINALS if word.endswith(("st", "nd", "rd", "th"))]
_ITEM = r"(\d{1,2}|[一二三四五六七八九十])"
# the first half; the 15th Five-Year Plan; the fifth round (a round is named, matched by rag.numbers.rounds)
_NOT_AN_ITEM = r"(?!\s+(?:half|quarter|century|time|round|batch|wave|(?-i:[A-Z])))"
LIST_POSITION_RES = (
    re.compile(rf"{_ITEM}\s*(?:番目|つ目)"),
    re.compile(rf"第\s*{_ITEM}\s*[个個项項条点]"),
    re.compile(rf"\bthe\s+(\d{{1,2}})(?:st|nd|rd|th)\b{_NOT_AN_ITEM}", re.IGNORECASE),
    re.compile(rf"\bthe\s+({'|'.join(ORDINAL_WORDS)})\b{_NOT_AN_ITEM}", re.IGNORECASE),
    re.compile(r"(最初)"),
)


def list_position(question: str) -> int | None:
    """The list position the question asks for, 1 for the first; the last one named when there are several
    (a follow-up glued to its previous question names its own last)."""
    found = [(m.start(), m.group(1)) for pattern in LIST_POSITION_RES for m in pattern.finditer(question)]
    if not found:
        return None
    word = max(found)[1].lower()
    return 1 if word == "最初" else _numeral(word)


def chapter_of(question: str, last: int | None = None) -> int | None:
    """The chapter the question points at, by number or by place (``last``: the report's last chapter)."""
    if last is not None and LAST_CHAPTER_RE.search(question):  # first: 最后一章 holds 一章
        return last
    for pattern in CHAPTER_RES:
        if m := pattern.search(question):
            return _numeral(m.group(1))
    return 1 if FIRST_CHAPTER_RE.search(question) else None


def section_of(question: str) -> str | None:
    m = SECTION_RE.search(question)
    return f"{m.group(1)}-{m.group(2)}" if m else None


def _residue(question: str) -> str:
    text = SECTION_RE.sub(" ", question)
    for pattern in (*CHAPTER_RES, LAST_CHAPTER_RE, FIRST_CHAPTER_RE):
        text = pattern.sub(" ", text)
    text = REQUEST_WORDS.sub(" ", text)
    return re.sub(r"[\W\d_]+", "", text)


def is_broad(question: str) -> bool:
    """Whether the question asks for a part of the report as a whole rather than something in it."""
    return len(_residue(question)) <= 4


def classify(question: str, language: str, last_chapter: int = 5) -> Intent:
    """The document-level intent of ``question`` (already cleaned); "content" when it has none.
    ``last_chapter``: the report's last chapter, which "the last chapter" and its conclusion point at."""
    text = question.strip()
    # A greeting is help in whichever language's words it uses (你好 has no character only Chinese writes).
    if len(text) <= 60 and any(pattern.search(text) for pattern in HELP_RES.values()):
        return Intent("help")
    broad = is_broad(text)
    section = section_of(text)
    tables = bool(TABLE_WORDS.search(text))
    overview = bool(TABLE_OVERVIEW_RE.search(text))
    if section:
        if tables:
            return Intent("scoped", sections=(section,), broad=overview or broad, fields=("table",))
        return Intent("scoped", sections=(section,), broad=broad or bool(SUMMARY_WORDS.search(text)))
    chapter = chapter_of(text, last_chapter)
    summary = bool(SUMMARY_WORDS.search(text))
    conclusion = re.search(r"結語|结语|\bconclusion\b", text, re.IGNORECASE)
    if chapter is not None or (conclusion and summary):
        # A chapter is answered by its summary; asked to summarise it, by the whole of that summary.
        return Intent("scoped", sections=(f"{chapter or last_chapter}のまとめ",), broad=broad or summary)
    fields = tuple(
        name
        for name, pattern in (
            ("author", AUTHOR_WORDS),
            ("date", DATE_WORDS),
            ("title", TITLE_WORDS),
            ("toc", TOC_WORDS),
        )
        if pattern.search(text)
    )
    if fields and (REPORT_WORDS.search(text) or fields != ("date",)):
        return Intent("meta", fields=fields)
    if tables and re.search(r"\btables? (?:on|of|about|in)\b|\bin the table\b|表格|表中|の表|表に|表では", text, re.I):
        return Intent("table", broad=overview)
    return CONTENT


# What kind of answer a content question wants: it decides which sentence can answer and what to mark in it.
# The first kind whose words the question uses wins.
ANSWER_TYPE_WORDS = {
    "source": (
        r"\bsources? (?:of|for) (?:the|this|these|that)\b|\bdata sources?\b|\b(?:cited|quoted|taken) from\b|"
        r"\bbased on (?:what|which)|\bwhere (?:does|do|did) .{0,40}come from",
        r"資料|出典|出所|引用され|どの(?:機関の)?(?:報告書|資料)|何という資料|基づいて",
        r"来源|出处|引自|依据|数据来自|引用",
    ),
    "amount": (
        r"\bhow (?:much|many|large|big)\b|\bwhat (?:is|was) the (?:size|scale|share|number|amount|value|price)",
        r"\bwhat share\b|\bpercentage\b|\bproportion\b|\bcost\b|\bprice\b|\binvest",
        r"いくら|どのくらい|どれくらい|どれほど|何社|何件|何人|何倍|何%|割合|規模|金額|比率|シェア",
        r"多少|多大|几个|几家|几件|比例|占比|规模|金额|价格|份额|多少倍",
    ),
    "date": (
        r"\bwhen\b|\bwhat (?:year|month|date)\b|\bin which year\b",
        r"いつ|何年|何月|時期",
        r"什么时候|何时|哪一年|哪年|几月|哪个月",
    ),
    "compare": (
        r"\bcompar|\bversus\b|\bvs\.?\b|\bdiffer|\bgap\b|\bmore than\b",
        r"比較|比べ|違い|違う|異な|差",
        r"对比|比较|相比|差距|区别|不同|差异",
    ),
    "why": (
        r"\bwhy\b|\bhow (?:does|did|do|is|are|can)\b|\breason",
        r"なぜ|どうして|理由|背景|要因",
        r"为什么|为何|原因|如何|怎样",
    ),
    "list": (
        r"\bwhat (?:are|were) the\b|\bwhich (?:\w+ )?(?:are|were)\b|\blist\b|\bmain\b|\bkey\b",
        r"どのような|どんな|主な|挙げ",
        r"哪些|有哪些|主要|列举",
    ),
    "who": (
        r"\bwho\b|\bwhich (?:company|companies|agency|body|bodies|organi[sz]ation|ministry|firm)",
        r"誰|どこ|どの(?:企業|機関|会社)",
        r"谁|哪家|哪个(?:部门|机构|公司)|哪些(?:部门|机构|公司)",
    ),
}
ANSWER_TYPES = tuple((name, re.compile("|".join(words), re.IGNORECASE)) for name, words in ANSWER_TYPE_WORDS.items())


# A question asking for a share wants a percentage, not the count or rank beside it.
SHARE_RE = re.compile(
    r"\bshare\b(?!\s+prices?\b)|percent|proportion|割合|比率|シェア|何\s*[%％]|占|比例|份额|百分", re.IGNORECASE
)


def asks_share(question: str) -> bool:
    return bool(SHARE_RE.search(question))


# Question forms that ask for a quantity (how many, いくら, 何人, 多少): answered only by a sentence that states one.
QUANTITY_RE = re.compile(
    r"\bhow (?:much|many)\b|\bwhat (?:percentage|proportion|share)\b|"
    r"いくら|いくつ|幾つ|何\s*(?:人|社|件|倍|[%％]|台|個|円|元|ドル|兆|億|万|割)|どのくらい|どれくらい|どれほど|"
    r"多少|几\s*[个家件倍台名位成]|多大",
    re.IGNORECASE,
)


def asks_quantity(question: str) -> bool:
    return bool(QUANTITY_RE.search(question))


# Words for a sum of money: a quantity asked in them is answered in money, not by a count beside it.
MONEY_RE = re.compile(
    r"\b(?:revenue|sales|profits?|valuation|market (?:value|cap\w*)|share price|prices?|costs?|invest\w*|"
    r"funding|spending|budget|earn\w*|dollars?|yuan|yen|euros?)\b|\$|"
    r"売上|収益|利益|評価額|時価総額|株価|価格|費用|コスト|投資|資金|予算|金額|ドル|円|ユーロ|"
    r"收入|营收|销售额|利润|估值|市值|股价|价格|成本|费用|投资|融资|资金|预算|金额|美元|人民币|欧元",
    re.IGNORECASE,
)


# How much, not how many times or what share: the quantity forms a sum of money answers.
HOW_MUCH_RE = re.compile(
    r"\bhow much\b|いくら|どのくらい|どれくらい|どれほど|多少(?![倍个家件台名位成])|多大", re.IGNORECASE
)


# "What is DeepSeek's annual revenue?", "What was iFLYTEK's net profit in 2024?": a question naming a sum of money
# as the thing it asks for (the head of "what is …", before any "in 2024" or "of X") asks for the sum, as "how
# much" does; "What are the revenue sources?" asks for sources.
ASKED_THING_RE = re.compile(
    r"\bwhat (?:is|was|are|were)\s+(?P<thing>[^?.]*?)\s*"
    r"(?=\b(?:in|of|for|at|on|by|from|per|during|after|before|since|to|among|between|according)\b|[?.]|$)",
    re.IGNORECASE,
)
MONEY_ENDING_RE = re.compile(f"(?:{MONEY_RE.pattern})$", re.IGNORECASE)


def asks_money(question: str) -> bool:
    if HOW_MUCH_RE.search(question) and MONEY_RE.search(question):
        return True
    return any(MONEY_ENDING_RE.search(m.group("thing")) for m in ASKED_THING_RE.finditer(question))


# How many of something, not how many times nor what share: a count answers it (16社, 1509), not a percentage or
# a sum beside it ("How many AI engineers work in China?" is not answered by "12% of top AI talent").
COUNT_RE = re.compile(
    r"\bhow many\b(?!\s*(?:times|-fold|percent|percentage))|いくつ|幾つ|何\s*(?:人|社|件|台|個|種類|か国|カ国)|"
    r"几\s*[个家件台名位种]|多少\s*[个家件台名位种]",
    re.IGNORECASE,
)


def asks_count(question: str) -> bool:
    return bool(COUNT_RE.search(question))


# The counter a Japanese or Chinese question counts in (何人, 多少家, 人数), and the counters of the report's
# Japanese that count the same things: asked how many people, "6件" counts something else.
COUNTER_GROUPS = {
    "persons": frozenset("人名"),
    "firms": frozenset("社家"),
    "cases": frozenset("件"),
    "machines": frozenset("台"),
    "kinds": frozenset("種"),
    "countries": frozenset({"か国", "カ国", "ヵ国", "ヶ国"}),
}
ASKED_COUNTER_RES = (
    (re.compile(r"何\s*[人名]|[几多少]\s*[名位人](?![工民])|人数"), "persons"),
    (re.compile(r"何\s*社|[几多少]\s*家"), "firms"),
    (re.compile(r"何\s*件|[几多少]\s*件"), "cases"),
    (re.compile(r"何\s*台|[几多少]\s*台"), "machines"),
    (re.compile(r"何\s*種|[几多少]\s*种"), "kinds"),
    (re.compile(r"何\s*[かカヵヶ]国|[几多少]\s*个国家"), "countries"),
)


def asked_counters(question: str) -> frozenset[str]:
    """The counters that answer the count a question asks for in its counter; empty when it names none."""
    return next((COUNTER_GROUPS[g] for pattern, g in ASKED_COUNTER_RES if pattern.search(question)), frozenset())


RATIO_RE = re.compile(r"何\s*倍|[多几]少?\s*倍|\bhow many times\b|\bhow many-fold\b", re.IGNORECASE)


def asked_units(question: str) -> frozenset[str]:
    """The units of the amount a question asks for: a percentage for a share, a ratio for "何倍", a sum of money
    for "how much" with money words, a count ("" — no unit) for "how many"; empty when it names none."""
    units = {"percent"} if asks_share(question) else set()
    if asks_count(question):
        units.add("")
    if RATIO_RE.search(question):
        units.add("times")
    if asks_money(question):
        units |= MONEY
    return frozenset(units)


def answer_type(question: str) -> str:
    """amount, date, compare, why, list, who or other: the first that the wording asks for."""
    for name, pattern in ANSWER_TYPES:
        if pattern.search(question):
            return name
    return "other"
