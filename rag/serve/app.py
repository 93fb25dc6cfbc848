"""The FastAPI app: the routes over one AppState, its error shapes and edge middleware, and the chat UI at "/"."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import __version__
from rag.config import Settings, get_settings
from rag.corpus import report_title
from rag.serve import security
from rag.serve.errors import error_response, install_handlers
from rag.serve.middleware import MAX_BODY_BYTES, EdgeMiddleware
from rag.serve.openai import add_openai_routes
from rag.serve.routes import add_api_routes
from rag.serve.state import AppState

log = logging.getLogger(__name__)

DOCS_PATHS = ("/docs", "/redoc")
# The docs pages may load only what the app serves: ReDoc's bundle would fetch its logo from Redocly's CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def create_app(
    state: AppState, *, with_ui: bool = True, max_body: int = MAX_BODY_BYTES, settings: Settings | None = None
) -> FastAPI:
    """The FastAPI app over ``state``.

    Args:
        state: holds the live pipeline; swap a rebuilt one in without restarting.
        with_ui: mount the Gradio chat UI at "/" if ``ui.app`` provides ``mount(app, state)``.
        max_body: request bodies over this many bytes get a 413.
        settings: API keys, rate limit, CORS and access-log options (default: from the environment).
    """
    settings = settings or get_settings()
    keys = security.KeyRing.from_secret(settings.api_keys)
    title = report_title(settings.corpus_dir)
    # /docs and /redoc with Swagger UI's and ReDoc's files served from the fastapi-offline package, not a CDN.
    app = FastAPIOffline(
        title="report-rag",
        description=f"Grounded, cited Q&A over {title} (ja/en/zh).",
        version=__version__,
    )
    app.add_middleware(_DocsPolicy)
    security.install(app, settings, keys, error_response)  # inside the edge: its 401s and 429s are logged
    app.add_middleware(EdgeMiddleware, max_body=max_body, log_questions=settings.log_questions)
    install_handlers(app)
    add_api_routes(app, state)
    add_openai_routes(app, state)

    # Routed last, before the UI's mount at "/" (which would answer anything left): any method on one
    # of our paths that no route took is a 405 with Allow, any path under /api or /v1 a JSON 404.
    fallback = _Fallback([r for r in app.routes if isinstance(r, Route)])
    for path in [*dict.fromkeys(r.path for r in fallback.routes), "/api/{rest:path}", "/v1/{rest:path}"]:
        app.router.routes.append(Route(path, fallback))

    if with_ui:
        try:
            from ui.app import mount
        except ImportError as exc:  # no ui package, or its dependencies (gradio) are missing
            log.warning("chat UI not available (%s): serving the API only", exc)
        else:
            auth = keys.gradio_auth if keys is not None and settings.protect_ui else None
            mount(app, state, auth=auth, report=title)
    return app


class _DocsPolicy:
    """A Content-Security-Policy on /docs and /redoc, so the pages fetch nothing from outside the app."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Content-Security-Policy", DOCS_CSP)
            await send(message)

        await self.app(scope, receive, send_with_policy)


class _Fallback:
    """A raw ASGI endpoint, so its routes match every method (a function endpoint would get GET only)."""

    def __init__(self, routes: list[Route]):
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        allowed = sorted({m for r in self.routes if r.path_regex.fullmatch(path) for m in r.methods or ()})
        if allowed:  # raised, so the app's handlers shape the error for this path
            raise StarletteHTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise StarletteHTTPException(404)
