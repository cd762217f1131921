"""The ASGI app: ``create_app(settings)`` wires the endpoints (:mod:`.routes`, :mod:`.stream`),
the guards (:mod:`.middleware`), the error format (:mod:`.errors`) and the page (``static/``).

Every refusal is a JSON error naming the field; an unexpected failure is logged with its
traceback and answered 500 without one, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from .. import __version__
from .engine import Engine
from .errors import ApiError, error_body
from .middleware import ApiKeyGuard, BodyLimit
from .routes import ClipStore
from .routes import router as http_router
from .schemas import SayRequest, SpeechRequest
from .settings import ServeSettings
from .stream import router as stream_router
from .workers import WorkerPool

__all__ = ["create_app", "static_dir"]

log = logging.getLogger(__name__)
# Fields named in "unknown field" and "a JSON object is expected" messages, by path.
_BODY_FIELDS = {"/v1/audio/speech": list(SpeechRequest.model_fields), "/v1/say": list(SayRequest.model_fields)}
_DESCRIPTION = ("Emotional speech (OpenAI-compatible `/v1/audio/speech`, `/v1/say`, `WS /v1/stream`), the "
                "speech-emotion recognizer (`/v1/score`) and the face animator (`/v1/animate`). "
                "Errors: `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.")


def static_dir() -> Path:
    """The page and its vendored three.js (installed with the package)."""
    return Path(str(resources.files("emosynth.serve") / "static"))


def create_app(settings: ServeSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The server's app; models load (and speak once) when it starts, unless ``settings.warm_up`` is off."""
    from ..voice.voices import load_voice

    settings = settings or ServeSettings()
    load_voice(settings.voice)  # an unknown default voice is refused before the server starts
    engine = engine or Engine(settings)
    pool = WorkerPool(settings.workers, settings.queue_limit)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm_up:
            await asyncio.to_thread(engine.warm_up)
        yield
        pool.shutdown()

    app = FastAPI(title="emosynth", version=__version__, description=_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings, app.state.engine, app.state.pool = settings, engine, pool
    app.state.clips = ClipStore(settings.audio_url_ttl_s)
    _add_error_handlers(app)
    app.include_router(http_router)
    app.include_router(stream_router)
    _add_page(app, engine)
    # The last added sees a request first: CORS (a preflight carries no key), then the key, then the size.
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.api_key:
        app.add_middleware(ApiKeyGuard, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key"],
                           expose_headers=["X-Emosynth-Verdict", "X-Emosynth-Voice", "X-Emosynth-Emotion",
                                           "X-Emosynth-Duration-S"])
    return app


def _json_error(status: int, body: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        from .schemas import validation_message

        param, message = validation_message(list(exc.errors()), _BODY_FIELDS.get(request.url.path))
        return _json_error(400, error_body(400, message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            message = f"{request.url.path}: no such endpoint; see /docs or /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not accepted at {request.url.path}"
        return _json_error(exc.status_code, error_body(exc.status_code, message, code=f"http_{exc.status_code}"),
                           getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json_error(500, error_body(500, "internal error (logged by the server); the request was not done",
                                           code="internal"))


def _add_page(app: FastAPI, engine: Engine) -> None:
    folder = static_dir()
    app.mount("/static", StaticFiles(directory=folder), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(folder / "index.html", media_type="text/html")

    @app.get("/avatar.glb", tags=["face"], response_class=Response,
             responses={200: {"content": {"model/gltf-binary": {}}}})
    async def avatar() -> Response:
        """The avatar head: glTF 2.0 with the 52 ARKit morph targets (``mesh.extras.targetNames``), at rest."""
        return Response(engine.avatar_glb, media_type="model/gltf-binary",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="emosynth API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")
