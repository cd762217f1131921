"""How far a fit's emotion embeddings carry: losses with and without them on clips it never saw.

For each emotional clip of a held-out sentence (a speaker the fit knows, a sentence it never
saw), Kokoro reconstructs the recording twice from the speaker's fitted neutral style: once
alone, once with the emotion's embedding added. If the embedding is the emotion rather than
the fitted clips' spectra, the second is closer: its loss is lower on sentences it never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .emotion_fit import (
    EMOTIONS,
    Crop,
    EmotionFitSettings,
    FitState,
    decoder_batch_loss,
    prosody_clip_loss,
)
from .kokoro_torch import KokoroDecoder, KokoroProsody
from .losses import MultiResolutionLogMel
from .material import ClipMaterial

__all__ = ["held_out_report"]


def held_out_report(states: Sequence[FitState], clips: Sequence[ClipMaterial], settings: EmotionFitSettings, *,
                    decoder_clips_per_emotion: int = 4, seed: int = 0) -> dict:
    """Per emotion: mean predictor and decoder losses of ``clips`` without and with the embedding,
    and their relative change (negative: the embedding brings Kokoro closer to the recording).
    The decoder is read on the middle crop of up to ``decoder_clips_per_emotion`` clips each.
    ``states``: the fits of both halves (:data:`~.emotion_fit.HALVES`)."""
    prosody, decoder, spectral = KokoroProsody.from_float_graph(), KokoroDecoder.from_float_graph(), MultiResolutionLogMel()
    rng = np.random.default_rng(seed)
    need = settings.crop_frames + 2 * settings.context_frames
    by_half = {s.half: s for s in states}
    known = set(states[0].styles.speakers)
    report: dict = {"speakers": sorted({c.speaker for c in clips}), "n_sentences": len({c.sentence_id for c in clips}),
                    "by_emotion": {}}
    with torch.no_grad():
        for emotion in EMOTIONS:
            own = [c for c in clips if c.emotion == emotion and c.speaker in known]
            if not own:
                continue
            row: dict = {"clips": len(own)}
            for name, losses in (("prosody", _prosody_losses(prosody, by_half["prosody"], own)),
                                 ("decoder", _decoder_losses(decoder, spectral, by_half["decoder"], own, need, settings,
                                                             rng, decoder_clips_per_emotion))):
                if losses:
                    without, with_ = (float(np.mean([pair[k] for pair in losses])) for k in (0, 1))
                    row[name] = {"neutral_style": round(without, 4), "with_embedding": round(with_, 4),
                                 "relative_change": round(with_ / without - 1.0, 4), "n": len(losses)}
            report["by_emotion"][emotion] = row
    return report


def _prosody_losses(prosody: KokoroProsody, state: FitState, clips: Sequence[ClipMaterial]) -> list[tuple[float, float]]:
    return [tuple(float(prosody_clip_loss(prosody, state.styles, c, state.levels[c.speaker], with_emotion=w))
                  for w in (False, True)) for c in clips]


def _decoder_losses(decoder: KokoroDecoder, spectral: MultiResolutionLogMel, state: FitState,
                    clips: Sequence[ClipMaterial], need: int, settings: EmotionFitSettings,
                    rng: np.random.Generator, limit: int) -> list[tuple[float, float]]:
    long_enough = [c for c in clips if c.n_frames >= need]
    picks = rng.choice(len(long_enough), min(limit, len(long_enough)), replace=False) if long_enough else []
    out = []
    for i in sorted(int(i) for i in picks):
        c = long_enough[i]
        start = (c.n_frames - settings.crop_frames) // 2
        crop = Crop(c, start, start + settings.crop_frames, settings.context_frames, settings.context_frames)
        out.append(tuple(float(decoder_batch_loss(decoder, state.styles, [crop], state.levels, spectral, with_emotion=w))
                         for w in (False, True)))
    return out
