"""The shipped emotion embeddings: which clips they are fitted on, and the file they go to.

``emosynth fit-emotions`` runs :func:`fit_shipped_embeddings`: the RAVDESS and nEMO clips of
the fitting side of the split (:mod:`.split`), less the held-out sentences, are aligned to
Kokoro (:mod:`.material`, cached), the embeddings are fitted (:mod:`.emotion_fit`, then the
decoder half's listener stage, :mod:`.listener_fit`; checkpointed under the cache, resumed when
run again), read on the held-out sentences
(:mod:`.fit_report`) and written to ``voices/emotions.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ...errors import EmosynthError
from ...io import cache_dir
from ...recognizer.corpus import read_corpora
from ..emotion_contour import EmotionContour
from ..prosody import EmotionEmbeddings
from .contour_fit import ContourSettings, contour_examples, fit_contour
from .emotion_fit import (
    HALVES,
    EmotionFitSettings,
    FitState,
    fit_half,
    merged_embeddings,
    read_half,
)
from .fit_report import held_out_report
from .listener_fit import fit_listener_stage, read_listener_stage, stage_name
from .material import ClipMaterial, build_material
from .split import FIT_SPEAKERS, HELD_OUT_SENTENCES, JUDGE_SPEAKERS

__all__ = ["fit_material", "fit_shipped_contour", "fit_shipped_embeddings"]

log = logging.getLogger(__name__)


def fit_material(data_dirs: Sequence[str | os.PathLike[str]], *, progress: bool = True,
                 workers: int = 1) -> tuple[list[ClipMaterial], list[ClipMaterial]]:
    """(fitted on, held out): the fitting side's clips of ``data_dirs``, aligned; those of the
    held-out sentences apart."""
    clips = [c for c in read_corpora(data_dirs) if c.speaker in FIT_SPEAKERS]
    material = build_material(clips, progress=progress, workers=workers)
    fit = [m for m in material if m.sentence_id not in HELD_OUT_SENTENCES]
    held = [m for m in material if m.sentence_id in HELD_OUT_SENTENCES]
    return fit, held


def fit_shipped_embeddings(data_dirs: Sequence[str | os.PathLike[str]], out: Path,
                           settings: EmotionFitSettings | None = None, *, halves: Sequence[str] = HALVES,
                           progress: bool = True, workers: int = 1,
                           stop_after_steps: int | None = None) -> list[FitState | None]:
    """Fit (or resume fitting) ``halves`` (both by default; one each in two processes runs them
    side by side) and, once both are done, write the embeddings to ``out``. The decoder half is
    followed by its listener stage (:mod:`.listener_fit`), whose embeddings are the ones written.
    Returns both halves as they stand: the prosody half (None if it never started) and the
    decoder half with the listener stage's embeddings (None until that stage is done)."""
    settings = settings or EmotionFitSettings()
    fit, held = fit_material(data_dirs, progress=progress, workers=workers)
    folder = cache_dir() / "emotion-fit" / settings.key([m.content_sha256 for m in fit])
    log.info("fitting on %d clips of %d speakers; checkpoints in %s", len(fit), len({m.speaker for m in fit}), folder)
    for half in halves:
        state = fit_half(fit, folder, half, settings, progress=progress, stop_after_steps=stop_after_steps)
        if half == "decoder" and state.done:
            fit_listener_stage(fit, folder, settings, progress=progress, stop_after_steps=stop_after_steps)
    # both halves as their checkpoints hold them (the other may be fitted by another process)
    stage = read_listener_stage(fit, folder, settings)
    states = [read_half(fit, folder, "prosody"), stage.decoder if stage is not None and stage.done else None]
    key = f"{folder.name}+{stage_name(settings)}"
    if all(s is not None and s.done for s in states) and not _written(out, key):
        info = {
            "fit_key": key,
            "method": "one style offset per emotion, shared by every speaker and sentence, fitted by gradient "
                      "through a differentiable Kokoro (predictor: durations, F0, energy; decoder: multi-resolution "
                      "log-mel up to 8 kHz, then with a listener's cross-entropy beside it: Whisper tiny.en states "
                      "read by a linear classifier trained on the fitting speakers' recordings) from each "
                      "speaker's fitted neutral style (emosynth.voice.learning)",
            "listener_stage": stage.summary(),
            "settings": asdict(settings),
            "fit_clips": len(fit),
            "fit_speakers": sorted(FIT_SPEAKERS),
            "judge_speakers_never_fitted": sorted(JUDGE_SPEAKERS),
            "held_out_sentences": sorted(HELD_OUT_SENTENCES, key=lambda s: int(s.split("-")[1])),
            "held_out": held_out_report(states, held, settings),
            "data_licence": "fitted on RAVDESS (CC BY-NC-SA 4.0) and nEMO (CC BY-NC-SA 4.0): non-commercial",
        }
        merged_embeddings(states, info).save(out)
    return states


def fit_shipped_contour(data_dirs: Sequence[str | os.PathLike[str]], out: Path,
                        settings: ContourSettings | None = None, *, progress: bool = True,
                        workers: int = 1) -> EmotionContour | None:
    """Fit the emotion contour (:mod:`.contour_fit`) on top of the finished prosody half of the
    shipped embedding fit and write it to ``out``; None (nothing written) while that half is not
    done. Its info reports the held-out sentences' F0 error with and without it."""
    settings = settings or ContourSettings()
    fit, held = fit_material(data_dirs, progress=progress, workers=workers)
    folder = cache_dir() / "emotion-fit" / EmotionFitSettings().key([m.content_sha256 for m in fit])
    state = read_half(fit, folder, "prosody")
    if state is None or not state.done:
        return None
    key = f"{folder.name}-{hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode()).hexdigest()[:8]}"
    try:
        written = EmotionContour.load(out)
        if written.info.get("fit_key") == key:
            return written
    except EmosynthError:
        pass
    examples = contour_examples(fit, state, progress=progress)
    held_examples = contour_examples(held, state, progress=progress)
    log.info("fitting the emotion contour on %d emotional clips", len(examples))
    contour = fit_contour(examples, settings, held_out=held_examples, progress=progress)
    info = {**contour.info, "fit_key": key, "on_prosody_fit": folder.name,
            "method": "a shift of log F0 per 12.5 ms step, linear in one learned vector per emotion, from a "
                      "dilated convolution stack over Kokoro's predicted F0 and energy and the place in the "
                      "utterance; fitted on top of the prosody embedding (emosynth.voice.learning.contour_fit)",
            "fit_speakers": sorted(FIT_SPEAKERS), "judge_speakers_never_fitted": sorted(JUDGE_SPEAKERS),
            "held_out_sentences": sorted(HELD_OUT_SENTENCES, key=lambda s: int(s.split("-")[1])),
            "data_licence": "fitted on RAVDESS (CC BY-NC-SA 4.0) and nEMO (CC BY-NC-SA 4.0): non-commercial"}
    contour = dataclasses.replace(contour, info=info)
    contour.save(out)
    return contour


def _written(out: Path, key: str) -> bool:
    """Whether ``out`` already holds this fit (same clips and settings): a rerun only makes the voices."""
    try:
        return EmotionEmbeddings.load(out).info.get("fit_key") == key
    except EmosynthError:
        return False
