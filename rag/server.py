"""`rag serve`: start the HTTP server at once and load (or build) the index behind it."""

from __future__ import annotations

import logging
import threading
import time

import typer

from rag.api import AppState, create_app
from rag.config import Settings
from rag.errors import RagError
from rag.pipeline import Pipeline

log = logging.getLogger(__name__)


def load_in_background(state: AppState, settings: Settings) -> threading.Thread:
    """Load the pipeline (building a missing or stale index first) while /healthz says "loading"."""

    def work() -> None:
        started = time.perf_counter()
        try:
            state.swap(Pipeline.load(settings, build=True))
        except RagError as exc:
            state.fail(str(exc))
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            return
        typer.echo(f"ready in {time.perf_counter() - started:.1f}s")

    thread = threading.Thread(target=work, name="pipeline-loader", daemon=True)
    thread.start()
    return thread


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    host, port = host or settings.host, port or settings.port
    state = AppState(reason="loading the model and index")
    app = create_app(state)
    load_in_background(state, settings)
    typer.echo(f"report-rag serving on http://{host}:{port} (chat UI at /, API docs at /docs)")
    # On SIGTERM uvicorn stops accepting and lets in-flight requests finish (up to the timeout).
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=20)
