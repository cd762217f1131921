"""Text plus an emotion in, emotional speech out: the pipeline's front door.

>>> synth = Synthesizer(voice="kumo")                                  # doctest: +SKIP
>>> utt = synth.say("The train leaves at ten.", emotion="joy:0.7")     # doctest: +SKIP
>>> utt.save("joy.wav"); utt.scores.label                              # doctest: +SKIP

Stages: text -> phoneme chunks (:mod:`emosynth.voice.text`) and emotion spec -> prosody plan
(:mod:`emosynth.voice.prosody`) -> Kokoro predictor, contour shaping, decoder
(:mod:`emosynth.voice.backbone`) -> audio, judged by the recognizer against the voice's neutral.
:meth:`Synthesizer.stream` yields one chunk (sentence or piece of one) at a time; :meth:`say`
joins them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import soundfile as sf

from .emotions import EmotionSpec, parse_emotion
from .errors import AudioError
from .io import atomic_path
from .recognizer import EmotionScores, Recognizer, SpeakerReference
from .voice.backbone import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME, Backbone
from .voice.contours import F0_STEP_S, shape_f0
from .voice.prosody import ProsodyPlan
from .voice.references import voice_reference
from .voice.text import PhonemeChunk, text_to_chunks
from .voice.voices import Voice, emotion_contour, load_voice
from .voice.windowed import decode_windows, window_cuts

__all__ = ["PhonemeTiming", "SoundPiece", "SpeechChunk", "Utterance", "Synthesizer", "AUDIO_FORMATS"]

#: Containers `save` writes, by file suffix.
AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
# Kept of the model's own silence around each chunk, so no phoneme's tail is cut; a whole number
# of F0 steps (0.05 s = 4 x 12.5 ms), so chunk F0 tracks join without a shift.
_EDGE_S = 0.05
_PEAK_LIMIT = 0.98
# Kokoro's neutral output already peaks near full scale, so without headroom the peak limit would
# cancel every positive loudness offset of an emotion. 6 dB leaves room for anger's +4.5 dB at
# intensity 1 (human profile, normal intensity); louder requests are limited.
_HEADROOM_DB = 6.0
_HEADROOM_GAIN = 10.0 ** (-_HEADROOM_DB / 20.0)
_F0_STEP_SAMPLES = int(F0_STEP_S * SAMPLE_RATE_HZ)  # 300 samples a 12.5 ms F0 step
# A streamed chunk is decoded whole once the sound before it lasts this many times its own: decoding
# takes about 0.6 of the audio's length on one core, face and verdict included, so it is ready in time.
_AHEAD_FOR_WHOLE = 2.0


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme token and where it sounds, exact to the sample of the utterance's audio."""

    symbol: str
    start_sample: int
    end_sample: int  # exclusive

    def to_dict(self, sample_rate_hz: int = SAMPLE_RATE_HZ) -> dict:
        return {"symbol": self.symbol, "start_s": round(self.start_sample / sample_rate_hz, 6),
                "end_s": round(self.end_sample / sample_rate_hz, 6),
                "start_sample": self.start_sample, "end_sample": self.end_sample}


@dataclass(frozen=True)
class SpeechChunk:
    """One synthesized chunk, with the pause that follows it already appended as silence."""

    text: str
    audio: np.ndarray  # (n,) float32 at SAMPLE_RATE_HZ
    phonemes: tuple[PhonemeTiming, ...]  # sample positions within this chunk's audio
    f0_hz: np.ndarray  # F0 every F0_STEP_S over this chunk's audio (0 in silences)


@dataclass(frozen=True)
class SoundPiece:
    """A stretch of one chunk's sound, handed to :meth:`Synthesizer.stream`'s ``on_audio`` as soon
    as it is decoded, with what is known of the whole chunk before its sound is."""

    audio: np.ndarray  # (n,) float32 at SAMPLE_RATE_HZ
    start_sample: int  # where it starts in the chunk's audio
    chunk_samples: int  # the whole chunk's length, its pause included
    phonemes: tuple[PhonemeTiming, ...]  # the whole chunk's timings, as its SpeechChunk will hold them

    @property
    def completes_chunk(self) -> bool:
        return self.start_sample + len(self.audio) == self.chunk_samples


@dataclass(frozen=True)
class Utterance:
    """Speech for a whole text: audio, timing, F0, the emotion asked for and the recognizer's verdict."""

    text: str
    audio: np.ndarray  # (n,) float32 at sample_rate_hz
    sample_rate_hz: int
    phonemes: tuple[PhonemeTiming, ...]
    f0_hz: np.ndarray  # (ceil(n / (f0_step_s * rate)),) Hz, 0 where silent or unvoiced
    f0_step_s: float
    emotion: EmotionSpec
    plan: ProsodyPlan
    voice: str
    scores: EmotionScores | None = None
    chunks: tuple[str, ...] = field(default=(), repr=False)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate_hz

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write WAV or FLAC (by suffix), 16-bit, atomically; returns the path."""
        p = Path(path)
        fmt = AUDIO_FORMATS.get(p.suffix.lower())
        if fmt is None:
            raise AudioError(f"{p}: cannot write {p.suffix or 'a file without suffix'}; "
                             f"accepted: {', '.join(AUDIO_FORMATS)}")
        with atomic_path(p) as tmp:
            sf.write(str(tmp), self.audio, self.sample_rate_hz, format=fmt, subtype="PCM_16")
        return p

    def to_dict(self) -> dict:
        return {
            "text": self.text, "voice": self.voice, "sample_rate_hz": self.sample_rate_hz,
            "duration_s": round(self.duration_s, 4), "emotion": self.emotion.to_dict(),
            "plan": self.plan.to_dict(), "scores": self.scores.to_dict() if self.scores else None,
            "chunks": list(self.chunks),
            "phonemes": [p.to_dict(self.sample_rate_hz) for p in self.phonemes],
            "f0_step_s": self.f0_step_s, "f0_hz": [round(float(v), 2) for v in self.f0_hz],
        }


class Synthesizer:
    """Emotional speech from one voice. The model loads on first use and is shared."""

    def __init__(self, voice: str | Voice | None = None, *, recognizer: Recognizer | None = None,
                 threads: int | None = None) -> None:
        """``threads``: the backbone's intra-op threads (default min(2, CPUs)); batch workers use 1."""
        self.voice = voice if isinstance(voice, Voice) else load_voice(voice)
        self._recognizer = recognizer
        self._threads = threads

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            self._recognizer = Recognizer.load()
        return self._recognizer

    @cached_property
    def reference(self) -> SpeakerReference:
        """The voice's neutral as the recognizer hears it, which scores are read against: shipped
        with a single voice, built once and cached on disk for a blend (:mod:`.voice.references`)."""
        return voice_reference(self.voice, self.recognizer)

    def plan(self, emotion: str | EmotionSpec) -> ProsodyPlan:
        return ProsodyPlan.for_emotion(parse_emotion(emotion), self.voice.tokens)

    def stream(self, text: str, *, emotion: str | EmotionSpec = "neutral", speed: float = 1.0,
               on_audio: Callable[[SoundPiece], None] | None = None) -> Iterator[SpeechChunk]:
        """Yield the speech chunk by chunk (sentences, or pieces of long ones).

        ``speed`` is Kokoro's own rate input (1 = the voice's pace; 2 = twice as fast), applied on
        top of the emotion's duration factor; timings stay exact.

        ``on_audio``, for live playback, gets each chunk's sound in pieces (:class:`SoundPiece`) as
        it is made: the chunk is decoded in windows (:mod:`.voice.windowed`), the first piece holding
        about 0.3 s of speech, and the chunk yielded after holds exactly those pieces joined. Windowed decoding
        sounds very slightly different from decoding the chunk whole (what ``say`` does) and costs
        more (each window decodes context), so a chunk is decoded whole, in one piece, once the
        stream's sound before it lasts twice its own: a listener is still hearing that while it
        is decoded.
        """
        plan = self.plan(emotion)
        made = 0
        for chunk in text_to_chunks(text):
            spoken = self._speak_chunk(chunk, plan, speed, on_audio, ahead_samples=made)
            made += len(spoken.audio)
            yield spoken

    def say(self, text: str, *, emotion: str | EmotionSpec = "neutral", score: bool = True,
            speed: float = 1.0) -> Utterance:
        """The whole text as one utterance; ``score`` runs the recognizer on it."""
        return self.join(text, list(self.stream(text, emotion=emotion, speed=speed)), emotion=emotion, score=score)

    def join(self, text: str, chunks: list[SpeechChunk], *, emotion: str | EmotionSpec = "neutral",
             score: bool = True) -> Utterance:
        """The utterance made of ``chunks`` from :meth:`stream` (what :meth:`say` returns), so a caller
        that streams, e.g. to stop between chunks, still gets the same result."""
        plan = self.plan(emotion)
        audio, phonemes, f0 = _join(chunks)
        scores = None
        if score:
            scores = self.recognizer.score_array(audio, SAMPLE_RATE_HZ, reference=self.reference)
        return Utterance(text=text, audio=audio, sample_rate_hz=SAMPLE_RATE_HZ, phonemes=phonemes,
                         f0_hz=f0, f0_step_s=F0_STEP_S, emotion=plan.emotion, plan=plan,
                         voice=self.voice.name, scores=scores, chunks=tuple(c.text for c in chunks))

    def _speak_chunk(self, chunk: PhonemeChunk, plan: ProsodyPlan, speed: float = 1.0,
                     on_audio: Callable[[SoundPiece], None] | None = None, *, ahead_samples: int = 0) -> SpeechChunk:
        backbone = Backbone.load(threads=self._threads)
        style = self.voice.style(chunk.n_tokens)
        style += plan.style_offset.astype(np.float32)
        c = plan.controls
        prediction = backbone.predict(chunk.token_ids, style, speed=speed, duration_scale=c.duration_factor)
        if plan.contour.any():
            prediction = emotion_contour().shaped(prediction, plan.contour)
        prediction = prediction.with_contours(
            f0_hz=shape_f0(prediction.f0_hz, scale=c.f0_factor, range_scale=c.f0_range_factor))
        edge = int(_EDGE_S * SAMPLE_RATE_HZ)
        first, last = prediction.speech_bounds
        start, end = max(0, first - edge), min(prediction.n_frames * SAMPLES_PER_FRAME, last + edge)
        gain = c.gain * _HEADROOM_GAIN
        n_pause = int(round(chunk.pause_after_s * SAMPLE_RATE_HZ))
        n_pause += -(end - start + n_pause) % _F0_STEP_SAMPLES  # chunks stay whole F0 steps long
        pause = np.zeros(n_pause, dtype=np.float32)
        phonemes = tuple(PhonemeTiming(s.symbol, s.start_sample - start, s.end_sample - start)
                         for s in backbone.token_spans(prediction))
        total = end - start + n_pause
        whole = on_audio is None or ahead_samples >= _AHEAD_FOR_WHOLE * total
        if whole:
            out = backbone.decode(prediction)
        else:
            pieces, at, skip, sent = [], 0, start // SAMPLES_PER_FRAME, 0  # the silence before start is not kept
            for piece in decode_windows(backbone, prediction, window_cuts(prediction, from_frame=skip), from_frame=skip):
                lo, hi = max(at, start), min(at + len(piece), end)
                if hi > lo:  # the part of this window inside the chunk's kept span, as the chunk will hold it
                    on_audio(SoundPiece((piece[lo - at:hi - at] * gain).astype(np.float32), sent, total, phonemes))
                    sent += hi - lo
                pieces.append(piece)
                at += len(piece)
            out = backbone.output(prediction, np.concatenate(pieces))
        audio = np.concatenate([out.audio[start:end] * gain, pause]).astype(np.float32)
        if on_audio is not None:
            if whole:
                on_audio(SoundPiece(audio[:end - start], 0, total, phonemes))
            if n_pause:
                on_audio(SoundPiece(pause, end - start, total, phonemes))
        return SpeechChunk(text=chunk.text, audio=audio, phonemes=phonemes,
                           f0_hz=_f0_over(out.f0_hz, start, len(audio)))


def _f0_over(f0_hz: np.ndarray, start_sample: int, n_samples: int) -> np.ndarray:
    """The F0 contour re-cut to a chunk's audio (start offset, pause appended as 0 Hz)."""
    first = start_sample // _F0_STEP_SAMPLES
    n_steps = -(-n_samples // _F0_STEP_SAMPLES)
    out = np.zeros(n_steps, dtype=np.float32)
    part = f0_hz[first:first + n_steps]
    out[: len(part)] = np.where(part >= 40.0, part, 0.0)  # the model writes 10-15 Hz when unvoiced
    return out


def _join(chunks: list[SpeechChunk]) -> tuple[np.ndarray, tuple[PhonemeTiming, ...], np.ndarray]:
    """Concatenate chunks, shifting phoneme timings; limit the peak so no sample clips."""
    audio = np.concatenate([c.audio for c in chunks])
    phonemes, offset = [], 0
    f0 = np.zeros(-(-len(audio) // _F0_STEP_SAMPLES), dtype=np.float32)
    for c in chunks:
        phonemes += [PhonemeTiming(p.symbol, p.start_sample + offset, p.end_sample + offset) for p in c.phonemes]
        first = offset // _F0_STEP_SAMPLES
        f0[first:first + len(c.f0_hz)] = c.f0_hz[: len(f0) - first]
        offset += len(c.audio)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > _PEAK_LIMIT:  # a loud emotion may push the decoder's peaks past full scale
        audio = audio * (_PEAK_LIMIT / peak)
    return audio.astype(np.float32), tuple(phonemes), f0
