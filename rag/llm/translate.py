"""`rag translate`: the units of a revised report that the edition lacks, translated one by one by the
configured LLM, each kept only when it passes the edition's checks (numbers, names, table cells)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.edition import Unit, edition_path, read_entries
from rag.edition_checks import translation_problems
from rag.errors import LLMError
from rag.llm.client import LLMClient

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}
NUMBER_RULES = {
    "en": "Convert Japanese scale characters to English scale words with the same value: 万 = 10^4, 億 = 10^8, "
    "兆 = 10^12, 千 = 10^3 (1091億ドル = $109.1 billion; 1.2兆元 = 1.2 trillion yuan; "
    "490万社 = 4.9 million companies). Write 2025年1月 as January 2025.",
    "zh": "Keep Chinese scale characters with the same value: 1091億ドル = 1091亿美元; 1.2兆元 = 1.2万亿元; "
    "490万社 = 490万家.",
}
PROMPT = """You translate one unit (a sentence, table row, heading or caption) of the Japanese report {report} into \
{language}, for a published translation that readers quote.
Rules:
1. Translate faithfully and completely: no summarising, no omissions, no additions, no notes.
2. Keep every number with its exact value and unit, in Arabic digits. {numbers} Percentages stay as they are.
3. Keep every Latin-script name (DeepSeek, GPT-4.5, AI, CAICT, ...) exactly as written.
4. A table row's cells are separated by " | " (space, pipe, space): keep exactly the same separators, in the same \
places, including a leading " | " for an empty first cell.
5. Names of companies and products as they call themselves in {language} (月の暗面 = Moonshot AI, 智譜AI = Zhipu AI, \
通義千問 = Qwen).
Reply with the translation only."""
MAX_TOKENS_PER_CHAR = 4


@dataclass
class TranslationRun:
    """What one `rag translate` did: units filled, units left untranslated with why, entries dropped."""

    language: str
    path: Path
    filled: list[Unit] = field(default_factory=list)
    failed: list[tuple[Unit, str]] = field(default_factory=list)
    dropped: int = 0  # entries of units the report no longer has


def translate_missing(
    client: LLMClient,
    language: str,
    corpus_dir: Path,
    units: list[Unit],
    report: str,
    progress: Callable[[Unit], None] | None = None,
) -> TranslationRun:
    """Fill the units the edition of ``language`` lacks. The file is rewritten in the report's order after each
    unit (atomically), so an interruption keeps what was done."""
    path = edition_path(corpus_dir, language)
    entries: dict[str, dict[str, str]] = {}
    if path.is_file():
        entries = {e["key"]: e for _, e in read_entries(path)}
    by_key = {u.key: u for u in units}
    run = TranslationRun(language, path, dropped=sum(1 for k in entries if k not in by_key))
    entries = {k: e for k, e in entries.items() if k in by_key}
    system = PROMPT.format(report=report, language=LANGUAGE_NAMES[language], numbers=NUMBER_RULES[language])
    for unit in [u for u in units if u.key not in entries]:
        if progress is not None:
            progress(unit)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": unit.ja}]
        try:
            text = client.complete(messages, max_tokens=MAX_TOKENS_PER_CHAR * len(unit.ja) + 50).strip()
        except LLMError as exc:
            run.failed.append((unit, f"the LLM failed ({exc.reason})"))
            continue
        problems = translation_problems(unit.ja, text, language)
        if problems:
            run.failed.append((unit, "; ".join(problems)))
            continue
        entries[unit.key] = {"key": unit.key, "section": unit.section, "kind": unit.kind, "ja": unit.ja, "text": text}
        run.filled.append(unit)
        _write(path, [entries[u.key] for u in units if u.key in entries])
    if run.dropped and not run.filled:
        _write(path, [entries[u.key] for u in units if u.key in entries])
    return run


def _write(path: Path, entries: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    tmp.replace(path)
