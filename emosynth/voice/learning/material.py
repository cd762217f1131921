"""Human training material for emotion embeddings: every clip aligned to Kokoro, cached.

Why: emotion embeddings are fitted by making Kokoro, from a speaker's neutral style plus an
emotion embedding, reconstruct each RAVDESS and nEMO clip. Everything that does not depend on
the style is computed once here: the sentence's tokens and text encodings (per sentence), and per
clip the per-token durations that put Kokoro's tokens on the recording's time axis, the
recording's F0 and energy in Kokoro's units on that axis, and the recording cut to the span.

>>> clips = read_corpora(["../shared/data/ravdess", "../shared/data/nemo"])  # doctest: +SKIP
>>> material = build_material(clips, workers=1)                              # doctest: +SKIP
>>> m = material[0]; m.frames_per_token.sum() * 600 == m.audio_24k.size      # doctest: +SKIP

Steps per clip: :func:`~.sentences.clip_text` (what is said) -> Kokoro reads the sentence once
per voice (float graph; ``jf_alpha`` for women, ``jm_kumo`` for men; cached) ->
:func:`~.align.align_to_rendition` -> :func:`~.acoustics.energy_curve` and
:func:`~.acoustics.f0_curve` on the aligned span.

Cache: ``cache_dir()/voice-material/`` holds ``sentences/``, ``renditions/`` and ``clips/``,
one ``.npz`` each, written atomically. A clip's file is named by the hash of
:data:`MATERIAL_VERSION`, the clip's content, the sentence's token ids and the voice, and stores
the version again (checked on reading), so a changed clip, G2P or method is recomputed, and a run
that was stopped continues where it left off. Old versions' files are never read; delete the
folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...audio import load_audio
from ...errors import CorpusError, EmosynthError
from ...io import atomic_path, cache_dir, file_sha256
from ...recognizer.corpus import LabelledClip
from ..backbone import SAMPLE_RATE_HZ
from .acoustics import energy_curve, f0_curve
from .align import align_to_rendition
from .sentences import (
    ClipText,
    CorpusSentence,
    SentenceTokens,
    clip_text,
    sentence_key,
    sentence_phonemes,
    sentence_tokens,
)

__all__ = ["MATERIAL_VERSION", "RENDITION_VOICES", "ClipMaterial", "Rendition", "build_material", "material_dir",
           "rendition_of"]

log = logging.getLogger(__name__)

#: Bump when anything that changes a record changes (alignment, curves, phonemes, layout).
MATERIAL_VERSION = 1
#: The Kokoro voice whose rendition a speaker's clips are aligned to, by the speaker's gender
#: (neutral style: the voice pack's row for the sentence's length).
RENDITION_VOICES = {"female": "jf_alpha", "male": "jm_kumo"}
_PCM_SCALE = 32767.0


@dataclass(frozen=True)
class Rendition:
    """Kokoro reading a sentence in one voice: the alignment target."""

    voice: str
    audio: np.ndarray  # (frames * 600,) float32 at 24 kHz
    frames_per_token: np.ndarray  # (n + 2,) int64, pads included


@dataclass(frozen=True, eq=False)
class ClipMaterial:
    """One recording on Kokoro's time axis. ``frames`` = ``frames_per_token.sum()`` (25 ms each)."""

    path: Path
    speaker: str  # "ravdess-01", "nemo-EB0"
    emotion: str  # emosynth's name (RAVDESS calm merged into neutral, as the recognizer reads it)
    corpus_label: str  # the corpus's own name ("calm", "happy", "happiness", ...)
    intensity: str  # "normal" or "strong" (RAVDESS); nEMO has one level, "normal"
    sentence: SentenceTokens  # shared by every clip of the sentence: tokens and text encodings
    frames_per_token: np.ndarray  # (n + 2,) int64 >= 1, pads included
    f0_hz: np.ndarray  # (2 * frames,) float32, Hz, 0 where unvoiced; step j at sample 300 j
    energy: np.ndarray  # (2 * frames,) float32, Kokoro's N: log L2 norm of the power mel frame
    audio_pcm16: np.ndarray  # (frames * 600,) int16, the recording at 24 kHz over the span
    start_sample: int  # the span's first sample in the 24 kHz recording (< 0: silence added before)
    rendition_voice: str  # the Kokoro voice the clip was aligned to
    alignment_cost: float  # DTW path's mean distance / all pairs' (Kokoro-to-Kokoro about 0.6; 1: no match)
    content_sha256: str

    @property
    def corpus(self) -> str:
        return self.speaker.split("-", 1)[0]

    @property
    def sentence_id(self) -> str:
        return self.sentence.sentence.sentence_id

    @property
    def text(self) -> str:
        return self.sentence.sentence.text

    @property
    def token_ids(self) -> np.ndarray:
        return self.sentence.token_ids

    @property
    def n_frames(self) -> int:
        return int(self.frames_per_token.sum())

    @property
    def audio_24k(self) -> np.ndarray:
        """The span's samples, (frames * 600,) float32 in [-1, 1]."""
        return self.audio_pcm16.astype(np.float32) / _PCM_SCALE


def material_dir(root: Path | None = None) -> Path:
    """Where material is cached: ``root`` (default :func:`emosynth.io.cache_dir`) / voice-material."""
    return (root or cache_dir()) / "voice-material"


# -- per sentence ------------------------------------------------------------------------------------
def _sentence(sentence: CorpusSentence, folder: Path) -> SentenceTokens:
    path = folder / "sentences" / f"{sentence_key(sentence, MATERIAL_VERSION)}.npz"
    stored = _read_npz(path)
    if stored is not None and int(stored["version"]) == MATERIAL_VERSION and str(stored["text"]) == sentence.text:
        return SentenceTokens(sentence, str(stored["phonemes"]), stored["token_ids"], stored["d_en"], stored["t_en"])
    tokens = sentence_tokens(sentence, sentence_phonemes(sentence))
    _write_npz(path, version=MATERIAL_VERSION, text=sentence.text, phonemes=tokens.phonemes,
               token_ids=tokens.token_ids, d_en=tokens.d_en, t_en=tokens.t_en)
    return tokens


def _rendition_path(tokens: SentenceTokens, voice: str, folder: Path) -> Path:
    key = hashlib.sha256(f"{MATERIAL_VERSION}\n{voice}\n{tokens.token_ids.tobytes().hex()}".encode()).hexdigest()[:24]
    return folder / "renditions" / f"{key}.npz"


def _rendition(tokens: SentenceTokens, voice: str, folder: Path) -> Path:
    """The cached rendition's file, made first if needed (Kokoro float graph, onnxruntime)."""
    path = _rendition_path(tokens, voice, folder)
    if _read_rendition(path) is None:
        from ..backbone import Backbone

        out = Backbone.load(precision="float").synthesize(tokens.token_ids, voice)
        _write_npz(path, version=MATERIAL_VERSION, voice=voice, audio=out.audio.astype(np.float32),
                   frames_per_token=out.frames_per_token.astype(np.int64))
    return path


def rendition_of(clip: ClipMaterial, cache_root: Path | None = None) -> Rendition:
    """The cached Kokoro rendition ``clip`` was aligned to (its sentence, its rendition voice)."""
    path = _rendition_path(clip.sentence, clip.rendition_voice, material_dir(cache_root))
    rendition = _read_rendition(path)
    if rendition is None:
        raise CorpusError(f"the rendition of {clip.path} ({path}) is missing: build the material again")
    return rendition


def _read_rendition(path: Path) -> Rendition | None:
    stored = _read_npz(path)
    if stored is None or int(stored["version"]) != MATERIAL_VERSION:
        return None
    return Rendition(str(stored["voice"]), stored["audio"], stored["frames_per_token"])


# -- per clip ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """What a worker needs for one clip (plain data: it crosses process boundaries)."""

    clip_path: str
    rendition_path: str
    record_path: str
    content_sha256: str
    token_ids: np.ndarray


def _clip_record_path(content_sha256: str, tokens: SentenceTokens, voice: str, folder: Path) -> Path:
    key = f"{MATERIAL_VERSION}\n{content_sha256}\n{voice}\n{tokens.token_ids.tobytes().hex()}"
    return folder / "clips" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"


def _make_record(job: _Job) -> str | None:
    """Align one clip and write its record; the reason as text if it cannot be used."""
    try:
        rendition = _read_rendition(Path(job.rendition_path))
        if rendition is None:
            return f"{job.clip_path}: its rendition {job.rendition_path} is missing"
        audio = load_audio(job.clip_path, target_rate_hz=SAMPLE_RATE_HZ).samples
        alignment = align_to_rendition(audio, rendition.audio, rendition.frames_per_token)
        span = _cut(audio, alignment.start_sample, alignment.stop_sample)
        steps = 2 * alignment.n_frames
        _write_npz(Path(job.record_path), version=MATERIAL_VERSION, content_sha256=job.content_sha256,
                   token_ids=job.token_ids, frames_per_token=alignment.frames_per_token,
                   f0_hz=f0_curve(span, SAMPLE_RATE_HZ, steps), energy=energy_curve(span, steps),
                   audio_pcm16=np.round(np.clip(span, -1.0, 1.0) * _PCM_SCALE).astype(np.int16),
                   start_sample=alignment.start_sample, rendition_voice=rendition.voice,
                   alignment_cost=alignment.cost)
    except EmosynthError as exc:
        return f"{job.clip_path}: {exc}"
    return None


def _cut(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """samples[start:stop] with zeros where the span reaches past either end."""
    out = np.zeros(stop - start, dtype=np.float32)
    lo, hi = max(start, 0), min(stop, samples.size)
    if hi > lo:
        out[lo - start:hi - start] = samples[lo:hi]
    return out


def _read_record(path: Path, clip: LabelledClip, text: ClipText, tokens: SentenceTokens,
                 content_sha256: str) -> ClipMaterial | None:
    """The cached record, or None when absent, unreadable, of another version or another clip."""
    stored = _read_npz(path)
    if (stored is None or int(stored["version"]) != MATERIAL_VERSION
            or str(stored["content_sha256"]) != content_sha256
            or not np.array_equal(stored["token_ids"], tokens.token_ids)):
        return None
    return ClipMaterial(
        path=clip.path, speaker=clip.speaker, emotion=clip.emotion, corpus_label=text.corpus_label,
        intensity=text.intensity, sentence=tokens, frames_per_token=stored["frames_per_token"],
        f0_hz=stored["f0_hz"], energy=stored["energy"], audio_pcm16=stored["audio_pcm16"],
        start_sample=int(stored["start_sample"]), rendition_voice=str(stored["rendition_voice"]),
        alignment_cost=float(stored["alignment_cost"]), content_sha256=content_sha256)


# -- the whole set -----------------------------------------------------------------------------------
def build_material(clips: Sequence[LabelledClip], *, progress: bool = True, workers: int = 1,
                   cache_root: Path | None = None) -> list[ClipMaterial]:
    """:class:`ClipMaterial` for every clip that can be aligned, in the order given; cached ones
    are read back, the rest computed in ``workers`` processes (1: in this process) and cached one
    by one, so an interrupted run resumes.

    Clips that cannot be used (unreadable, too little speech for the tokens) are logged and
    left out; raises :class:`CorpusError` when none can, or a clip is not RAVDESS or nEMO.
    ``workers > 1`` spawns processes, which re-import the caller's main module: call it from
    ``python -m`` or under ``if __name__ == "__main__":``.
    """
    from tqdm import tqdm

    folder = material_dir(cache_root)
    texts = [clip_text(c) for c in clips]
    sentences = {t.sentence.sentence_id: t.sentence for t in texts}
    tokens = {sid: _sentence(s, folder) for sid, s in tqdm(sentences.items(), desc="sentences", disable=not progress)}
    hashes = [file_sha256(c.path) if c.path.is_file() else "" for c in tqdm(clips, desc="hashing", disable=not progress)]
    pending = []  # (clip, digest, sentence id, voice, record path) of clips not cached yet
    for clip, text, digest in zip(clips, texts, hashes, strict=True):
        sid, voice = text.sentence.sentence_id, RENDITION_VOICES[text.gender]
        record = _clip_record_path(digest, tokens[sid], voice, folder)
        if digest and _read_npz_version(record) != MATERIAL_VERSION:
            pending.append((clip, digest, sid, voice, record))
    needed = sorted({(sid, voice) for _, _, sid, voice, _ in pending})
    renditions = {(sid, voice): _rendition(tokens[sid], voice, folder)
                  for sid, voice in tqdm(needed, desc="renditions", disable=not progress or not needed)}
    jobs = [_Job(str(clip.path), str(renditions[sid, voice]), str(record), digest, tokens[sid].token_ids)
            for clip, digest, sid, voice, record in pending]
    failures = [f"{c.path}: no such file" for c, d in zip(clips, hashes, strict=True) if not d]
    failures += [r for r in _run_jobs(jobs, workers, progress) if r is not None]
    out = []
    for clip, text, digest in zip(clips, texts, hashes, strict=True):
        sent, voice = tokens[text.sentence.sentence_id], RENDITION_VOICES[text.gender]
        record = _read_record(_clip_record_path(digest, sent, voice, folder), clip, text, sent, digest) if digest else None
        if record is not None:
            out.append(record)
    for reason in failures:
        log.warning("left out of the training material: %s", reason)
    if clips and not out:
        raise CorpusError(f"no clip could be aligned; first reason: {failures[0] if failures else 'unknown'}")
    return out


def _run_jobs(jobs: list[_Job], workers: int, progress: bool) -> list[str | None]:
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    bar = {"total": len(jobs), "desc": "clips", "unit": "clip", "disable": not progress}
    if workers == 1 or len(jobs) < 2:
        return [_make_record(job) for job in tqdm(jobs, **bar)]
    # Spawned, not forked: the parent holds onnxruntime's thread pools, which a fork would copy mid-state.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(tqdm(pool.map(_make_record, jobs, chunksize=4), **bar))


# -- files -------------------------------------------------------------------------------------------
def _write_npz(path: Path, **arrays: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of an .npz, or None when it is missing or unreadable (it is then remade)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {k: stored[k] for k in stored.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _read_npz_version(path: Path) -> int | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return int(stored["version"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None

