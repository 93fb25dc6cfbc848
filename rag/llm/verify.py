"""Verify a generated answer sentence by sentence against the passages it cites."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.lang import HAN_RE, KANA_RE, LATIN_RE
from rag.numbers import DATE_PARTS, Quantity, quantities, same_value

# [1], [1][2], [1, 2], [1、2]; fullwidth ［１］ is folded to this by NFKC first.
MARKER_RE = re.compile(r"\[(\d+(?:\s*[,、，]\s*\d+)*)\]")
# A sentence ends at 。！？!? or ". ", or a line break; closing quotes and its [n] markers stay with it.
SENTENCE_RE = re.compile(
    r".*?(?:[。！？!?]|\.(?=\s)|\n|$)[」』”’)）\"'*]*(?:\s*\[\d+(?:\s*[,、，]\s*\d+)*\])*\s*", re.DOTALL
)
# A marker still being written at the end of a stream: the sentence before it is not finished yet.
PARTIAL_MARKER_RE = re.compile(r"\s*(?:\[[\d\s,、，]*)?$")
QUOTED_RE = re.compile(r"「([^」]{2,})」|『([^』]{2,})』|“([^”]{2,})”|\"([^\"]{2,})\"")
LIST_MARK_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)、])\s+")
MIN_LETTERS = 4  # shorter sentences ("[1]", "OK.") are not judged for language


@dataclass(frozen=True)
class Verdict:
    sentence: str
    cited: tuple[int, ...]  # passage numbers the sentence cites, in order
    reason: str | None  # None when the sentence passes


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing [n] markers and whitespace; joined they give ``text`` back."""
    return [m.group(0) for m in SENTENCE_RE.finditer(text) if m.group(0)]


class SentenceBuffer:
    """Collects streamed text and hands out sentences once they are complete (the next sentence has begun),
    so each can be verified before anyone sees it."""

    def __init__(self) -> None:
        self._text = ""

    def feed(self, piece: str) -> Iterator[str]:
        self._text += piece
        sentences = split_sentences(self._text)
        # The last sentence may still grow; one followed only by a marker being written gets that marker.
        keep = 2 if len(sentences) > 1 and PARTIAL_MARKER_RE.fullmatch(sentences[-1]) else 1
        done = 0
        for sentence in sentences[:-keep]:
            yield sentence
            done += len(sentence)
        self._text = self._text[done:]

    def flush(self) -> Iterator[str]:
        text, self._text = self._text, ""
        yield from split_sentences(text)


def cited_numbers(sentence: str) -> tuple[int, ...]:
    found: list[int] = []
    for group in MARKER_RE.findall(normalize(sentence)):
        found.extend(int(n) for n in re.split(r"\s*[,、，]\s*", group))
    return tuple(dict.fromkeys(found))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def matches_language(sentence: str, language: str) -> bool:
    """Whether the sentence is written in ``language``; quoted report words and markers do not count."""
    text = MARKER_RE.sub("", QUOTED_RE.sub("", normalize(sentence)))
    kana, han, latin = (len(r.findall(text)) for r in (KANA_RE, HAN_RE, LATIN_RE))
    if kana + han + latin < MIN_LETTERS:
        return True
    if language == "en":
        return latin >= kana + han
    if language == "ja":
        return kana > 0
    # Chinese: Han script without kana (a Japanese sentence always has kana).
    return han > latin and kana == 0


def substance(sentence: str) -> int:
    """How much a sentence says: its letters and digits, markers, list marks and punctuation left out."""
    body = LIST_MARK_RE.sub("", MARKER_RE.sub(" ", normalize(sentence)))
    return sum(ch.isalnum() for ch in body)


def check_sentence(sentence: str, passages: Sequence[str], language: str) -> Verdict:
    """Every [n] names a given passage; every number (its value and unit, as rag.numbers reads them in any of
    the three languages) and every quoted span appears in the passages the sentence cites; the sentence is in
    the asker's language. A passage may carry the Japanese original and its translation: both count."""
    text = normalize(sentence)
    cited = cited_numbers(text)
    unknown = [n for n in cited if not 1 <= n <= len(passages)]
    if unknown:
        return Verdict(sentence, cited, f"cites [{unknown[0]}], which is not one of the {len(passages)} passages")
    source = normalize("\n".join(passages[n - 1] for n in cited))
    body = LIST_MARK_RE.sub("", MARKER_RE.sub(" ", text))
    stated = quantities(source)
    for claimed in quantities(body):
        if not any(same_value(s, claimed, rounding=True) for s in stated):
            where = "the passages it cites" if cited else "any cited passage (it cites none)"
            return Verdict(sentence, cited, f"number {_shown(claimed)} is not in {where}")
    squashed = _squash(source)
    for groups in QUOTED_RE.findall(body):
        quoted = next(g for g in groups if g)
        if _squash(quoted) not in squashed:
            return Verdict(sentence, cited, f"quote “{quoted}” is not in the passages it cites")
    if not matches_language(text, language):
        return Verdict(sentence, cited, f"not written in {language}")
    return Verdict(sentence, cited, None)


# A marker as the model may write it, before NFKC: [1], ［１］, [1, 2].
ANY_MARKER_RE = re.compile(r"\s*[\[［]\s*[\d０-９]+(?:\s*[,、，]\s*[\d０-９]+)*\s*[\]］]")
SENTENCE_END = "。！？!?. \t\n"  # what a sentence may end with, after its words


def with_marker(sentence: str, n: int, language: str) -> str:
    """``sentence`` citing passage ``n`` alone: its own markers dropped, [n] put before its final punctuation."""
    body = ANY_MARKER_RE.sub("", sentence)
    head = body.rstrip(SENTENCE_END)
    tail = body[len(head) :]
    return f"{head}{' ' if language == 'en' else ''}[{n}]{tail}"


def attribute(sentence: str, passages: Sequence[str], language: str, prefer: Sequence[int] = ()) -> str | None:
    """``sentence`` re-cited to the passage that holds all its numbers and quoted spans, when it cites none or
    the wrong one (small models drop markers, or write [3] for what [1] says): the claim is still checked
    against a passage, and the reader is pointed at the one that holds it. Passages already cited elsewhere in
    the answer come first. None when the sentence has nothing to check (no number, no quote) or no passage
    holds it all."""
    body = normalize(ANY_MARKER_RE.sub("", sentence))
    if not quantities(body) and not QUOTED_RE.search(body):
        return None
    order = [*prefer, *(n for n in range(1, len(passages) + 1) if n not in prefer)]
    for n in order:
        candidate = with_marker(sentence, n, language)
        if check_sentence(candidate, passages, language).reason is None:
            return candidate
    return None


def _shown(q: Quantity) -> str:
    """A number for a reason line: as written, with its value and unit when the writing has a scale or unit
    ("1.2 million yuan = 1200000 cny", "2030")."""
    value = f"{q.value:.12g}"
    plain = q.text.replace(",", "") == value and not q.unit
    return q.text if plain or q.unit in DATE_PARTS else f"{q.text} = {value} {q.unit}".rstrip()
