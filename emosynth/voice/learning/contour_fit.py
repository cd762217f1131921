"""Fitting the emotion's F0 contour (:mod:`emosynth.voice.emotion_contour`) on human speech.

For every emotional clip of the fitting material, Kokoro's predictor (the torch twin) predicts F0
and energy on the recording's own alignment from the speaker's fitted neutral style plus the
emotion's prosody embedding, weighted as in the embedding fit: what ``say`` would give before
this stage. The contour model learns the shift of log F0 that brings that prediction to the
recording's (L1, capped per step as in the embedding fit's loss, on steps voiced in both), with
one vector per emotion and the rest shared by every emotion. Neutral clips need no shift and
teach nothing here.

The predictor's curves are computed once (:func:`contour_examples`, about 2 minutes on one core)
and the network is small (about 25 thousand weights), so a fit takes about 4 minutes; it is
seeded and reproduces exactly on the same machine.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ...emotions import PRIMARY_EMOTIONS
from ..contours import VOICED_MIN_HZ
from ..emotion_contour import CONTOUR_EMOTIONS, N_CURVE_FEATURES, EmotionContour, curve_features, speech_steps
from .emotion_fit import EMOTIONS, FitState
from .kokoro_torch import KokoroProsody, alignment_matrix
from .material import ClipMaterial

__all__ = ["ContourExample", "ContourNet", "ContourSettings", "contour_examples", "contour_losses", "fit_contour"]

log = logging.getLogger(__name__)

#: Per-step F0 errors are capped (log Hz), as in the embedding fit's loss.
_MAX_F0_ERROR = 0.7
_LEAK = 0.1


@dataclass(frozen=True)
class ContourSettings:
    seed: int = 0
    channels: int = 32
    kernel: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)  # about 1.5 s of context either way at 12.5 ms steps
    vector_dims: int = 8
    steps: int = 3000
    clips_per_step: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4


@dataclass(frozen=True)
class ContourExample:
    """One emotional clip, as the contour model sees it."""

    emotion: str
    weight: float  # the emotion's weight (RAVDESS normal takes: the embedding fit's normal weight)
    speaker: str
    sentence_id: str
    frames_per_token: np.ndarray  # the recording's alignment
    features: np.ndarray  # (6, steps) curve_features of the predicted curves
    predicted_log_f0: np.ndarray  # (steps,)
    predicted_energy: np.ndarray  # (steps,)
    target_log_f0: np.ndarray  # (steps,), the recording's
    mask: np.ndarray  # (steps,) bool: speech, voiced in the recording and in the prediction


def contour_examples(material: Sequence[ClipMaterial], prosody_fit: FitState, *,
                     progress: bool = True) -> list[ContourExample]:
    """The emotional clips of ``material`` with Kokoro's predicted curves for them (see module doc)."""
    from tqdm import tqdm

    styles = prosody_fit.styles
    prosody = KokoroProsody.from_float_graph()
    out = []
    clips = [c for c in material if c.emotion != "neutral" and c.speaker in styles.speakers]
    with torch.no_grad():
        for c in tqdm(clips, desc="predicted curves", disable=not progress):
            style = styles.style(c)
            d_en = torch.from_numpy(c.sentence.d_en)
            alignment = alignment_matrix(c.frames_per_token, d_en.shape[1])
            f0, energy = prosody.curves(prosody.encode(d_en, style), alignment, style)
            f0, energy = f0[0].numpy().astype(np.float64), energy[0].numpy().astype(np.float64)
            speech = speech_steps(c.frames_per_token)
            inside = np.zeros(f0.size, dtype=bool)
            inside[speech[0]:speech[1]] = True
            target = np.asarray(c.f0_hz, dtype=np.float64)
            mask = inside & (target > 0) & (f0 > VOICED_MIN_HZ)  # voiced in both
            out.append(ContourExample(
                emotion=c.emotion, weight=float(styles.emotion_weight(c)), speaker=c.speaker,
                sentence_id=c.sentence_id, frames_per_token=c.frames_per_token,
                features=curve_features(f0, energy, speech), predicted_log_f0=np.log(np.maximum(f0, 1e-3)),
                predicted_energy=energy,
                target_log_f0=np.log(np.maximum(target, 1e-3)), mask=mask))
    return out


class ContourNet(nn.Module):
    """The torch form of :class:`~emosynth.voice.emotion_contour.EmotionContour` (same weight names)."""

    def __init__(self, settings: ContourSettings) -> None:
        super().__init__()
        s = settings
        self.dilations = tuple(s.dilations)
        self.inp = nn.Conv1d(N_CURVE_FEATURES, s.channels, 1)
        self.blocks = nn.ModuleList(nn.Conv1d(s.channels, s.channels, s.kernel, dilation=d,
                                              padding=d * (s.kernel - 1) // 2) for d in s.dilations)
        self.out = nn.Conv1d(s.channels, s.vector_dims, 1)
        self.vectors = nn.Parameter(0.01 * torch.randn(len(CONTOUR_EMOTIONS), s.vector_dims))

    def basis(self, features: torch.Tensor) -> torch.Tensor:
        """(6, steps) -> (K, steps)."""
        h = self.inp(features[None])
        for block in self.blocks:
            h = h + nn.functional.leaky_relu(block(h), _LEAK)
        return self.out(h)[0]

    def shift(self, example: ContourExample) -> torch.Tensor:
        """Log-F0 shift per step (steps,) on the recording's alignment."""
        vector = example.weight * self.vectors[CONTOUR_EMOTIONS.index(example.emotion)]
        return vector @ self.basis(torch.from_numpy(example.features))

    def contour(self, info: dict) -> EmotionContour:
        weights = {k: v.detach().numpy().copy() for k, v in self.state_dict().items() if k != "vectors"}
        vectors = {e: self.vectors[i].detach().numpy().astype(np.float64).copy() for i, e in enumerate(CONTOUR_EMOTIONS)}
        return EmotionContour(weights=weights, vectors=vectors, dilations=self.dilations, info=info)


def _clip_error(net: ContourNet, example: ContourExample) -> tuple[torch.Tensor, int]:
    """Sum of capped |log F0 error| over the clip's masked steps, and how many there are."""
    mask = torch.from_numpy(example.mask)
    predicted = torch.from_numpy(example.predicted_log_f0) + net.shift(example).to(torch.float64)
    error = torch.clamp(torch.abs(predicted - torch.from_numpy(example.target_log_f0)), max=_MAX_F0_ERROR)
    return error[mask].sum(), int(mask.sum())


def contour_losses(contour: EmotionContour | None, examples: Sequence[ContourExample]) -> dict[str, float]:
    """Per emotion, the mean capped log-F0 error over ``examples``' masked steps, with ``contour``
    as inference runs it (numpy), or without any when it is None."""
    sums: dict[str, np.ndarray] = {}
    for x in examples:
        predicted = x.predicted_log_f0
        if contour is not None:
            weights = np.asarray([x.weight if e == x.emotion else 0.0 for e in PRIMARY_EMOTIONS])
            predicted = predicted + contour.log_f0_shift(contour.vector(weights), np.exp(x.predicted_log_f0),
                                                         x.predicted_energy, speech_steps(x.frames_per_token))
        error = np.minimum(np.abs(predicted - x.target_log_f0), _MAX_F0_ERROR)[x.mask]
        sums.setdefault(x.emotion, np.zeros(2))
        sums[x.emotion] += [error.sum(), error.size]
    return {e: float(sums[e][0] / max(sums[e][1], 1)) for e in EMOTIONS if e in sums}


def fit_contour(examples: Sequence[ContourExample], settings: ContourSettings | None = None, *,
                held_out: Sequence[ContourExample] = (), progress: bool = True) -> EmotionContour:
    """Fit the contour model on ``examples``; its info reports the losses on ``held_out`` (clips
    of sentences it never saw) with and without it."""
    from tqdm import tqdm

    settings = settings or ContourSettings()
    torch.manual_seed(settings.seed)
    net = ContourNet(settings)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    by_emotion: dict[str, list[int]] = {}
    for i, x in enumerate(examples):
        by_emotion.setdefault(x.emotion, []).append(i)
    emotions = sorted(by_emotion)
    history: list[float] = []
    with tqdm(total=settings.steps, desc="fit contour", unit="step", disable=not progress) as bar:
        for step in range(settings.steps):
            rng = np.random.default_rng([settings.seed, step])
            for group in optimiser.param_groups:
                group["lr"] = settings.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * step / settings.steps)))
            picks = [int(rng.choice(by_emotion[emotions[int(rng.integers(len(emotions)))]]))
                     for _ in range(settings.clips_per_step)]
            total, count = zip(*(_clip_error(net, examples[i]) for i in picks), strict=True)
            loss = torch.stack(list(total)).sum() / max(sum(count), 1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            history.append(float(loss.detach()))
            bar.update(1)
            if (step + 1) % 250 == 0:
                log.info("contour fit: step %d of %d, loss %.4f (mean of the last 250)", step + 1, settings.steps,
                         np.mean(history[-250:]))
    net.eval()
    report = {}
    if held_out:
        without, with_ = contour_losses(None, held_out), contour_losses(net.contour({}), held_out)
        report = {e: {"embedding_only": round(without[e], 4), "with_contour": round(with_[e], 4),
                      "relative_change": round(with_[e] / without[e] - 1.0, 4)} for e in without}
    info = {"settings": {**asdict(settings), "dilations": list(settings.dilations)},
            "fit_clips": len(examples), "loss_first_250": round(float(np.mean(history[:250])), 4),
            "loss_last_250": round(float(np.mean(history[-250:])), 4), "held_out": report}
    return net.contour(info)
