"""Access control at the HTTP edge: optional API keys and a per-caller rate limit, as ASGI middleware."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings
from rag.errors import ConfigError

# What a header can carry and a comma-separated setting can hold: visible ASCII but the comma.
KEY_RE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
KEY_ID_CHARS = 8
MIN_KEY_CHARS = 16
# Paths that need a key and count against the rate limit; /healthz, /docs, /openapi.json and the UI do not
# (Gradio checks its own login when RAG_PROTECT_UI is on).
API_PREFIXES = ("/api/", "/v1/")
API_PATHS = ("/api", "/v1")
# Gradio's login form takes an API key as its password: limited like the API, so it cannot be used to guess keys.
LOGIN_PATHS = ("/login", "/login/")
MAX_BUCKETS = 10_000
CORS_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"]
# For /docs: its "Authorize" button then sends the key with every call it makes.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}

ErrorFactory = Callable[[str, int, str, str], Response]


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its non-empty, stripped items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def key_id(key: str) -> str:
    """A short hash prefix naming a key in logs: enough to tell keys apart, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_CHARS]


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path in API_PATHS


def presented_key(headers: Headers) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>`` (OpenAI clients) or ``X-API-Key``."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key", "").strip() or None


class KeyRing:
    """The configured API keys, held as SHA-256 digests and compared in constant time."""

    def __init__(self, keys: Iterable[str]):
        self._digests: list[tuple[bytes, str]] = []
        for n, key in enumerate(keys, 1):
            if not KEY_RE.fullmatch(key):
                raise ConfigError(
                    f"RAG_API_KEYS: key {n} has a space or a character a header cannot carry:"
                    " use letters, digits and punctuation other than the comma"
                )
            if len(key) < MIN_KEY_CHARS:
                raise ConfigError(
                    f"RAG_API_KEYS: key {n} is shorter than {MIN_KEY_CHARS} characters: use a long random one,"
                    " e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            self._digests.append((hashlib.sha256(key.encode()).digest(), key_id(key)))

    @classmethod
    def from_secret(cls, secret: SecretStr | None) -> KeyRing | None:
        """The ring for the RAG_API_KEYS setting, or None when no key is set (the API is open)."""
        keys = split_list(secret.get_secret_value()) if secret is not None else []
        return cls(keys) if keys else None

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str | None) -> str | None:
        """The key id of ``presented`` if it is one of the keys, else None.

        Digests have one length whatever the key's, and every key is compared (no early exit),
        so the time taken says nothing about how close a guess was or which key matched.
        """
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        for known, kid in self._digests:
            if hmac.compare_digest(digest, known):
                found = kid
        return found

    def gradio_auth(self, username: str, password: str) -> bool:
        """Gradio's login check: any user name, an API key as the password."""
        return self.match(password) is not None


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per caller: ``burst`` requests at once, refilled at ``per_minute``.

    One lock guards the buckets; it is held for a few arithmetic steps and never across an await,
    so it is safe from the event loop and from worker threads alike. Memory is bounded: a bucket
    idle long enough to refill is dropped (a new one starts full, the same thing), and past
    ``max_buckets`` the least recently used go first.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ):
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self._refill_s = burst / self.rate  # an empty bucket is full again after this long

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, caller: str) -> float:
        """Take one token for ``caller``: 0.0 if allowed, else the seconds until a token is due."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(caller, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            wait = 0.0
            if bucket.tokens >= 1:
                bucket.tokens -= 1
            else:
                wait = (1 - bucket.tokens) / self.rate
            self._buckets[caller] = bucket  # most recently used at the end
            self._evict(now)
            return wait

    def _evict(self, now: float) -> None:
        # Oldest first: stop at the first bucket still refilling, unless over the cap.
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if len(self._buckets) <= self.max_buckets and now - oldest.updated < self._refill_s:
                break
            self._buckets.popitem(last=False)


class AccessMiddleware:
    """API keys and the rate limit for API paths, as plain ASGI (nothing buffered, streams pass through).

    A caller is its key id when it sends a valid key, else its address; a wrong key counts against
    the address, so guessing keys runs into the limit too. The key id goes into the scope's state
    for the request log.
    """

    def __init__(self, app: ASGIApp, keys: KeyRing | None, limiter: RateLimiter | None, error: ErrorFactory):
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        api = is_api_path(path)
        if scope["type"] != "http" or not (api or path in LOGIN_PATHS) or _is_preflight(scope):
            await self.app(scope, receive, send)
            return
        presented = presented_key(Headers(scope=scope))
        kid = self.keys.match(presented) if self.keys else None
        if kid is not None:
            scope.setdefault("state", {})["key_id"] = kid
        if self.limiter is not None:
            client = scope.get("client")
            wait = self.limiter.acquire(f"key:{kid}" if kid else f"addr:{client[0] if client else '?'}")
            if wait > 0:
                retry = max(1, math.ceil(wait))
                message = f"rate limit reached: retry in {retry} s (Retry-After) or ask for a higher limit"
                response = self.error(path, 429, message, "rate_limited")
                response.headers["Retry-After"] = str(retry)
                await response(scope, receive, send)
                return
        if api and self.keys is not None and kid is None:
            given = presented is not None
            message = (
                "invalid API key: check the key you send"
                if given
                else "missing API key: send Authorization: Bearer <key> or X-API-Key: <key>"
            )
            response = self.error(path, 401, message, "invalid_api_key" if given else "missing_api_key")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI, settings: Settings, keys: KeyRing | None, error: ErrorFactory) -> None:
    """Add the key check and rate limit (when configured), then CORS around them, so a preflight is
    answered before any key check and a 401 or 429 still carries the CORS headers a browser needs to read it."""
    per_minute, burst = settings.rate_limit_per_minute, settings.rate_limit_burst
    limiter = RateLimiter(per_minute, burst) if per_minute > 0 and burst > 0 else None
    if keys is not None or limiter is not None:
        app.add_middleware(AccessMiddleware, keys=keys, limiter=limiter, error=error)
        _document(app, keys is not None, limiter is not None)
    if origins := split_list(settings.cors_origins):
        # Keys travel in headers, not cookies, so credentials stay off.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            expose_headers=["X-Request-ID", "Retry-After"],
        )


def _document(app: FastAPI, keys: bool, limited: bool) -> None:
    """State the key and the extra statuses in the OpenAPI schema of the API paths."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI after the first call; the edits below are idempotent
        if keys:
            schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        for path, operations in schema.get("paths", {}).items():
            if not is_api_path(path):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if keys:
                    operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
                    responses.setdefault("401", {"description": "Missing or invalid API key."})
                if limited:
                    responses.setdefault("429", {"description": "Rate limit reached: retry after Retry-After s."})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight carries no credentials by design, so it never needs a key."""
    if scope["method"] != "OPTIONS":
        return False
    headers = Headers(scope=scope)
    return "origin" in headers and "access-control-request-method" in headers
