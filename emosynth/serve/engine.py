"""What the server does, as plain synchronous calls over emosynth's Python API.

The handlers (:mod:`.app`, :mod:`.stream`) parse and check a request, then run one of these on a
worker thread (:mod:`.workers`). Each takes the :class:`~.workers.Job` it runs as and calls
``job.check()`` between sentences, so a cancelled or overdue request stops at the next one.
Models load once per server: one recognizer, one Kokoro backbone per thread count, and a small
cache of :class:`~emosynth.synthesizer.Synthesizer` objects by voice.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..audio import Audio, load_audio
from ..emotions import EmotionSpec, parse_emotion
from ..errors import EmosynthError
from ..face import BlendshapeTrack, animate, animate_utterance
from ..recognizer import EmotionScores, EmotionTimeline, Recognizer
from ..synthesizer import PhonemeTiming, SoundPiece, SpeechChunk, Synthesizer, Utterance
from ..voice.backbone import SAMPLE_RATE_HZ
from .errors import ApiError, field_errors
from .settings import ServeSettings
from .workers import Job

__all__ = ["Engine", "SentenceFace", "StreamAudio", "StreamFace", "StreamPiece", "pcm16_bytes", "previous_carried"]

# Voices (and blends) kept ready; a blend is cheap to load but arbitrary, so the cache is bounded.
_SYNTHESIZER_CACHE = 16
# Seconds over which a stream piece's head motion blends from where the previous piece left it.
_HEAD_CARRY_S = 0.4
# The end of a sentence's sound so far whose face waits for the next piece (about 3 frames).
_FACE_HOLD_S = 0.1


def pcm16_bytes(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as 16-bit signed little-endian PCM (OpenAI's ``pcm``)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


@dataclass(frozen=True)
class StreamAudio:
    """A piece of one sentence's sound, handed on the moment it is decoded (a sentence comes in a
    few such pieces; the face for each follows it, the sentence's text and verdict its last)."""

    seq: int  # the sentence: 0, 1, ... in order
    start_sample: int  # where this piece starts in the request's audio
    audio: np.ndarray  # (n,) float32 at SAMPLE_RATE_HZ, the pause after it included


@dataclass(frozen=True)
class StreamFace:
    """Face frames for a stretch of a sentence's sound, sent as that sound is: frame i sounds at
    ``start_sample / rate + i / fps`` on the request's clock."""

    seq: int
    start_sample: int
    track: BlendshapeTrack


@dataclass(frozen=True)
class StreamPiece:
    """A whole sentence once its sound is out: its text and timings, on the request's clock."""

    seq: int
    text: str
    start_sample: int
    n_samples: int
    phonemes: tuple[PhonemeTiming, ...]  # sample positions within this piece


def previous_carried(track: BlendshapeTrack, previous: BlendshapeTrack) -> BlendshapeTrack:
    """``track`` with its head and gaze starting where ``previous`` ended, the difference fading out
    over :data:`_HEAD_CARRY_S`, so they do not jump between separately animated stretches."""
    n = min(track.n_frames, max(1, round(_HEAD_CARRY_S * track.fps)))
    fade = np.zeros((track.n_frames, 1))
    fade[:n, 0] = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))  # 1 -> 0, smooth at both ends
    head = track.head_rotation + fade * (previous.head_rotation[-1] - track.head_rotation[0])
    gaze = track.gaze + fade * (previous.gaze[-1] - track.gaze[0])
    return replace(track, head_rotation=head, gaze=gaze)


class SentenceFace:
    """A sentence's face while its sound arrives piece by piece.

    Each piece, the sentence is animated again on all of its sound so far, and the frames that are
    final are handed on: all but the last :data:`_FACE_HOLD_S` of it, whose loudness window, mouth
    coarticulation and pitch accents wait for the sound after them; the last piece hands on the
    rest, so the frames sent are those of :func:`~emosynth.face.animate` on the whole sentence,
    but for a small step where each stretch meets the next (the loudness scale and random motion
    are drawn over the sound so far; head and gaze are carried across, see :func:`previous_carried`).
    """

    def __init__(self, *, emotion: EmotionSpec, fps: int, seed: int, ease_in: bool,
                 previous: BlendshapeTrack | None) -> None:
        self.emotion, self.fps, self.seed, self.ease_in = emotion, fps, seed, ease_in
        self.audio = np.zeros(0, np.float32)
        self.sent = 0  # frames handed on
        self.last = previous  # the last stretch handed on (of this sentence or the one before)

    def add(self, piece: SoundPiece) -> tuple[int, BlendshapeTrack] | None:
        """Take the next piece; return (first frame, frames) newly final, or None."""
        self.audio = np.concatenate([self.audio, piece.audio])
        done = piece.completes_chunk
        heard = [p for p in piece.phonemes if p.end_sample <= len(self.audio)]
        track = animate(self.audio, SAMPLE_RATE_HZ, heard, emotion=self.emotion, fps=self.fps, seed=self.seed,
                        ease_in=self.ease_in)
        ready = track.n_frames if done else track.n_frames - int(round(_FACE_HOLD_S * self.fps))
        if ready <= self.sent:
            return None
        part = replace(track, weights=track.weights[self.sent:ready], head_rotation=track.head_rotation[self.sent:ready],
                       gaze=track.gaze[self.sent:ready])
        part = previous_carried(part, self.last) if self.last is not None else part
        first, self.sent, self.last = self.sent, ready, part
        return first, part


class Engine:
    """The server's models and operations."""

    def __init__(self, settings: ServeSettings, *, recognizer: Recognizer | None = None) -> None:
        self.settings = settings
        self._recognizer = recognizer
        self._synthesizers: OrderedDict[str, Synthesizer] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def recognizer(self) -> Recognizer:
        with self._lock:
            if self._recognizer is None:
                self._recognizer = Recognizer.load()
            return self._recognizer

    # -- checking a request (cheap: runs on the event loop) ------------------------------------
    def synthesizer(self, voice: str | None) -> Synthesizer:
        """The synthesizer for a voice or blend; a 400 naming ``voice`` if there is no such voice."""
        if voice is not None and not voice.strip():  # an empty name is a mistake, not a request for the default
            raise ApiError(400, "voice: empty; name a voice (GET /v1/voices) or leave the field out for "
                                f"the default, {self.settings.voice}", param="voice")
        with field_errors("voice"):
            from ..voice.voices import load_voice

            loaded = load_voice(voice or self.settings.voice)
        recognizer = self.recognizer
        with self._lock:
            synth = self._synthesizers.pop(loaded.name, None) or Synthesizer(
                loaded, recognizer=recognizer, threads=self.settings.threads_per_worker)
            self._synthesizers[loaded.name] = synth
            while len(self._synthesizers) > _SYNTHESIZER_CACHE:
                self._synthesizers.popitem(last=False)
            return synth

    @staticmethod
    def emotion(spec: str) -> EmotionSpec:
        with field_errors("emotion", prefix=False):
            return parse_emotion(spec)

    def upload(self, data: bytes, filename: str) -> Audio:
        """An uploaded recording, decoded and checked: a 400 naming ``file`` if it cannot be used."""
        try:
            audio = load_audio(filename or "upload", data=data)
        except EmosynthError as exc:  # libsndfile names the in-memory buffer; the client knows it as its file
            raise ApiError(400, "file: " + re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the upload", str(exc)),
                           param="file") from None
        if audio.duration_s > self.settings.max_upload_s:
            raise ApiError(400, f"file: {filename} lasts {audio.duration_s:.1f} s; at most "
                                f"{self.settings.max_upload_s:g} s are accepted (split longer recordings)",
                           param="file")
        return audio

    # -- the work (runs on a worker) ------------------------------------------------------------
    def say(self, job: Job, synth: Synthesizer, text: str, *, emotion: EmotionSpec, speed: float = 1.0,
            score: bool = True) -> Utterance:
        """Speech for the whole text, checking the job between sentences."""
        chunks: list[SpeechChunk] = []
        for chunk in synth.stream(text, emotion=emotion, speed=speed):
            chunks.append(chunk)
            job.check()
        return synth.join(text, chunks, emotion=emotion, score=score)

    @staticmethod
    def face(utterance: Utterance, *, fps: int, seed: int) -> BlendshapeTrack:
        return animate_utterance(utterance, fps=fps, seed=seed)

    def stream(self, job: Job, synth: Synthesizer, text: str, *, emotion: EmotionSpec, speed: float = 1.0,
               face: bool = True, fps: int = 30, seed: int = 0, score: bool = True,
               emit: Callable[[StreamAudio | StreamFace | StreamPiece | tuple[int, EmotionScores | None]], None]) -> int:
        """Speak ``text`` sentence by sentence, handing each sentence's sound to ``emit`` in pieces as
        it is decoded, each followed by the face frames it makes final (:class:`SentenceFace`), then
        the sentence's :class:`StreamPiece` (text, timings) and (with ``score``) its verdict as
        ``(seq, scores)``; returns the number of samples made. The job is checked between pieces,
        so a cancelled request stops within a fraction of a second."""
        made, seq = 0, 0  # the sentence being spoken and where it starts (read by on_audio as they move)
        current: list[SentenceFace] = []

        def on_audio(piece: SoundPiece) -> None:
            job.check()
            emit(StreamAudio(seq, made + piece.start_sample, piece.audio))
            if not face:
                return
            if piece.start_sample == 0:  # each sentence is animated alone, carrying on from the last one's face
                previous = current.pop().last if current else None
                current.append(SentenceFace(emotion=emotion, fps=fps, seed=seed + seq, ease_in=seq == 0,
                                            previous=previous))
            ready = current[0].add(piece)
            if ready is not None:
                first, frames = ready
                emit(StreamFace(seq, made + first * SAMPLE_RATE_HZ // fps, frames))

        for chunk in synth.stream(text, emotion=emotion, speed=speed, on_audio=on_audio):
            job.check()
            emit(StreamPiece(seq, chunk.text, made, len(chunk.audio), chunk.phonemes))
            if score:
                emit((seq, self._verdict(synth, chunk.audio)))
            made += len(chunk.audio)
            seq += 1
        return made

    @staticmethod
    def _verdict(synth: Synthesizer, audio: np.ndarray) -> EmotionScores | None:
        try:
            return synth.recognizer.score_array(audio, SAMPLE_RATE_HZ, reference=synth.reference)
        except EmosynthError:  # a piece too short or silent to judge has no verdict
            return None

    def score(self, job: Job, audio: Audio, *, timeline: bool = False) -> EmotionScores | EmotionTimeline:
        job.check()
        if timeline:
            return self.recognizer.timeline(audio)
        return self.recognizer.score_array(audio.samples, audio.sample_rate_hz)

    def animate(self, job: Job, audio: Audio, *, text: str | None, emotion: str, fps: int,
                seed: int) -> BlendshapeTrack:
        """The face for a recording: what ``emosynth animate`` makes (emotion ``auto``: as heard)."""
        job.check()
        with field_errors("text" if text is not None else "file"):
            return animate(audio.samples, audio.sample_rate_hz, text=text, emotion=emotion, fps=fps, seed=seed,
                           recognizer=self.recognizer)

    # -- start-up and assets ----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load every model and speak once, so the first request is not the slow one."""
        synth = self.synthesizer(None)
        self.say(Job(limit_s=600.0), synth, "Ready.", emotion=parse_emotion("neutral"), score=True)

    @cached_property
    def avatar_glb(self) -> bytes:
        """The avatar head with its 52 morph targets at rest, as glTF binary (what the page loads)."""
        from ..face.gltf import track_to_glb

        rest = BlendshapeTrack(fps=30, weights=np.zeros((1, 52), np.float32), head_rotation=np.zeros((1, 3)),
                               gaze=np.zeros((1, 2)), info={"use": "the avatar at rest (emosynth serve)"})
        return track_to_glb(rest)
