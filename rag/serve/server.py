"""`rag serve`: start the HTTP server at once and load (or build) the index behind it, in one process or in
several worker processes over the same index files."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess

from rag.config import Settings, get_settings
from rag.embed import prefetch
from rag.serve import logs
from rag.serve.app import create_app
from rag.serve.security import split_list
from rag.serve.state import AppState
from rag.serve.watch import IndexWatcher

if TYPE_CHECKING:
    from fastapi import FastAPI

# On SIGTERM uvicorn stops accepting and gives in-flight requests this long to finish.
GRACEFUL_SHUTDOWN_S = 20
# What each worker process imports and calls (uvicorn's factory=True) to make its own app.
WORKER_APPS = {True: "rag.serve.server:worker_app", False: "rag.serve.server:worker_api"}


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


def start(settings: Settings, *, with_ui: bool = True) -> tuple[FastAPI, AppState]:
    """The app over a state whose pipeline then loads in the background.

    Importing Gradio and loading the model both take seconds and mostly hold the GIL, so run side by side
    they only slow each other down; what the model's load does without the GIL (hashing its files, opening
    the ONNX session) is started first, on a thread, and overlaps the app's building instead.
    """
    prefetch(settings)
    state = AppState(reason="loading the model and index", feedback_path=settings.feedback_file)
    app = create_app(state, with_ui=with_ui, settings=settings)
    load_in_background(state, settings)
    return app, state


def _config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    # log_config=None: uvicorn's own records go to the root handler that rag.serve.logs sets up (JSON or text).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **extra,
    )


def _banner(host: str, port: int, with_ui: bool, workers: int = 1) -> str:
    ui = "UI at /, " if with_ui else ""
    processes = f", {workers} worker processes" if workers > 1 else ""
    return f"report-rag serving on http://{host}:{port} ({ui}API docs at /docs{processes})"


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, *, with_ui: bool = True, workers: int = 1
) -> None:
    """Serve the API (and the chat UI) on ``host:port``; /healthz is 503 "loading" until the index is ready.

    With ``workers`` > 1, that many processes share the listening socket, each loading the model and the
    read-only index itself and watching it for rebuilds (see "Scaling out" in the README).
    """
    host = host or settings.host
    port = settings.port if port is None else port
    _configure_logs(settings)
    if workers > 1:
        config = _config(WORKER_APPS[with_ui], host, port, factory=True, workers=workers)
        sockets = [config.bind_socket()]  # bound once here, shared by the workers
        typer.echo(_banner(host, port, with_ui, workers))
        Multiprocess(config, sockets=sockets).run()
        return
    # Listening before the model loads keeps readiness honest: a probe sees 503 "loading", not a refused port.
    app, _ = start(settings, with_ui=with_ui)
    _Server(_config(app, host, port), _banner(host, port, with_ui)).run()


def worker_app(with_ui: bool = True) -> FastAPI:
    """One worker process's app (UI included): its own pipeline, loaded in the background, and index watcher.
    A spawned process: its settings, log level included, come from the environment it inherited."""
    settings = get_settings()
    _configure_logs(settings, level=settings.log_level)
    return start(settings, with_ui=with_ui)[0]


def worker_api() -> FastAPI:
    """``worker_app`` without the chat UI."""
    return worker_app(with_ui=False)


def _configure_logs(settings: Settings, level: str | None = None) -> None:
    keys = settings.api_keys.get_secret_value() if settings.api_keys else ""
    logs.configure(settings.log_json, secrets=split_list(keys), level=level)
