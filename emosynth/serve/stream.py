"""``WS /v1/stream``: speech and face frames sentence by sentence, as each is synthesised.

The client sends JSON text messages::

    {"type": "speak", "id": "r1", "text": "...", "voice": "kumo", "emotion": "joy:0.7"}
    {"type": "cancel", "id": "r1"}

and gets, for an accepted request, ``start``; per sentence a few ``audio`` messages (a JSON header
immediately followed by one binary message of 16-bit little-endian PCM at 24 kHz), each sent as
soon as that stretch of sound is decoded (the first holds about 0.3 s of speech; the pieces follow
one another without gaps, ``start_s`` on the request's audio clock), each followed by a ``face``
message with the blendshape frames that stretch makes final (frame i at ``start_s + i / fps``; a
face message may trail its sound by 0.1 s, the frames of a sentence's end come with its last
piece); then ``piece`` (the sentence's text and phoneme timings, on the same clock) and
``verdict``; and last ``end`` with a ``status``: done, cancelled, timeout or failed. A refused request gets one
``error`` and nothing else. Several requests may run on one connection (each takes a worker);
their messages interleave, but an ``audio`` header and its binary message are never split.
A cancelled or disconnected request stops after the piece of sound being decoded, freeing its worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from ..errors import EmosynthError
from ..face.arkit import ARKIT_BLENDSHAPES
from ..recognizer import EmotionScores
from ..voice.backbone import SAMPLE_RATE_HZ
from .engine import Engine, StreamAudio, StreamFace, StreamPiece, pcm16_bytes
from .errors import ApiError, error_body
from .routes import check_speed, check_text
from .schemas import StreamCancel, StreamSpeak, validation_message
from .workers import Busy, Job, JobCancelled, TimeLimitExceeded, WorkerPool

__all__ = ["StreamSession", "router"]

log = logging.getLogger(__name__)
router = APIRouter()
_SPEAK_FIELDS = list(StreamSpeak.model_fields)


@router.websocket("/v1/stream")
async def stream(ws: WebSocket) -> None:
    await ws.accept()
    await StreamSession(ws, ws.app.state.engine, ws.app.state.pool).run()


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


class StreamSession:
    """One connection: its running requests by id, and one lock so messages never interleave mid-pair."""

    def __init__(self, ws: WebSocket, engine: Engine, pool: WorkerPool) -> None:
        self.ws, self.engine, self.pool = ws, engine, pool
        self.running: dict[str, Job] = {}
        self._tasks: set[asyncio.Task] = set()
        self._send_lock = asyncio.Lock()
        self._open = True

    async def run(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is None:
                    await self._error(None, 400, "messages to the server are JSON text, not binary", None)
                    continue
                await self._on_text(message["text"])
        except WebSocketDisconnect:
            pass
        finally:
            self._open = False
            for job in self.running.values():  # a client that left frees its workers
                job.cancel()
            for task in list(self._tasks):
                task.cancel()

    # -- sending ---------------------------------------------------------------------------------
    async def _send(self, message: dict, data: bytes | None = None) -> None:
        if not self._open:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(json.dumps(message, separators=(",", ":")))
                if data is not None:
                    await self.ws.send_bytes(data)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._open = False  # the client is gone; its jobs are cancelled by run()

    async def _error(self, rid: str | None, status: int, message: str, param: str | None, code: str = "invalid_value",
                     **extra) -> None:
        await self._send({"type": "error", "id": rid, **error_body(status, message, param=param, code=code), **extra})

    # -- receiving -------------------------------------------------------------------------------
    async def _on_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            await self._error(None, 400, f"message: not valid JSON ({exc.msg} at position {exc.pos})", None)
            return
        if not isinstance(data, dict):
            await self._error(None, 400, "message: a JSON object is expected, e.g. "
                                         '{"type": "speak", "id": "r1", "text": "Hello."}', None)
            return
        kind = data.get("type", "speak")
        rid = data.get("id") if isinstance(data.get("id"), str) else None
        if kind == "cancel":
            await self._cancel(data, rid)
        elif kind == "speak":
            await self._speak(data, rid)
        else:
            await self._error(rid, 400, f"type: {kind!r} is not a message type; accepted: speak, cancel", "type")

    async def _cancel(self, data: dict, rid: str | None) -> None:
        try:
            req = StreamCancel.model_validate(data)
        except ValidationError as exc:
            param, message = validation_message(exc.errors(), ["type", "id"])
            await self._error(rid, 400, message, param)
            return
        job = self.running.get(req.id)
        if job is None:
            await self._error(req.id, 400, f"id: no running request {req.id!r} to cancel", "id", code="not_found")
            return
        job.cancel()

    async def _speak(self, data: dict, rid: str | None) -> None:
        try:
            req = StreamSpeak.model_validate(data)
            if req.id in self.running:
                raise ApiError(400, f"id: request {req.id!r} is still running; use another id", param="id")
            check_text(req.text, "text", self.engine.settings.max_text_chars)
            check_speed(req.speed)
            synth, spec = self.engine.synthesizer(req.voice), self.engine.emotion(req.emotion)
        except ValidationError as exc:
            param, message = validation_message(exc.errors(), _SPEAK_FIELDS)
            await self._error(rid, 400, message, param)
            return
        except ApiError as exc:
            await self._error(rid, exc.status, exc.message, exc.param, exc.code)
            return
        job = Job(self.engine.settings.timeout_s)
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def work(j: Job) -> int:
            return self.engine.stream(j, synth, req.text, emotion=spec, speed=req.speed, face=req.face, fps=req.fps,
                                      seed=req.seed, score=req.score,
                                      emit=lambda item: loop.call_soon_threadsafe(queue.put_nowait, item))

        try:
            future = self.pool.submit(work, job)
        except Busy as exc:
            await self._error(req.id, 503, f"{exc}; at most {self.pool.workers} requests run at once and "
                                           f"{self.pool.queue_limit} wait", None, code="busy",
                              retry_after_s=exc.retry_after_s)
            return
        self.running[req.id] = job
        task = asyncio.ensure_future(self._relay(req, synth.voice.name, spec, job, future, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one request's answers ---------------------------------------------------------------------
    async def _relay(self, req: StreamSpeak, voice: str, spec, job: Job, future: asyncio.Future,
                     queue: asyncio.Queue) -> None:
        started = time.monotonic()
        counts = {"pieces": 0, "samples": 0, "first_audio_s": None}
        start = {"type": "start", "id": req.id, "voice": voice,
                 "emotion": spec.to_dict(), "sample_rate_hz": SAMPLE_RATE_HZ, "audio": "pcm_s16le", "fps": req.fps,
                 "blendshapes": list(ARKIT_BLENDSHAPES) if req.face else None}
        await self._send(start)
        end = {"type": "end", "id": req.id, "status": "done", "error": None}
        waiter = asyncio.ensure_future(self.pool.wait(future, job))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await self._forward(req, getter.result(), counts, started)
                    continue
                getter.cancel()
                while not queue.empty():  # what the worker made before it returned
                    await self._forward(req, queue.get_nowait(), counts, started)
                waiter.result()
                break
        except JobCancelled:
            end["status"] = "cancelled"
        except TimeLimitExceeded as exc:
            end.update(status="timeout", error=error_body(504, str(exc), code="timeout")["error"])
        except EmosynthError as exc:
            end.update(status="failed", error=error_body(400, f"text: {exc}", param="text")["error"])
        except asyncio.CancelledError:
            job.cancel()
            waiter.cancel()
            raise
        except Exception:  # a bug must not take the connection down; it is logged with its traceback
            log.exception("stream request %s failed", req.id)
            end.update(status="failed", error=error_body(500, "internal error (logged by the server)",
                                                         code="internal")["error"])
        finally:
            self.running.pop(req.id, None)
        duration = counts["samples"] / SAMPLE_RATE_HZ
        elapsed = time.monotonic() - started
        end.update(pieces=counts["pieces"], duration_s=_r(duration), elapsed_s=_r(elapsed),
                   first_audio_s=counts["first_audio_s"], rtf=_r(elapsed / duration) if duration else None)
        await self._send(end)

    async def _forward(self, req: StreamSpeak, item: StreamAudio | StreamFace | StreamPiece | tuple[int, EmotionScores | None],
                       counts: dict, started: float) -> None:
        if isinstance(item, tuple):
            seq, scores = item
            await self._send({"type": "verdict", "id": req.id, "seq": seq,
                              "scores": scores.to_dict() if scores is not None else None})
            return
        start_s = item.start_sample / SAMPLE_RATE_HZ
        if isinstance(item, StreamAudio):
            data = pcm16_bytes(item.audio)
            if counts["first_audio_s"] is None:
                counts["first_audio_s"] = _r(time.monotonic() - started)
            await self._send({"type": "audio", "id": req.id, "seq": item.seq, "start_s": _r(start_s, 6),
                              "n_samples": len(item.audio), "bytes": len(data)}, data)
            counts["samples"] = item.start_sample + len(item.audio)
            return
        if isinstance(item, StreamFace):
            t = item.track
            await self._send({"type": "face", "id": req.id, "seq": item.seq, "start_s": _r(start_s, 6), "fps": t.fps,
                              "n_frames": t.n_frames, "weights": [[_r(v, 3) for v in row] for row in t.weights],
                              "head_rotation": [[_r(v) for v in row] for row in t.head_rotation],
                              "gaze": [[_r(v) for v in row] for row in t.gaze]})
            return
        counts["pieces"] += 1
        phonemes = [{"symbol": p.symbol, "start_s": _r(start_s + p.start_sample / SAMPLE_RATE_HZ, 6),
                     "end_s": _r(start_s + p.end_sample / SAMPLE_RATE_HZ, 6)} for p in item.phonemes]
        await self._send({"type": "piece", "id": req.id, "seq": item.seq, "text": item.text, "start_s": _r(start_s, 6),
                          "duration_s": _r(item.n_samples / SAMPLE_RATE_HZ), "phonemes": phonemes})
