"""Logging for `rag serve`: JSON lines or text on stderr, one access line per request, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

ACCESS = logging.getLogger("rag.access")
BEARER_RE = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")
REDACTED = "[redacted]"
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


class Redactor:
    """Scrubs bearer tokens and the configured keys from a log line: a net under code that never logs them."""

    def __init__(self, secrets: Sequence[str] = ()):
        # Longest first, so a key that contains another is scrubbed whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = BEARER_RE.sub(r"\1" + REDACTED, text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the process id (which worker of `rag serve --workers`),
    then the record's ``fields`` (the access line's)."""

    def __init__(self, secrets: Sequence[str] = ()):
        super().__init__()
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Redacted before encoding: JSON escapes would hide a key with a quote or a backslash from the scrub.
        clean = {k: self.redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(clean, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The CLI's usual ``LEVEL logger: message``, redacted like the JSON lines."""

    def __init__(self, secrets: Sequence[str] = ()):
        super().__init__(TEXT_FORMAT)
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure(json_lines: bool, secrets: Sequence[str] = (), level: str | None = None) -> None:
    """Route every log record through one stderr handler, JSON or text, and switch the access log on.

    The root level is ``level`` if given, else stays as the CLI set it (``-v`` for INFO, ``-vv`` for DEBUG).
    API access lines are INFO on ``rag.access`` and always shown, since one line per request is what a
    server's log is for; the page's own files (scripts, styles, fonts) are DEBUG, shown only at that level.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if json_lines else TextFormatter(secrets))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    if level is not None:
        root.setLevel(level.upper())
    ACCESS.setLevel(min(logging.INFO, root.getEffectiveLevel()))


def log_request(fields: dict[str, Any], level: int = logging.INFO) -> None:
    """The access line: a short text message, and the same facts as structured ``fields`` for JSON."""
    if not ACCESS.isEnabledFor(level):
        return
    extras = " ".join(f"{k}={fields[k]}" for k in ("key_id", "language", "abstained") if k in fields)
    if "question" in fields:
        extras += " question=" + json.dumps(fields["question"], ensure_ascii=False)
    message = "{method} {path} {status} {latency_ms:.1f}ms id={request_id}".format(**fields)
    ACCESS.log(level, f"{message} {extras}".rstrip(), extra={"fields": fields})
