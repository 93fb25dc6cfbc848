"""Checks that make a translated unit trustworthy: numbers with scale and unit, Latin-script names, table
cells, and no untranslated Japanese left."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from rag.numbers import Quantity, quantities, render, same_value

CELL_SEPARATOR = " | "
# Model, company and benchmark names as the report writes them: DeepSeek, GPT-4.5, o4-mini, GB/T, RISC-V.
LATIN_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.'/+&][A-Za-z0-9]+)*")
KANA_RE = re.compile(r"[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f]")  # not ・ (U+30FB)
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def name_pattern(name: str) -> re.Pattern[str]:
    """A Latin-script name as a translation may write it: any case, and a space or hyphen allowed where
    letters meet digits ("AI3年" is AI and 3年: "AI 3-year")."""
    parts = re.split(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", name)
    return re.compile(r"[\s-]?".join(re.escape(p) for p in parts), re.IGNORECASE)


def _describe(q: Quantity, language: str) -> str:
    shown = render(q, language)
    return q.text if shown == q.text else f"{q.text} = {shown}"


def translation_problems(original: str, translation: str, language: str) -> list[str]:
    """What a translation of one unit lacks or breaks; empty when it passes."""
    if not translation.strip():
        return ["the translation is empty"]
    problems: list[str] = []
    if original.count(CELL_SEPARATOR) != translation.count(CELL_SEPARATOR):
        problems.append(
            f"table cells: the original has {original.count(CELL_SEPARATOR) + 1},"
            f" the translation {translation.count(CELL_SEPARATOR) + 1}"
        )
    # Each number as written, not as a limit: "more than 50 times" does not translate 100倍以上.
    found = [replace(t, bound=0) for t in quantities(translation, words=True, in_names=True)]
    for q in quantities(original, in_names=True):
        if not any(same_value(q, t) for t in found):
            problems.append(f"number {_describe(q, language)} is missing")
    text = unicodedata.normalize("NFKC", translation)
    for name in dict.fromkeys(LATIN_NAME_RE.findall(unicodedata.normalize("NFKC", original))):
        if len(name) > 1 and not name_pattern(name).search(text):
            problems.append(f"name {name} is missing")
    if kana := KANA_RE.findall(translation):
        problems.append(f"Japanese kana left untranslated: {''.join(dict.fromkeys(kana))}")
    if language == "en" and (han := HAN_RE.findall(translation)):
        problems.append(f"Chinese characters left in the English: {''.join(dict.fromkeys(han))[:20]}")
    return problems
