"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for testing the LLM path for real.

It speaks the protocol (plain JSON and server-sent events) over a real socket, so the client under test
runs its own transport, timeouts and retries; replies come from a script the test writes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PIECE_CHARS = 7  # streamed replies come in small pieces, so sentences straddle chunks


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    piece_delay: float = 0.0  # seconds between streamed pieces
    retry_after: str | None = None
    error_after: int | None = None  # streaming: send an error event after this many pieces
    raw: str | None = None  # a body sent as is (a malformed reply)


Script = Reply | Callable[[dict[str, Any]], Reply]


class ScriptedLLM:
    """Replies in the order scripted; ``default`` once the script runs out. Records every request."""

    def __init__(self) -> None:
        self.script: list[Script] = []
        self.default: Script | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown at teardown waits for at most one poll.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()  # releases slow replies still waiting
        self._server.shutdown()
        self._server.server_close()

    def reply(self, *replies: Script) -> None:
        self.script = list(replies)

    def next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            step = self.script.pop(0) if self.script else self.default
        if step is None:
            return Reply(status=500, text="unscripted request")
        return step(body) if callable(step) else step


def _handler(llm: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            # The client may give up (its timeout) before the reply is written: nothing to answer then.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._serve()

        def _serve(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            if self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            reply = llm.next_reply(body, {k.lower(): v for k, v in self.headers.items()})
            if reply.delay and llm.stop.wait(reply.delay):
                return
            if reply.raw is not None:
                self._send(reply.status, "application/json", reply.raw.encode())
            elif reply.status != 200:
                extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                self._json(reply.status, {"error": {"message": reply.text, "type": "server_error"}}, extra)
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                message = {"role": "assistant", "content": reply.text}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._json(200, _completion(body, "chat.completion", [choice]))

        def _stream(self, body: dict[str, Any], reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            pieces = [reply.text[i : i + PIECE_CHARS] for i in range(0, len(reply.text), PIECE_CHARS)]
            self._event(_completion(body, "chat.completion.chunk", [_delta({"role": "assistant", "content": ""})]))
            for n, piece in enumerate(pieces):
                if reply.error_after is not None and n == reply.error_after:
                    self._event({"error": {"message": "scripted failure mid-stream", "code": 500}})
                    return
                if reply.piece_delay and llm.stop.wait(reply.piece_delay):
                    return
                self._event(_completion(body, "chat.completion.chunk", [_delta({"content": piece})]))
            self._event(_completion(body, "chat.completion.chunk", [_delta({}, "stop")]))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, data: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._send(status, "application/json", json.dumps(data, ensure_ascii=False).encode(), headers)

        def _send(self, status: int, kind: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _delta(part: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": part, "finish_reason": finish}


def _completion(body: dict[str, Any], kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": kind,
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": choices,
    }
