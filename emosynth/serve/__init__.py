"""``emosynth serve``: emotional speech, face frames and the recognizer over HTTP and WebSocket.

>>> from emosynth.serve import ServeSettings, create_app        # doctest: +SKIP
>>> app = create_app(ServeSettings(workers=2))                  # any ASGI server can run it
>>> run(ServeSettings(port=8000))                               # doctest: +SKIP  (uvicorn)

Modules: :mod:`.settings` (what a server starts with, the limits), :mod:`.workers` (the bounded
pool), :mod:`.engine` (the work, over emosynth's Python API), :mod:`.routes` (HTTP),
:mod:`.stream` (the WebSocket protocol), :mod:`.schemas`, :mod:`.errors`, :mod:`.middleware`,
:mod:`.app`; ``static/`` holds the browser avatar page. The web stack comes with the extra
``emosynth[serve]`` and is imported only when an app is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MissingExtraError
from .settings import (
    API_KEY_ENV,
    MAX_TEXT_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_S,
    ServeSettings,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "API_KEY_ENV",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_S",
    "WS_MAX_MESSAGE_BYTES",
    "ServeSettings",
    "create_app",
    "require_extra",
    "run",
]

#: Largest WebSocket message the server reads: a request is a few kB of JSON.
WS_MAX_MESSAGE_BYTES = 1024 * 1024


def require_extra() -> None:
    """Raise :class:`MissingExtraError` naming the ``serve`` extra if the web stack is missing."""
    for module in ("fastapi", "uvicorn", "python_multipart", "websockets"):
        try:
            __import__(module)
        except ImportError:
            raise MissingExtraError(f"emosynth serve ({module})", extra="serve") from None


def create_app(settings: ServeSettings | None = None, **kwargs) -> FastAPI:
    """The ASGI app (FastAPI); see :func:`emosynth.serve.app.create_app`."""
    require_extra()
    from .app import create_app as make

    return make(settings, **kwargs)


def run(settings: ServeSettings) -> None:
    """Serve until interrupted (uvicorn, one process; the workers are threads inside it)."""
    require_extra()
    import uvicorn

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                ws_max_size=WS_MAX_MESSAGE_BYTES)
