"""What a server is started with, and the limits every request is held to.

Nothing here imports the web stack, so the CLI can build settings (and refuse bad ones) before
the ``serve`` extra is even looked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..cpus import usable_cpus
from ..errors import EmosynthError

__all__ = [
    "API_KEY_ENV",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_S",
    "SPEED_RANGE",
    "ServeSettings",
    "default_workers",
]

#: Environment variable read when ``--api-key`` is not given.
API_KEY_ENV = "EMOSYNTH_API_KEY"
#: Longest text one request may speak: OpenAI's speech endpoint takes the same 4096 characters.
MAX_TEXT_CHARS = 4096
#: Largest upload (score, animate) and largest request body of any kind: 16 MiB holds about
#: 3 minutes of 48 kHz stereo WAV, or much more as FLAC or MP3.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
#: Longest uploaded recording: scoring and animating hold the whole clip's features in memory.
MAX_UPLOAD_S = 300.0
#: Kokoro's rate input stays natural in this range; OpenAI's wider 0.25-4 is refused outside it.
SPEED_RANGE = (0.5, 2.0)


def default_workers() -> int:
    """One synthesis at a time per core."""
    return usable_cpus()


@dataclass(frozen=True)
class ServeSettings:
    """How ``emosynth serve`` runs; every field has the CLI's default."""

    host: str = "127.0.0.1"  # loopback only unless asked: the server has no TLS
    port: int = 8000
    voice: str = "kumo"  # the voice when a request names none
    workers: int = field(default_factory=default_workers)  # syntheses (or scorings) running at once
    queue_size: int | None = None  # requests waiting for a worker; None: 2 per worker. Beyond it: 503
    timeout_s: float = 120.0  # a request's limit, from admission to its last byte of work
    threads: int | None = None  # onnxruntime threads per synthesis; None: every usable core, in one pool the workers share
    api_key: str | None = None  # required on every endpoint but /healthz when set
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API; none by default
    max_text_chars: int = MAX_TEXT_CHARS
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_upload_s: float = MAX_UPLOAD_S
    audio_url_ttl_s: float = 300.0  # how long a /v1/say audio URL may be fetched (once)
    warm_up: bool = True  # load the models and speak once before accepting requests

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise EmosynthError(f"port must be 0 to 65535, got {self.port}")
        if self.workers < 1:
            raise EmosynthError(f"workers must be at least 1, got {self.workers}")
        if self.queue_size is not None and self.queue_size < 0:
            raise EmosynthError(f"queue size must be 0 or more, got {self.queue_size}")
        if not self.timeout_s > 0:
            raise EmosynthError(f"the time limit must be above 0 s, got {self.timeout_s}")
        if self.api_key is not None and not self.api_key.strip():
            raise EmosynthError("the API key is empty; give a non-empty key or none")

    @property
    def queue_limit(self) -> int:
        return 2 * self.workers if self.queue_size is None else self.queue_size

    @property
    def threads_per_worker(self) -> int:
        """A lone request gets every core (time to first audio 0.37-0.39 s p50 on 2 cores against
        0.59-0.61 s with one thread a worker), while concurrent ones share the same pool (the
        backbone is one per thread count), so throughput under load is unchanged (docs/serve.md)."""
        return self.threads or usable_cpus()

    @classmethod
    def from_env(cls, **kwargs) -> ServeSettings:
        """Settings with the API key taken from ``EMOSYNTH_API_KEY`` when none is given."""
        if kwargs.get("api_key") is None and os.environ.get(API_KEY_ENV):
            kwargs["api_key"] = os.environ[API_KEY_ENV]
        return cls(**kwargs)
