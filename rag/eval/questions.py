"""The question set: questions with their gold sections, evidence and key facts, split into a tuning part and a
held-out test part that is fixed in the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.lang import LANGUAGES

SPLITS = ("tune", "test")
# fact/table/number: a fact in prose, a table or an amount; summary/structure: a chapter or section as a whole;
# meta: the report itself; followup: read with its history; help: a greeting; unanswerable, injection: refuse.
KINDS = ("fact", "table", "number", "summary", "structure", "meta", "followup", "help", "unanswerable", "injection")


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    question: str
    answerable: bool
    section: str = ""
    evidence: tuple[str, ...] = ()
    key_facts: tuple[str, ...] = ()
    kind: str = "fact"
    split: str = "tune"
    history: tuple[dict[str, str], ...] = ()

    @property
    def refusable(self) -> bool:
        """A question the report cannot answer: it should get an abstention (help gets help instead)."""
        return not self.answerable and self.kind != "help"


def _question(data: dict[str, Any]) -> Question:
    answerable = bool(data.get("answerable", True))
    return Question(
        id=str(data["id"]),
        language=str(data["language"]),
        question=str(data["question"]),
        answerable=answerable,
        section=str(data.get("section", "")),
        evidence=tuple(data.get("evidence", ())),
        key_facts=tuple(data.get("key_facts", ())),
        kind=str(data.get("kind") or ("fact" if answerable else "unanswerable")),
        split=str(data.get("split", "tune")),
        history=tuple({"role": str(m["role"]), "content": str(m["content"])} for m in data.get("history", ())),
    )


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; a bad line is reported with its number."""
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read question set {path} ({exc}): give a UTF-8 JSONL file") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = _question(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}:{number}: not a question object ({exc}): each line needs id, language, question"
            ) from exc
        if question.language not in LANGUAGES:
            raise InputError(f"{path}:{number}: language must be one of {', '.join(LANGUAGES)}")
        if question.split not in SPLITS:
            raise InputError(f"{path}:{number}: split must be one of {', '.join(SPLITS)}")
        if question.kind not in KINDS:
            raise InputError(f"{path}:{number}: kind must be one of {', '.join(KINDS)}")
        questions.append(question)
    if not questions:
        raise InputError(f"{path} holds no questions")
    return questions
