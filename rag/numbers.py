"""How numbers are written in the report and by its readers: amounts with 万/億/兆 (万亿, 亿) or
thousand/million/billion, currencies, %, 割, 倍/times, years, months and days, read as values with units,
compared with a stated tolerance, and written back in each language's conventions.

This is the one place that knows how numbers are written: the edition's checks, the answers' rendering of
amounts, the abstention rule ("4.9 million" = 490万) and the LLM verifier all use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

# Full-width ASCII (０-９, ％, ＄, ．) to ASCII, one character for one, so match positions stay valid in the
# original text (NFKC would do the same but may change lengths elsewhere). Not the full-width comma: in
# Chinese "V2，2024" it separates clauses, never thousands.
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if cp != 0xFF0C} | {0x3000: 0x20}

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# The scale characters of Japanese and Chinese, and what a digit group before them is multiplied by.
BIG = {"万亿": 1e12, "萬億": 1e12, "兆": 1e12, "億": 1e8, "亿": 1e8, "万": 1e4, "萬": 1e4}
SMALL = {"千": 1e3, "百": 1e2}
ENGLISH_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9, "mn": 1e6}
CURRENCY_PREFIX = {"us$": "usd", "$": "usd", "usd": "usd", "rmb": "cny", "cny": "cny", "¥": "cny", "€": "eur"}
CURRENCY_SUFFIX = {
    "ドル": "usd",
    "美元": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "usd": "usd",
    "元": "cny",
    "人民币": "cny",
    "yuan": "cny",
    "rmb": "cny",
    "円": "jpy",
    "日元": "jpy",
    "yen": "jpy",
    "ユーロ": "eur",
    "欧元": "eur",
    "euro": "eur",
    "euros": "eur",
}
OTHER_SUFFIX = {
    "%": "percent",
    "percent": "percent",
    "per cent": "percent",
    "パーセント": "percent",
    "割": "percent",  # 2割 = 20%
    "倍": "times",
    "times": "times",
    "fold": "times",
    "-fold": "times",
}
MONEY = frozenset({"usd", "cny", "jpy", "eur"})
DATE_PARTS = frozenset({"year", "month", "day"})


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so 万亿 wins over 万 and "per cent" over "per".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_LATIN_WORD = r"(?![a-z])"
AMOUNT_RE = re.compile(
    rf"(?P<pre>{_alternation(CURRENCY_PREFIX)})?\s?"
    rf"(?P<num>{NUMBER})"
    rf"(?:(?P<small>[千百])?(?P<big>{_alternation(BIG)})|(?P<alone>千)(?![万萬億亿兆]))?"
    rf"(?:\s?(?P<eng>{_alternation(ENGLISH_SCALE)}){_LATIN_WORD})?"
    rf"(?:\s?(?P<suf>{_alternation(CURRENCY_SUFFIX | OTHER_SUFFIX)}){_LATIN_WORD})?",
    re.IGNORECASE,
)
# A number that is part of a name or a version, not an amount: glued to a Latin letter (DeepSeek-V3, GPT-4.5,
# Qwen2.5, o1) or to a capital after it (3C, 6G), or marked as a version (バージョン1.5, 1.5版, version 1.5).
# So is an ordinal (the 5th round, 第5回): a place in a list.
NAME_BEFORE_RE = re.compile(r"(?:[A-Za-z][-.]?|バージョン\s?|version\s|ver\.\s?|第\s?)$", re.IGNORECASE)
NAME_AFTER_RE = re.compile(r"[A-Z]|\s?版|(?:st|nd|rd|th)\b")
# Doubling written as a word (2020年に比べて倍増, 翻一番, doubled): twice as much, an amount of its own.
DOUBLING_RE = re.compile(r"倍増|倍增|翻一番|翻番|翻倍|\bdoubl(?:e|ed|es|ing)\b|\btwice\b", re.IGNORECASE)
# Words that make a number a limit, before it (more than, 超过) or after it (を超え, 以上, 未満).
BOUND_BEFORE_RES = (
    (
        re.compile(
            r"(?:more than|over|above|exceed(?:ed|s|ing)?|at least|greater than|(?:超过|超出|多于|高于|大于)了?)\s*$",
            re.I,
        ),
        1,
    ),
    (re.compile(r"(?:less than|fewer than|under|below|at most|不到|低于|少于|小于|不足)\s*$", re.I), -1),
)
BOUND_AFTER_RES = (
    (re.compile(r"\s*(?:を|に)?(?:超え|超過|超|以上|上回|強)"), 1),
    (re.compile(r"\s*(?:を|に)?(?:未満|以下|下回|弱|足らず)"), -1),
)
# 2023.1.19 and (2025.10): the report's dates in tables and source lines.
DOT_DATE_RE = re.compile(r"(?<![\d.])((?:19|20)\d{2})\.(1[0-2]|0?[1-9])(?:\.(3[01]|[12]\d|0?[1-9]))?(?![\d.])")
CJK_DATE_RE = re.compile(r"(?<![\d.])(\d{1,4})\s?([年月日])")
MONTHS = (
    "January February March April May June July August September October November December".split(),
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
)
MONTH_RE = re.compile(rf"\b(?:{'|'.join(MONTHS[0])}|(?:{'|'.join(MONTHS[1])})\.?)(?![a-z])")
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen".split()
_UNITS += "seventeen eighteen nineteen twenty".split()
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
_ORDINALS = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()
_ORDINALS += "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
NUMBER_WORDS = {w: float(i) for i, w in enumerate(_UNITS)} | {w: float(i) for i, w in enumerate(_ORDINALS)}
NUMBER_WORDS |= {w: float(v) for w, v in _TENS.items()} | {"dozen": 12.0, "half": 0.5, "double": 2.0}
NUMBER_WORD_RE = re.compile(rf"\b(?:{_alternation(NUMBER_WORDS)})\b", re.IGNORECASE)
CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
CHINESE_DIGITS |= {"八": 8, "九": 9}
CHINESE_NUMERAL_RE = re.compile(r"[零〇一二两兩三四五六七八九十百千]+")


@dataclass(frozen=True)
class Quantity:
    """A number as written (``text`` at ``start``:``end``), its value and unit.

    unit: "usd", "cny", "jpy", "eur", "percent", "times", "year", "month", "day", or "" for a plain count.
    ``alt`` is a second reading: 22年 is 22 or the year 2022.
    ``decimals`` counts the digits written after the point, for the rounding tolerance.
    ``bound`` says the number is a limit: "more than 70%" is stated by 71.7%.
    """

    value: float
    unit: str = ""
    text: str = ""
    start: int = 0
    end: int = 0
    alt: float | None = None
    decimals: int = 0
    scale: float = 1.0
    bound: int = 0  # +1 when written as a lower bound (more than, 超え, 超过), -1 as an upper one (under, 未満)

    def readings(self) -> tuple[float, ...]:
        return (self.value,) if self.alt is None else (self.value, self.alt)


def normalize_width(text: str) -> str:
    return text.translate(_WIDTH)


def _number(digits: str) -> float:
    return float(digits.replace(",", ""))


def quantities(text: str, *, words: bool = False, in_names: bool = False) -> list[Quantity]:
    """Every number in ``text`` with its value and unit, in order; not the digits of a name or a version
    (DeepSeek-V3, バージョン1.5) unless ``in_names`` (a translation must keep those too).

    With ``words`` English number words and ordinals up to twenty (three, fifteenth) and Chinese numerals
    (十四) count as well: a translation may spell out what the original writes in digits.
    """
    text = normalize_width(text)
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    def add(q: Quantity) -> None:
        found.append(q)
        taken.append((q.start, q.end))

    for m in DOT_DATE_RE.finditer(text):
        for group, unit in ((1, "year"), (2, "month"), (3, "day")):
            if m.group(group):
                add(Quantity(float(m.group(group)), unit, m.group(group), m.start(group), m.end(group)))
        taken.append(m.span())
    for m in CJK_DATE_RE.finditer(text):
        if not free(*m.span()):
            continue
        digits, mark = m.group(1), m.group(2)
        value = float(digits)
        if mark == "年":
            if len(digits) == 4 and 1800 <= value <= 2200:
                add(Quantity(value, "year", m.group(0), *m.span()))
            elif len(digits) == 2:  # 22年以降: the year 2022, or 22 years
                add(Quantity(value, "year", m.group(0), *m.span(), alt=2000 + value))
            else:
                add(Quantity(value, "", m.group(0), *m.span()))
        elif mark == "月" and 1 <= value <= 12:
            add(Quantity(value, "month", m.group(0), *m.span()))
        elif mark == "日" and 1 <= value <= 31:
            add(Quantity(value, "day", m.group(0), *m.span()))
    for m in AMOUNT_RE.finditer(text):
        if not free(m.start("num"), m.end("num")) or (not in_names and _names_something(text, m)):
            continue
        add(_amount(m))
    for m in DOUBLING_RE.finditer(text):
        if free(*m.span()):
            add(Quantity(2.0, "times", m.group(0), *m.span()))
    if words:
        for m in MONTH_RE.finditer(text):
            name = m.group(0).rstrip(".")
            index = (MONTHS[0].index(name) if name in MONTHS[0] else MONTHS[1].index(name[:3])) + 1
            add(Quantity(float(index), "month", m.group(0), *m.span()))
        for m in NUMBER_WORD_RE.finditer(text):
            add(Quantity(NUMBER_WORDS[m.group(0).lower()], "", m.group(0), *m.span()))
        for m in CHINESE_NUMERAL_RE.finditer(text):
            if free(*m.span()):
                for value in _chinese_readings(m.group(0)):
                    found.append(Quantity(value, "", m.group(0), *m.span()))
    return sorted((_bounded(text, q) for q in found), key=lambda q: q.start)


def _bounded(text: str, q: Quantity) -> Quantity:
    """``q`` with the limit its neighbouring words make it (a date is never one)."""
    if not is_amount(q):
        return q
    before, after = text[max(0, q.start - 16) : q.start], text[q.end : q.end + 4]
    for pattern, direction in BOUND_BEFORE_RES:
        if pattern.search(before):
            return replace(q, bound=direction)
    for pattern, direction in BOUND_AFTER_RES:
        if pattern.match(after):
            return replace(q, bound=direction)
    return q


def _names_something(text: str, m: re.Match[str]) -> bool:
    """Whether the number of ``m`` is part of a name, a version or an ordinal rather than an amount."""
    if m.group("pre") or m.group("big") or m.group("eng") or m.group("suf"):
        return False
    before, after = text[max(0, m.start("num") - 10) : m.start("num")], text[m.end("num") : m.end("num") + 2]
    return bool(NAME_BEFORE_RE.search(before) or NAME_AFTER_RE.match(after)) and not after.startswith("年")


def _amount(m: re.Match[str]) -> Quantity:
    digits = m.group("num")
    value = _number(digits)
    scale = 1.0
    if m.group("big"):
        scale = SMALL.get(m.group("small") or "", 1.0) * BIG[m.group("big")]
    elif m.group("alone"):
        scale = SMALL["千"]
    if m.group("eng"):
        scale *= ENGLISH_SCALE[m.group("eng").lower()]
    unit = ""
    if m.group("pre"):
        unit = CURRENCY_PREFIX[m.group("pre").lower()]
    suffix = (m.group("suf") or "").lower()
    if suffix:
        unit = CURRENCY_SUFFIX.get(suffix) or OTHER_SUFFIX.get(suffix, "")
        if suffix == "割":
            value *= 10  # 2割 = 20%
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    written = m.group(0)
    start = m.start() + len(written) - len(written.lstrip())  # the pattern may take a space before the number
    end = m.end() - (len(written) - len(written.rstrip()))
    return Quantity(value * scale, unit, written.strip(), start, end, decimals=decimals, scale=scale)


# A round or batch named by its place (第2回, 第五批, the fifth round, 5th batch, round 3): the report counts its
# registration rounds so, and a question naming one asks about that round only.
_ROUND_COUNTER = r"(?:回|批|轮|輪|届)"
_ROUND_NOUN = r"(?:rounds?|batch(?:es)?|waves?)"
ROUND_RES = (
    re.compile(rf"第\s*(\d{{1,2}}|[一二三四五六七八九十]+)\s*{_ROUND_COUNTER}"),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)\s+{_ROUND_NOUN}\b", re.IGNORECASE),
    re.compile(rf"\b({'|'.join(_ORDINALS[1:])})\s+{_ROUND_NOUN}\b", re.IGNORECASE),
    re.compile(r"\b(?:round|batch|wave)\s+(\d{1,2})\b", re.IGNORECASE),
)


def rounds(text: str) -> set[int]:
    """The places of the rounds or batches ``text`` names: {3, 4} for 第3回及び第4回, {5} for "the fifth round"."""
    found: set[int] = set()
    text = normalize_width(text)
    for pattern in ROUND_RES:
        for m in pattern.finditer(text):
            word = m.group(1).lower()
            if word.isdigit():
                found.add(int(word))
            elif word in _ORDINALS:
                found.add(_ORDINALS.index(word))
            elif (value := _chinese_value(word)) is not None:
                found.add(int(value))
    return found


def _chinese_readings(run: str) -> list[float]:
    """The value of a Chinese numeral (十四 → 14, 二十八 → 28, 三 → 3), else each of its digits."""
    value = _chinese_value(run)
    if value is not None:
        return [value]
    return [float(CHINESE_DIGITS[ch]) for ch in run if ch in CHINESE_DIGITS]


def _chinese_value(run: str) -> float | None:
    total, digit = 0, None
    for ch in run:
        if ch in CHINESE_DIGITS:
            if digit is not None:
                return None  # 十五五: not one number
            digit = CHINESE_DIGITS[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (1 if digit is None else digit) * unit
            digit = None
    return float(total + (digit or 0))


def is_amount(q: Quantity) -> bool:
    """An amount, share or count, not a date part nor a year written without 年 (2025 in "Made in China 2025")."""
    year_like = not q.unit and q.value.is_integer() and 1900 <= q.value <= 2100
    return q.unit not in DATE_PARTS and not year_like


def units_agree(a: str, b: str) -> bool:
    """Whether two units can name the same quantity: equal, or one side a plain number (a table header or
    the sentence may carry the unit), except that a percentage is only ever a percentage."""
    if a == b:
        return True
    if "percent" in (a, b):
        return False
    if a in DATE_PARTS and b in DATE_PARTS:
        return False
    return a == "" or b == ""


def same_value(report: Quantity, other: Quantity, *, rounding: bool = False) -> bool:
    """Whether ``other`` states ``report``'s value: equal (within floating error) or, with ``rounding``, a
    rounding of it to the digits ``other`` is written with, within 2% (109 billion for 1091億; never
    another scale: 1.2 million for 1.2兆 is 10^6 times off); when ``other`` is a limit ("more than 70%"),
    a value beyond it."""
    if not units_agree(report.unit, other.unit):
        return False
    beyond = any((a - b) * other.bound > 0 for a in report.readings() for b in other.readings())
    if other.bound and beyond and is_amount(report) and report.unit == other.unit:
        return True
    # A year or a date is exact: 2020 is no rounding of 2025.
    rounding = rounding and is_amount(report) and is_amount(other)
    for a in report.readings():
        for b in other.readings():
            if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                return True
            if rounding and b:
                half_step = 0.5 * 10.0 ** _rounding_place(other) * other.scale
                if abs(a - b) <= half_step and abs(a - b) <= 0.02 * abs(b):
                    return True
    return False


def _rounding_place(q: Quantity) -> int:
    """The power of ten ``q`` is rounded to as written: -1 for 109.1, 0 for 109, 1 for 110."""
    if q.decimals:
        return -q.decimals
    digits = re.sub(r"\D", "", q.text.split(".")[0]) or "0"
    return len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0


def mentioned(quantity: Quantity, text: str, *, rounding: bool = True) -> bool:
    """Whether ``text`` states ``quantity`` (in any of the three languages' ways of writing it)."""
    return any(same_value(q, quantity, rounding=rounding) for q in quantities(text))


# -- writing numbers for readers --


def _trim(value: float, digits: int = 3, grouping: str = ",") -> str:
    text = f"{value:{grouping}.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def render(quantity: Quantity, language: str) -> str:
    """``quantity`` as a reader of ``language`` writes it: $109.1 billion / 1091亿美元, 1.2 trillion yuan /
    1.2万亿元, 4.9 million / 490万, 20%, 12 times / 12倍; Japanese keeps the report's own text."""
    if language == "ja" or quantity.unit in DATE_PARTS:
        return quantity.text
    value, unit = quantity.value, quantity.unit
    if unit == "percent":
        return f"{_trim(value)}%"
    if language == "zh":
        return _render_zh(value, unit)
    return _render_en(value, unit)


def _render_en(value: float, unit: str) -> str:
    number = ""
    for word, size in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if abs(value) >= size:
            number = f"{_trim(value / size)} {word}"
            break
    if not number:
        number = _trim(value)
    if unit == "usd":
        return f"${number}"
    if unit == "times":
        return f"{number} times"
    suffix = {"cny": " yuan", "jpy": " yen", "eur": " euros"}.get(unit, "")
    return number + suffix


def _render_zh(value: float, unit: str) -> str:
    number = _trim(value, grouping="")
    for mark, size in (("万亿", 1e12), ("亿", 1e8), ("万", 1e4)):
        if abs(value) >= size:
            number = f"{_trim(value / size, grouping='')}{mark}"
            break
    suffix = {"usd": "美元", "cny": "元", "jpy": "日元", "eur": "欧元", "times": "倍"}.get(unit, "")
    return number + suffix


def render_date(year: int | None, month: int | None, day: int | None, language: str) -> str:
    """2025年1月 → January 2025 (en), 2025年1月 (zh and ja)."""
    if language == "en":
        parts = [MONTHS[0][month - 1]] if month else []
        if day:
            parts.append(f"{day},")
        if year:
            parts.append(str(year))
        return " ".join(parts).rstrip(",")
    return "".join(f"{v}{mark}" for v, mark in ((year, "年"), (month, "月"), (day, "日")) if v)
