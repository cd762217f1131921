"""Fitting the emotion's contour (:mod:`emosynth.voice.emotion_contour`) on human speech.

For every emotional clip of the fitting material, Kokoro's predictor (the torch twin) predicts
durations, and F0 and energy on the recording's own alignment, from the speaker's fitted neutral
style plus the emotion's prosody embedding, weighted as in the embedding fit: what ``say`` would
give before this stage. The contour model learns the log-duration scale per token and the shift
of log F0 per step that bring that prediction to the recording's (L1 as in the embedding fit's
loss: durations as log(1 + frames) over the speech's tokens, F0 capped per step on steps voiced
in both), with one vector per emotion shared by both heads and the rest shared by every emotion.
Neutral clips need no shift and teach nothing here.

The predictor's curves are computed once (:func:`contour_examples`, a few minutes on one core)
and the network is small (about 30 thousand weights), so a fit takes minutes; it is seeded and
reproduces exactly on the same machine.
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
from ..emotion_contour import (
    CONTOUR_EMOTIONS,
    N_CURVE_FEATURES,
    N_TOKEN_FEATURES,
    EmotionContour,
    curve_features,
    speech_steps,
    token_features,
)
from .emotion_fit import EMOTIONS, FitState
from .kokoro_torch import PROSODY_STYLE, KokoroProsody, alignment_matrix
from .material import ClipMaterial

__all__ = ["ContourExample", "ContourNet", "ContourSettings", "contour_examples", "contour_losses", "fit_contour"]

log = logging.getLogger(__name__)

#: Per-step F0 errors are capped (log Hz), as in the embedding fit's loss.
_MAX_F0_ERROR = 0.7
_LEAK = 0.1


@dataclass(frozen=True)
class ContourSettings:
    seed: int = 0
    text_dims: int = 16  # the text encoding (512) is projected to this many features
    channels: int = 32
    kernel: int = 5
    f0_dilations: tuple[int, ...] = (1, 2, 4, 8, 16)  # about 1.5 s of context either way at 12.5 ms steps
    duration_dilations: tuple[int, ...] = (1, 2, 4)  # about 14 tokens either way
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
    t_en: np.ndarray  # (512, tokens) the sentence's text encoding (shared by its clips)
    frames_per_token: np.ndarray  # the recording's (the F0 head's alignment and the duration target)
    predicted_durations: np.ndarray  # (tokens,) Kokoro's, before rounding
    token_features: np.ndarray  # (3, tokens) of Kokoro's rounded durations, as inference sees them
    features: np.ndarray  # (6, steps) curve_features of the predicted curves
    predicted_log_f0: np.ndarray  # (steps,)
    predicted_energy: np.ndarray  # (steps,)
    target_log_f0: np.ndarray  # (steps,), the recording's
    mask: np.ndarray  # (steps,) bool: speech, voiced in the recording and in the prediction

    def frame_tokens(self) -> np.ndarray:
        """(frames,) the token each frame belongs to."""
        return np.repeat(np.arange(self.frames_per_token.size), self.frames_per_token)


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
            encoded = prosody.encode(d_en, style)
            durations = prosody.durations(encoded)[0].numpy().astype(np.float64)
            f0, energy = prosody.curves(encoded, alignment, style)
            f0, energy = f0[0].numpy().astype(np.float64), energy[0].numpy().astype(np.float64)
            speech = speech_steps(c.frames_per_token)
            inside = np.zeros(f0.size, dtype=bool)
            inside[speech[0]:speech[1]] = True
            target = np.asarray(c.f0_hz, dtype=np.float64)
            mask = inside & (target > 0) & (f0 > 40.0)
            out.append(ContourExample(
                emotion=c.emotion, weight=float(styles.emotion_weight(c)), speaker=c.speaker,
                sentence_id=c.sentence_id, t_en=c.sentence.t_en[0], frames_per_token=c.frames_per_token,
                predicted_durations=durations, token_features=token_features(np.maximum(np.round(durations), 1)),
                features=curve_features(f0, energy, speech), predicted_log_f0=np.log(np.maximum(f0, 1e-3)),
                predicted_energy=energy,
                target_log_f0=np.log(np.maximum(target, 1e-3)), mask=mask))
    return out


class _Head(nn.Module):
    """A projection of the text encoding, then dilated convolutions with residual leaky ReLUs."""

    def __init__(self, settings: ContourSettings, n_features: int, dilations: Sequence[int], kernel: int) -> None:
        super().__init__()
        s = settings
        self.text = nn.Linear(512, s.text_dims, bias=False)
        self.inp = nn.Conv1d(s.text_dims + n_features, s.channels, 1)
        self.blocks = nn.ModuleList(nn.Conv1d(s.channels, s.channels, kernel, dilation=d,
                                              padding=d * (kernel - 1) // 2) for d in dilations)
        self.out = nn.Conv1d(s.channels, s.vector_dims, 1)

    def forward(self, text: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(512, n) text encodings (already at the head's rate), (F, n) features -> (K, n)."""
        h = self.inp(torch.cat([self.text.weight @ text, features])[None])
        for block in self.blocks:
            h = h + nn.functional.leaky_relu(block(h), _LEAK)
        return self.out(h)[0]


class ContourNet(nn.Module):
    """The torch form of :class:`~emosynth.voice.emotion_contour.EmotionContour` (same weight names)."""

    def __init__(self, settings: ContourSettings) -> None:
        super().__init__()
        s = settings
        self.dilations = {"f0": tuple(s.f0_dilations), "duration": tuple(s.duration_dilations)}
        self.f0 = _Head(s, N_CURVE_FEATURES, s.f0_dilations, s.kernel)
        self.duration = _Head(s, N_TOKEN_FEATURES, s.duration_dilations, 3)
        self.vectors = nn.Parameter(0.01 * torch.randn(len(CONTOUR_EMOTIONS), s.vector_dims))

    def vector(self, example: ContourExample) -> torch.Tensor:
        return example.weight * self.vectors[CONTOUR_EMOTIONS.index(example.emotion)]

    def shift(self, example: ContourExample) -> torch.Tensor:
        """Log-F0 shift per step (steps,) on the recording's alignment."""
        t_en = torch.from_numpy(example.t_en)
        # each step's text encoding is its frame's token's, read twice a frame
        steps = torch.from_numpy(np.repeat(example.frame_tokens(), 2))
        return self.vector(example) @ self.f0(t_en[:, steps], torch.from_numpy(example.features))

    def log_duration_scale(self, example: ContourExample) -> torch.Tensor:
        """Log-duration scale per token (tokens,)."""
        return self.vector(example) @ self.duration(torch.from_numpy(example.t_en),
                                                    torch.from_numpy(example.token_features))

    def contour(self, info: dict) -> EmotionContour:
        weights = {k: v.detach().numpy().copy() for k, v in self.state_dict().items() if k != "vectors"}
        vectors = {e: self.vectors[i].detach().numpy().astype(np.float64).copy() for i, e in enumerate(CONTOUR_EMOTIONS)}
        return EmotionContour(weights=weights, vectors=vectors, dilations=self.dilations, info=info)


def _clip_error(net: ContourNet | None, example: ContourExample) -> tuple[torch.Tensor, int, torch.Tensor, int]:
    """Sums of capped |log F0 error| over the clip's masked steps and of |log(1 + frames) error|
    over its speech tokens, and how many of each there are."""
    mask = torch.from_numpy(example.mask)
    predicted = torch.from_numpy(example.predicted_log_f0)
    durations = torch.from_numpy(example.predicted_durations)
    if net is not None:
        predicted = predicted + net.shift(example).to(predicted.dtype)
        durations = durations * torch.exp(net.log_duration_scale(example).to(durations.dtype))
    error = torch.clamp(torch.abs(predicted - torch.from_numpy(example.target_log_f0)), max=_MAX_F0_ERROR)
    target = torch.from_numpy(example.frames_per_token.astype(np.float64))
    timing = torch.abs(torch.log1p(durations[1:-1]) - torch.log1p(target[1:-1]))
    return error[mask].sum(), int(mask.sum()), timing.sum(), int(timing.numel())


def contour_losses(contour: EmotionContour | None, examples: Sequence[ContourExample]) -> dict[str, dict[str, float]]:
    """Per emotion, the mean capped log-F0 error over ``examples``' masked steps and the mean
    log(1 + frames) duration error over their speech tokens, with ``contour`` as inference runs
    it (numpy), or without any when it is None."""
    sums: dict[str, np.ndarray] = {}
    for x in examples:
        predicted, durations = x.predicted_log_f0, x.predicted_durations
        if contour is not None:
            weights = np.asarray([x.weight if e == x.emotion else 0.0 for e in PRIMARY_EMOTIONS])
            vector = contour.vector(weights)
            predicted = predicted + contour.log_f0_shift(vector, x.t_en[:, x.frame_tokens()], np.exp(x.predicted_log_f0),
                                                         x.predicted_energy, speech_steps(x.frames_per_token))
            log_scale = vector @ contour.duration_basis(x.t_en, np.maximum(np.round(x.predicted_durations), 1))
            durations = durations * np.exp(log_scale)
        error = np.minimum(np.abs(predicted - x.target_log_f0), _MAX_F0_ERROR)[x.mask]
        timing = np.abs(np.log1p(durations[1:-1]) - np.log1p(x.frames_per_token[1:-1]))
        sums.setdefault(x.emotion, np.zeros(4))
        sums[x.emotion] += [error.sum(), error.size, timing.sum(), timing.size]
    return {e: {"f0": float(v[0] / max(v[1], 1)), "duration": float(v[2] / max(v[3], 1))}
            for e in EMOTIONS if e in sums for v in [sums[e]]}


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
            f0_sum, f0_n, timing_sum, timing_n = zip(*(_clip_error(net, examples[i]) for i in picks), strict=True)
            loss = (torch.stack(list(f0_sum)).sum() / max(sum(f0_n), 1)
                    + torch.stack(list(timing_sum)).sum() / max(sum(timing_n), 1))
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
        report = {e: {term: {"embedding_only": round(without[e][term], 4), "with_contour": round(with_[e][term], 4),
                             "relative_change": round(with_[e][term] / without[e][term] - 1.0, 4)}
                      for term in ("f0", "duration")} for e in without}
    info = {"settings": {**asdict(settings), "f0_dilations": list(settings.f0_dilations),
                         "duration_dilations": list(settings.duration_dilations)},
            "fit_clips": len(examples), "loss_first_250": round(float(np.mean(history[:250])), 4),
            "loss_last_250": round(float(np.mean(history[-250:])), 4), "held_out": report,
            "style_half": f"prosody dims {PROSODY_STYLE.start}-{PROSODY_STYLE.stop - 1} of the speakers' fitted styles"}
    return net.contour(info)
