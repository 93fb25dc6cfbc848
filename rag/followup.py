"""Turn a follow-up ("and in 2024?", 「2023年は？」, "那美国呢？") into a standalone question by substituting
its date, place, quoted term, ordinal, name or differing word into the previous question, instead of gluing
the two together."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rag.intents import PLACE_RE

# Openers that mark a question as leaning on the previous one.
FOLLOWUP_RE = re.compile(
    r"^(?:and\b|what about\b|how about\b|also\b|then\b|same\b|"
    r"では|じゃあ|じゃ|それでは|それ(?:は|で|に)|その|また|さらに|"
    r"那么?|那|还有|另外|其中)",
    re.IGNORECASE,
)
OPENER_RES = (
    re.compile(
        r"^(?:(?:and|so|ok|okay|then|also|what about|how about|what of|same for)\b[\s,]*)+(?:(?:for|in)\s+)?", re.I
    ),
    re.compile(r"^(?:では|じゃあ|じゃ|それでは|それなら|なら|また|さらに)[、,\s]*"),
    re.compile(r"^(?:那么|那|还有|另外)[，,\s]*"),
)
TAIL_RE = re.compile(r"(?:は(?:どう(?:ですか|でしょう(?:か)?)?)?|って|の場合は?|呢|怎么样|如何|吗)?[\s?？。.!！]*$")
SHORT_CHARS = {"ja": 20, "zh": 15, "en": 40}
MONTH_NAMES = "January February March April May June July August September October November December"
MONTHS = rf"(?:{'|'.join(MONTH_NAMES.split())}|(?:{'|'.join(m[:3] for m in MONTH_NAMES.split())})\.?)"
# A date as the three languages write it: June 2019, 2019, 2024年7月, 24年.
DATE_RE = re.compile(
    rf"(?:{MONTHS}\s+(?:\d{{1,2}},\s*)?)?(?<!\d)(?:19|20)\d{{2}}(?!\d)(?:\s*年(?:\s*\d{{1,2}}\s*月)?)?|"
    r"(?<!\d)\d{2}年(?:\d{1,2}月)?"
)
# The month of a date (2024年5月, April 2025), and a month written alone (12月, August).
MONTH_OF_DATE_RE = re.compile(rf"(?<=年)\s*\d{{1,2}}\s*月|{MONTHS}(?=\s+(?:\d{{1,2}},\s*)?(?:19|20)\d{{2}})")
MONTH_ALONE_RE = re.compile(rf"^(?:in\s+)?(?:(?<!\d)\d{{1,2}}\s*月|{MONTHS})$", re.IGNORECASE)
# Years relative to the previous question's: 前年, the year before, 上一年.
RELATIVE_YEAR_RES = (
    (re.compile(r"前年|昨年|去年|前の年|the (?:year|one) before|previous year|prior year|上一年|前一年", re.I), -1),
    (re.compile(r"翌年|次の年|the (?:year|one) after|following year|next year|下一年|后一年|次年", re.I), 1),
)
KANA_RE = re.compile(r"[\u3040-\u30ff]")
QUOTED_RE = re.compile(r"「[^」]+」|“[^”]+”|\"[^\"]+\"|『[^』]+』|《[^》]+》|'[^']+'")
ORDINAL_RE = re.compile(
    r"第\s*(?:\d+|[一二三四五六七八九十]+)\s*[回次期段个個項条部章節节位]|\b(?:round|phase|stage|batch|item)\s+\d+\b",
    re.I,
)
# A Latin-script name (DeepSeek-V2, Claude Opus 4, GPT-4.5, Alibaba); capitalised question and date words are not.
QUESTION_CAPITALS = (
    "What Which Who When Where Why How Is Are Was Were Does Do Did And Among In On For The A An Of "
    "According Besides Under Before After Between Since"
)
NOT_NAMES = frozenset(f"{MONTH_NAMES} {QUESTION_CAPITALS}".split())
LATIN_NAME_RE = re.compile(
    r"[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*(?:(?:'s)?\s+(?:[A-Z0-9][A-Za-z0-9.]*(?:-[A-Za-z0-9]+)*))*"
)
FUNCTION_CHARS = frozenset("はがのをにでともへやかてだです？?、。，,的是了吗呢吧什么怎么么哪个多少如何和与及")
ARTICLE_OR_SPACES_RE = re.compile(r"^(?:the|a|an)\s+|\s+", re.IGNORECASE)
SCRIPT_RUN_RE = re.compile(r"[\u30a0-\u30ff]+|[\u3400-\u9fff]+|[A-Za-z0-9][A-Za-z0-9\-.]*")


def is_followup(question: str, language: str) -> bool:
    return bool(FOLLOWUP_RE.match(question.strip())) or len(question) <= SHORT_CHARS.get(language, 20)


def core(question: str) -> str:
    """The follow-up without its opener and tail: "And in 2024?" -> "2024", 「じゃあバッテリーの代表企業は？」 ->
    "バッテリーの代表企業"."""
    text = question.strip()
    for pattern in OPENER_RES:
        text = pattern.sub("", text, count=1)
    return TAIL_RE.sub("", text).strip(" ,、，")


def _names(text: str) -> list[re.Match[str]]:
    found = []
    for m in LATIN_NAME_RE.finditer(text):
        words = m.group(0).split()
        while words and words[0] in NOT_NAMES:
            words.pop(0)
        if words:
            found.append(m)
    return [m for m in found if m.group(0).split()[0] not in NOT_NAMES]


def _swap(text: str, old: re.Match[str], new: str) -> str:
    return text[: old.start()] + new + text[old.end() :]


def _new_content(rest: str, previous: str) -> str:
    """What the follow-up says that the previous question does not: Latin words it lacks, and CJK characters
    it lacks, less function characters (怎么, は)."""
    lowered = previous.lower()
    new = []
    for run in SCRIPT_RUN_RE.findall(rest):
        if run.isascii():
            new += [run] if run.lower() not in lowered and run.lower() not in ("the", "a", "an", "of") else []
        else:
            new += [ch for ch in run if ch not in previous and ch not in FUNCTION_CHARS]
    return "".join(new)


def _aligned_swap(previous: str, rest: str) -> str | None:
    """The previous question with the word before a shared part replaced by the follow-up's: "ストレージの代表企業"
    + 「バッテリーの代表企業は？」 -> バッテリーの代表企業; "input prices" + "the output price" -> output prices."""
    runs = SCRIPT_RUN_RE.findall(rest)
    for i in range(1, len(runs)):
        shared = runs[i]
        stem = shared[:-1] if shared.isascii() and shared.endswith("s") else shared
        for m in re.finditer(re.escape(stem), previous, re.IGNORECASE):
            before = [r for r in SCRIPT_RUN_RE.finditer(previous[: m.start()])]
            if not before or len(stem) < 2:
                continue
            old, new = before[-1], runs[i - 1]
            # Words of one script, each a word of its own: not a digit or a lone character (3番目 ≠ 主); or a
            # name for a name across scripts before a shared word of two characters or more (豆包系列, Gemini系列).
            words = min(len(old.group(0)), len(new)) >= 2 and not (old.group(0).isdigit() or new.isdigit())
            same_script = _script(old.group(0)) == _script(new)
            comparable = words and (same_script or (len(stem) >= 2 and not stem.isascii() and _names(new) != []))
            if comparable and old.group(0).lower() != new.lower() and new.lower() not in ("the", "a", "an"):
                return _swap(previous, old, new)
    return None


def _script(run: str) -> str:
    return "latin" if run.isascii() else ("katakana" if "\u30a0" <= run[0] <= "\u30ff" else "han")


def _relative_to(date: str, word: str, step: int, question: str) -> str:
    """The year before or after ``date``, in the words of the question's language."""
    if word.isascii():
        return f"the year {'before' if step < 0 else 'after'} {date}"
    return f"{date}{'の' if KANA_RE.search(question) else '的'}{word}"


def substitute(previous: str, followup: str) -> str | None:
    """The previous question with the follow-up's date, place, quoted term, ordinal or name put in place of
    the previous one's, or None when the follow-up carries none of these."""
    rest = core(followup)
    text, changed = previous, False
    old_date, new_date = DATE_RE.search(text), DATE_RE.search(rest)
    old_month, new_month = MONTH_OF_DATE_RE.search(text), MONTH_ALONE_RE.search(rest)
    if old_date and not new_date and old_month and new_month:
        # A month alone ("12月は？", "And in August?") keeps the previous question's year.
        text, changed = _swap(text, old_month, new_month.group(0)), True
        rest = rest.replace(new_month.group(0), " ")
    elif old_date and new_date:
        text, changed = _swap(text, old_date, new_date.group(0)), True
        rest = rest.replace(new_date.group(0), " ")
    elif old_date:
        for pattern, step in RELATIVE_YEAR_RES:
            if relative := pattern.search(rest):
                # Kept relative, as the report writes it (前年の約9千万元 next to 2025年): the year itself may
                # be nowhere in the section that answers.
                text, changed = (
                    _swap(text, old_date, _relative_to(old_date.group(0), relative.group(0), step, text)),
                    True,
                )
                rest = pattern.sub(" ", rest)
                break
    for pattern in (PLACE_RE, QUOTED_RE, ORDINAL_RE):
        new_match, old_match = pattern.search(rest), pattern.search(text)
        if new_match and old_match and new_match.group(0) != old_match.group(0):
            text, changed = _swap(text, old_match, new_match.group(0)), True
            rest = rest.replace(new_match.group(0), " ")
    new_names, old_names = _names(rest), _names(text)
    if new_names and old_names and new_names[0].group(0) != old_names[0].group(0):
        text, changed = _swap(text, old_names[0], new_names[0].group(0)), True
        rest = rest.replace(new_names[0].group(0), " ")
    if not changed:
        swapped = _aligned_swap(previous, rest)
        if swapped is not None:
            return swapped
    if changed and _new_content(rest, text):
        # Something else is new as well ("the July 2020 standard-system guide"): it joins the question.
        text = f"{text} {ARTICLE_OR_SPACES_RE.sub(' ', rest).strip()}"
    return text if changed else None


def focus_of(question: str, language: str, history: Sequence[dict[str, Any]] | None) -> str:
    """What a follow-up itself asks about (its own words, without opener and tail), or "" for a question that
    stands alone: the answer should speak of it, not only of the previous question's topic."""
    previous = [m for m in history or () if m.get("role") == "user" and str(m.get("content", "")).strip()]
    return core(question) if previous and is_followup(question, language) else ""


def standalone_question(
    question: str,
    language: str,
    history: Sequence[dict[str, Any]] | None,
    rewrite: Callable[[str, str], str | None] | None = None,
) -> str:
    """The question itself, or, when it is a short follow-up, a standalone question: ``rewrite(previous,
    question)`` (an LLM) when given and it succeeds, else the previous question with the follow-up's date,
    place, term or name substituted in, else the previous question followed by what the follow-up adds."""
    previous = [str(m.get("content", "")).strip() for m in history or () if m.get("role") == "user"]
    previous = [p for p in previous if p]
    if not previous or not is_followup(question, language):
        return question
    rewritten = rewrite(previous[-1], question) if rewrite else None
    return rewritten or substitute(previous[-1], question) or f"{previous[-1]} {core(question) or question}"
