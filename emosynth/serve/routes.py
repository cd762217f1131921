"""The HTTP endpoints: each checks its request, runs one engine call on a worker, shapes the answer."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
import time
from collections import OrderedDict
from typing import Literal

import soundfile as sf
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..emotions import vocabulary
from ..errors import EmosynthError
from ..face.track import FRAME_RATES
from .engine import Engine, pcm16_bytes
from .errors import ApiError
from .schemas import SayRequest, SpeechRequest
from .settings import SPEED_RANGE
from .workers import Busy, Job, JobCancelled, TimeLimitExceeded, WorkerPool

__all__ = ["ClipStore", "check_speed", "check_text", "router", "run_job"]

router = APIRouter()
_MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm"}
_TRACK_TYPES = {"json": "application/json", "csv": "text/csv", "glb": "model/gltf-binary"}
# A client that went away is noticed this often while its request runs.
_DISCONNECT_POLL_S = 0.25


# -- shared checks ---------------------------------------------------------------------------------
def check_text(text: str, param: str, limit: int) -> str:
    if not text.strip():
        raise ApiError(400, f"{param}: the text is empty; give 1 to {limit} characters of English", param=param)
    if len(text) > limit:
        raise ApiError(400, f"{param}: {len(text)} characters; at most {limit} are accepted (split longer text "
                            "into several requests, or stream it)", param=param)
    return text


def check_speed(speed: float) -> float:
    low, high = SPEED_RANGE
    if not low <= speed <= high:  # NaN fails too
        raise ApiError(400, f"speed: {speed:g} is outside {low:g} to {high:g} (1 = the voice's own pace)",
                       param="speed")
    return speed


async def run_job(pool: WorkerPool, fn, *, limit_s: float, request: Request | None = None,
                  param: str | None = None):
    """Run ``fn(job)`` on the pool, mapping a full queue to 503, the time limit to 504 and an
    emosynth error to a 400 naming ``param``; with ``request``, a client that disconnects cancels
    its job."""
    job = Job(limit_s)
    task = asyncio.ensure_future(pool.run(fn, limit_s=limit_s, job=job))
    try:
        while request is not None and not task.done():
            await asyncio.wait([task], timeout=_DISCONNECT_POLL_S)
            if not task.done() and await request.is_disconnected():
                job.cancel()
        return await task
    except Busy as exc:
        raise ApiError(503, f"{exc}; at most {pool.workers} requests run at once and {pool.queue_limit} wait",
                       code="busy", headers={"Retry-After": str(exc.retry_after_s)}) from None
    except TimeLimitExceeded as exc:
        raise ApiError(504, f"{exc}; send shorter text (or start the server with a longer --timeout)",
                       code="timeout") from None
    except JobCancelled:
        raise ApiError(499, "the client closed the request", code="cancelled") from None
    except EmosynthError as exc:
        raise ApiError(400, f"{param}: {exc}" if param else str(exc), param=param) from None


def _encode(audio, rate: int, fmt: str) -> bytes:
    if fmt == "pcm":
        return pcm16_bytes(audio)
    out = io.BytesIO()
    sf.write(out, audio, rate, format=fmt.upper(), subtype="PCM_16")
    return out.getvalue()


class ClipStore:
    """Audio held for one GET each (``/v1/say`` with ``audio: url``), for a while, at most ``size`` clips."""

    def __init__(self, ttl_s: float, size: int = 32) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._clips: OrderedDict[str, tuple[float, bytes, str]] = OrderedDict()

    def put(self, data: bytes, media_type: str) -> str:
        self._expire()
        token = secrets.token_urlsafe(16)
        self._clips[token] = (time.monotonic() + self.ttl_s, data, media_type)
        while len(self._clips) > self.size:
            self._clips.popitem(last=False)
        return token

    def take(self, token: str) -> tuple[bytes, str] | None:
        self._expire()
        held = self._clips.pop(token, None)
        return None if held is None else (held[1], held[2])

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (until, _, _) in self._clips.items() if until < now]:
            del self._clips[token]


def _state(request: Request) -> tuple[Engine, WorkerPool]:
    return request.app.state.engine, request.app.state.pool


# -- speech ----------------------------------------------------------------------------------------
@router.post("/v1/audio/speech", tags=["speech"], response_class=Response,
             responses={200: {"content": {t: {} for t in _MEDIA_TYPES.values()},
                              "description": "The audio; the recognizer's verdict in X-Emosynth-Verdict (JSON)."}})
async def speech(body: SpeechRequest, request: Request) -> Response:
    """OpenAI's speech endpoint (existing clients work unchanged), plus an ``emotion``."""
    engine, pool = _state(request)
    text = check_text(body.input, "input", engine.settings.max_text_chars)
    speed = check_speed(body.speed)
    synth, spec = engine.synthesizer(body.voice), engine.emotion(body.emotion)
    utt = await run_job(pool, lambda job: engine.say(job, synth, text, emotion=spec, speed=speed),
                        limit_s=engine.settings.timeout_s, request=request, param="input")
    headers = {"X-Emosynth-Voice": utt.voice, "X-Emosynth-Emotion": spec.text, "X-Emosynth-Model": body.model[:64],
               "X-Emosynth-Duration-S": f"{utt.duration_s:.3f}", "X-Emosynth-Sample-Rate-Hz": str(utt.sample_rate_hz),
               "X-Emosynth-Verdict": json.dumps(utt.scores.to_dict(), separators=(",", ":")) if utt.scores else "null"}
    return Response(_encode(utt.audio, utt.sample_rate_hz, body.response_format),
                    media_type=_MEDIA_TYPES[body.response_format], headers=headers)


@router.post("/v1/say", tags=["speech"])
async def say(body: SayRequest, request: Request) -> dict:
    """Speech with its phoneme timings, F0, resolved emotion, verdict and (``face: true``) face track."""
    engine, pool = _state(request)
    text = check_text(body.text, "text", engine.settings.max_text_chars)
    speed = check_speed(body.speed)
    synth, spec = engine.synthesizer(body.voice), engine.emotion(body.emotion)

    def work(job: Job):
        utt = engine.say(job, synth, text, emotion=spec, speed=speed, score=body.score)
        return utt, engine.face(utt, fps=body.fps, seed=body.seed) if body.face else None

    utt, track = await run_job(pool, work, limit_s=engine.settings.timeout_s, request=request, param="text")
    out = utt.to_dict()
    out["audio"] = None
    if body.audio != "none":
        data = _encode(utt.audio, utt.sample_rate_hz, body.format)
        audio = {"format": body.format, "media_type": _MEDIA_TYPES[body.format], "bytes": len(data)}
        if body.audio == "base64":
            audio["base64"] = base64.b64encode(data).decode("ascii")
        else:
            token = request.app.state.clips.put(data, _MEDIA_TYPES[body.format])
            audio["url"] = str(request.url_for("fetch_audio", token=token))
            audio["expires_in_s"] = engine.settings.audio_url_ttl_s
        out["audio"] = audio
    out["face"] = track.to_dict() if track is not None else None
    return out


@router.get("/v1/audio/{token}", tags=["speech"], name="fetch_audio", response_class=Response)
async def fetch_audio(token: str, request: Request) -> Response:
    """Audio made by ``/v1/say`` with ``audio: url``; each URL answers once."""
    held = request.app.state.clips.take(token)
    if held is None:
        raise ApiError(404, "token: no such audio (each URL answers once, for 5 minutes)", param="token",
                       code="not_found")
    return Response(held[0], media_type=held[1])


# -- recordings ------------------------------------------------------------------------------------
async def _read_upload(file: UploadFile, engine: Engine):
    data = await file.read(engine.settings.max_upload_bytes + 1)
    if len(data) > engine.settings.max_upload_bytes:
        raise ApiError(413, f"file: larger than {engine.settings.max_upload_bytes} bytes", param="file",
                       code="too_large")
    return engine.upload(data, file.filename or "upload")


@router.post("/v1/score", tags=["recognizer"])
async def score(request: Request, file: UploadFile = File(description="A recording: WAV, FLAC, MP3 or OGG, "
                                                                      "0.3 s to 300 s, any rate, mono or stereo."),
                timeline: bool = Form(False, description="Which emotion is heard when, instead of one verdict."),
                ) -> dict:
    """The recognizer's reading of an uploaded recording (read as it is, no speaker reference)."""
    engine, pool = _state(request)
    audio = await _read_upload(file, engine)
    result = await run_job(pool, lambda job: engine.score(job, audio, timeline=timeline),
                           limit_s=engine.settings.timeout_s, request=request, param="file")
    key = "timeline" if timeline else "scores"
    return {"file": file.filename, "duration_s": round(audio.duration_s, 3), key: result.to_dict()}


@router.post("/v1/animate", tags=["face"], response_class=Response,
             responses={200: {"content": {t: {} for t in _TRACK_TYPES.values()}}})
async def animate(request: Request,
                  file: UploadFile = File(description="A recording: WAV, FLAC, MP3 or OGG, 0.3 s to 300 s."),
                  text: str | None = Form(None, description="The words spoken: the mouth follows timings aligned "
                                                            "to them (lips close on p, b, m)."),
                  emotion: str = Form("auto", description="An emotion spec, or auto: as the recognizer hears it."),
                  fps: int = Form(30, description="Frames a second: 24, 25, 30, 50 or 60."),
                  format: Literal["json", "csv", "glb"] = Form("json", description="json: emosynth's track; csv: "
                                                               "Live Link Face; glb: the avatar with the animation."),
                  seed: int = Form(0, ge=0, le=2**31 - 1)) -> Response:
    """The face track for a recording, as ``emosynth animate`` makes it."""
    engine, pool = _state(request)
    if emotion != "auto":
        engine.emotion(emotion)
    if fps not in FRAME_RATES:
        raise ApiError(400, f"fps: {fps} is not a frame rate the animator makes; accepted: "
                            f"{', '.join(map(str, FRAME_RATES))}", param="fps")
    if text is not None:
        check_text(text, "text", engine.settings.max_text_chars)
    audio = await _read_upload(file, engine)
    track = await run_job(pool, lambda job: engine.animate(job, audio, text=text, emotion=emotion, fps=fps, seed=seed),
                          limit_s=engine.settings.timeout_s, request=request, param="file")
    if format == "json":
        return JSONResponse(track.to_dict())
    if format == "csv":
        return Response(track.to_live_link_csv(), media_type="text/csv")
    from ..face.gltf import track_to_glb

    return Response(track_to_glb(track), media_type=_TRACK_TYPES["glb"])


# -- catalogues and health -------------------------------------------------------------------------
@router.get("/v1/voices", tags=["catalogue"])
async def voices(request: Request) -> dict:
    """The voices (blend them with kumo:0.6,alpha:0.4), with their source and licence."""
    from ..voice.voices import assets_dir, voice_catalog

    default = request.app.state.engine.settings.voice
    catalog = json.loads((assets_dir() / "catalog.json").read_text())
    rows = [{"voice": v.name, "pack": v.pack, "gender": v.gender, "default": v.name == default, "note": v.note}
            for v in voice_catalog().values()]
    return {"voices": rows, "default": default, "source": catalog["source"], "licence": catalog["licence"]}


@router.get("/v1/emotions", tags=["catalogue"])
async def emotions() -> dict:
    """What an emotion spec can name (primaries, secondaries, aliases) and its grammar."""
    return vocabulary()


@router.get("/healthz", tags=["health"])
async def healthz(request: Request) -> dict:
    """Whether the server is up, how busy it is, and its resident memory (open without an API key)."""
    return {"status": "ok", "version": __version__, "pool": request.app.state.pool.stats().to_dict(),
            "rss_mib": _rss_mib()}


def _rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:  # not Linux
        return None
    return None
