"""Reading long recordings block by block: mono, resampled, in bounded memory.

:func:`load_audio` reads a whole file at once, which is right for clips and wrong for an hour of
audio (an hour of 48 kHz stereo is 1.4 GB as float32). :class:`AudioStream` reads a file in blocks
of a few seconds, mixes each to mono and resamples it with :class:`BlockResampler`, whose output is
the same as ``scipy.signal.resample_poly`` over the whole signal (the rule ``load_audio`` uses), so
a stream and a whole-file read give the same samples. The checks and their messages are
``load_audio``'s: a missing, unreadable, empty, too short, non-finite or silent file is an
:class:`AudioError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from .audio import MIN_DURATION_S, SILENCE_PEAK, SUPPORTED_FORMATS, Audio
from .errors import AudioError

__all__ = ["AudioStream", "BlockResampler", "StreamInfo", "DEFAULT_BLOCK_S"]

#: Seconds read from the file at a time: big enough to keep per-block overhead small, small
#: enough that a block of 48 kHz stereo stays under 4 MB.
DEFAULT_BLOCK_S = 10.0


class BlockResampler:
    """Polyphase resampling of a signal that arrives in blocks of any length.

    Each step resamples the samples that have arrived together with enough of the signal on either
    side to fill the anti-aliasing filter (``resample_poly``'s own Kaiser filter), and keeps only the
    output those samples own, so the concatenated output equals ``resample_poly`` of the whole
    signal to float32 rounding. Memory is one block plus the filter's reach.
    """

    def __init__(self, rate_in_hz: int, rate_out_hz: int) -> None:
        g = gcd(int(rate_in_hz), int(rate_out_hz))
        self.up, self.down = int(rate_out_hz) // g, int(rate_in_hz) // g
        max_rate = max(self.up, self.down)
        half_len = 10 * max_rate  # resample_poly's filter length, so the outputs agree
        self._filter = None if self.is_identity else \
            firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
        # Input samples the filter reaches on either side, rounded up to whole polyphase periods so
        # every step starts on the same filter phase as the whole-signal computation would.
        reach = half_len // self.up + 2
        self._context = -(-reach // self.down) * self.down
        self._history = np.zeros(self._context, dtype=np.float32)  # zeros before the start, as resample_poly pads
        self._pending = np.zeros(0, dtype=np.float32)
        self._n_in = 0
        self._n_out = 0

    @property
    def is_identity(self) -> bool:
        return self.up == self.down

    def push(self, block: np.ndarray) -> np.ndarray:
        """Resampled output that ``block`` (and what came before it) completes; may be empty."""
        x = np.asarray(block, dtype=np.float32)
        if self.is_identity:
            return x
        self._n_in += len(x)
        self._pending = np.concatenate([self._pending, x])
        ready = (len(self._pending) - self._context) // self.down * self.down
        if ready <= 0:
            return np.zeros(0, dtype=np.float32)
        return self._step(ready, self._pending[ready:ready + self._context])

    def finish(self) -> np.ndarray:
        """The rest of the output, the signal taken as zero after its end (as resample_poly does)."""
        if self.is_identity:
            return np.zeros(0, dtype=np.float32)
        total_out = -(-self._n_in * self.up // self.down)
        return self._step(len(self._pending), np.zeros(self._context, dtype=np.float32),
                          n_out=total_out - self._n_out)

    def _step(self, n: int, right: np.ndarray, n_out: int | None = None) -> np.ndarray:
        """Output of the first ``n`` pending samples, read with the history before and ``right`` after."""
        segment = np.concatenate([self._history, self._pending[:n], right])
        y = resample_poly(segment, self.up, self.down, window=self._filter)
        first = self._context * self.up // self.down
        count = n * self.up // self.down if n_out is None else n_out
        out = y[first:first + count].astype(np.float32)
        self._history = np.concatenate([self._history, self._pending[:n]])[-self._context:]
        self._pending = self._pending[n:]
        self._n_out += len(out)
        return out


@dataclass(frozen=True)
class StreamInfo:
    """What a stream's header says: the source's own rate and channels, and its length."""

    name: str  # the file, or "<array>" for audio already in memory
    source_rate_hz: int
    channels: int
    duration_s: float


class AudioStream:
    """Blocks of mono float32 audio at ``target_rate_hz`` from a file or an in-memory clip.

    >>> for block in AudioStream("long.flac"):   # doctest: +SKIP
    ...     process(block)

    Header problems (no such file, not audio, empty, too short) are raised on construction;
    problems found while reading (a corrupt block, NaN samples, a silent file) are raised by the
    iteration, after the blocks before them were yielded.
    """

    def __init__(self, source: str | os.PathLike[str] | Audio, *, target_rate_hz: int,
                 block_s: float = DEFAULT_BLOCK_S) -> None:
        self.target_rate_hz = int(target_rate_hz)
        self._block_s = float(block_s)
        if isinstance(source, Audio):
            self._audio: Audio | None = source
            self._path: Path | None = None
            self.info = StreamInfo("<array>", source.sample_rate_hz, 1, source.duration_s)
        else:
            self._audio, self._path = None, Path(source)
            self.info = self._read_header(self._path)
        if self.info.duration_s <= 0:
            self._fail("the clip is empty (0 samples)")
        if self.info.duration_s < MIN_DURATION_S:
            self._fail(f"the clip is too short ({self.info.duration_s:.3f} s); at least {MIN_DURATION_S} s is needed")
        self.peak = 0.0  # the largest |sample| read so far, before resampling

    def _fail(self, reason: str) -> None:
        raise AudioError(f"{self._path}: {reason}" if self._path is not None else reason)

    @staticmethod
    def _read_header(path: Path) -> StreamInfo:
        if not path.exists():
            raise AudioError(f"{path}: no such file")
        if path.is_dir():
            raise AudioError(f"{path}: is a folder, not an audio file")
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
            raise AudioError(f"{path}: cannot be read as audio ({_short(exc)}); "
                             f"accepted formats: {', '.join(SUPPORTED_FORMATS)}") from None
        if info.samplerate <= 0:
            raise AudioError(f"{path}: sample rate must be positive, got {info.samplerate}")
        return StreamInfo(str(path), int(info.samplerate), int(info.channels), info.frames / info.samplerate)

    def _source_blocks(self) -> Iterator[np.ndarray]:
        """Mono blocks at the source's rate."""
        block = max(1, int(round(self._block_s * self.info.source_rate_hz)))
        if self._audio is not None:
            for start in range(0, len(self._audio.samples), block):
                yield np.asarray(self._audio.samples[start:start + block], dtype=np.float32)
            return
        try:
            with sf.SoundFile(str(self._path)) as fh:
                while True:
                    data = fh.read(block, dtype="float32", always_2d=True)
                    if len(data) == 0:
                        return
                    yield data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
        except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
            self._fail(f"cannot be read as audio ({_short(exc)}); accepted formats: {', '.join(SUPPORTED_FORMATS)}")

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = BlockResampler(self.info.source_rate_hz, self.target_rate_hz)
        n_read = 0
        for x in self._source_blocks():
            if not np.all(np.isfinite(x)):
                self._fail("the clip holds NaN or infinite samples")
            n_read += len(x)
            self.peak = max(self.peak, float(np.max(np.abs(x))))
            out = resampler.push(x)
            if len(out):
                yield out
        if n_read == 0:
            self._fail("the clip is empty (0 samples)")
        if self.peak < SILENCE_PEAK:
            self._fail("the clip is silent (peak below -66 dBFS)")
        tail = resampler.finish()
        if len(tail):
            yield tail


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
