"""`rag serve`: start the HTTP server at once and load (or build) the index behind it."""

from __future__ import annotations

import threading
import time
from typing import Any

import typer
import uvicorn

from rag.config import Settings
from rag.serve import logs
from rag.serve.app import create_app
from rag.serve.security import split_list
from rag.serve.state import AppState
from rag.serve.watch import IndexWatcher

# On SIGTERM uvicorn stops accepting and gives in-flight requests this long to finish.
GRACEFUL_SHUTDOWN_S = 20


def load_in_background(state: AppState, settings: Settings) -> threading.Thread:
    """Load the pipeline (building a missing or stale index first) while /healthz says "loading", swap
    it into ``state`` or record why it failed; then watch the index and swap rebuilt ones in."""

    def work() -> None:
        started = time.perf_counter()
        watcher = IndexWatcher(state, settings)
        if watcher.start_up(show_progress=True):
            typer.echo(
                f"ready in {time.perf_counter() - started:.1f}s: {state.pipeline.summary().get('chunks')} passages"
            )
        else:
            typer.secho(f"error: {state.reason}", fg=typer.colors.RED, err=True)
        watcher.watch()  # returns at once when RAG_INDEX_CHECK_S is 0 or the model did not load

    thread = threading.Thread(target=work, name="index-loader", daemon=True)
    thread.start()
    return thread


class _Server(uvicorn.Server):
    """Announces the address only once the socket is bound (a taken port fails before that)."""

    def __init__(self, config: uvicorn.Config, banner: str):
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            typer.echo(self.banner)


def build_server(
    settings: Settings, host: str | None = None, port: int | None = None, *, with_ui: bool = True
) -> tuple[uvicorn.Server, AppState]:
    """A uvicorn server over a not-yet-ready app; ``serve`` runs it. Split out so tests can drive it."""
    host = host or settings.host
    port = settings.port if port is None else port
    state = AppState(reason="loading the model and index", feedback_path=settings.feedback_file)
    app = create_app(state, with_ui=with_ui, settings=settings)
    # log_config=None: uvicorn's own records go to the root handler that rag.serve.logs sets up (JSON or text).
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
    )
    ui = "UI at /, " if with_ui else ""
    return _Server(config, f"report-rag serving on http://{host}:{port} ({ui}API docs at /docs)"), state


def serve(settings: Settings, host: str | None = None, port: int | None = None, *, with_ui: bool = True) -> None:
    """Serve the API (and the chat UI) on ``host:port``; /healthz is 503 "loading" until the index is ready."""
    keys = settings.api_keys.get_secret_value() if settings.api_keys else ""
    logs.configure(settings.log_json, secrets=split_list(keys))
    server, state = build_server(settings, host, port, with_ui=with_ui)
    # Listening before the model loads keeps readiness honest: a probe sees 503 "loading", not a refused port.
    load_in_background(state, settings)
    server.run()
