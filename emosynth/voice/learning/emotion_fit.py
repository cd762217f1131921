"""Emotion embeddings fitted by gradient through Kokoro, jointly over speakers and sentences.

The model (:class:`EmotionStyles`): every training speaker has a neutral style (Kokoro's 256-d
vector: decoder half 0-127, prosody half 128-255) and every non-neutral primary one embedding of
the same size, shared by all speakers and sentences. A clip of speaker ``s`` in emotion ``e`` is
reconstructed from ``style_s + w * embedding_e``: ``w`` is 1 for RAVDESS's strong takes and nEMO,
and a learned ``normal_weight`` in (0, 1) for RAVDESS's normal takes, so intensity is a scale of
the one embedding. Neutral (and RAVDESS calm, which the recognizer also reads as neutral) is
``w = 0``: its clips fit the speakers' styles.

Two fits, each on its own half of the style (they share no parameter and no loss, so they may
run one after the other or side by side, one per core):

1. ``prosody``: Kokoro's predictor (:class:`~.kokoro_torch.KokoroProsody`) on each clip's own
   alignment, against the recording's durations, F0 and energy (:func:`~.losses.prosody_loss`).
2. ``decoder``: Kokoro's decoder (:class:`~.kokoro_torch.KokoroDecoder`) fed the recording's own
   F0 and energy on the aligned text features, against the recording's spectra
   (:class:`~.losses.MultiResolutionLogMel`), on random crops of a few clips per step.

Each step draws an emotion uniformly (neutral included), then a clip of it, so the rarer
emotions weigh as much as the many neutral and calm takes. Recordings are brought to Kokoro's
level per speaker first (one gain per speaker, from its neutral clips): the corpora are far
quieter than Kokoro, and a speaker's level is not an emotion, while the level differences
between a speaker's emotions are kept.

:func:`fit_half` checkpoints into a folder every few steps and resumes from it, so an
interrupted run (hours on 2 cores) continues where it stopped with the same result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...emotions import PRIMARY_EMOTIONS
from ...io import atomic_path
from ..assets import style_for
from ..prosody import EmotionEmbeddings
from .acoustics import energy_curve
from .kokoro_torch import KokoroDecoder, KokoroProsody, alignment_matrix
from .losses import MultiResolutionLogMel, prosody_loss
from .material import ClipMaterial, rendition_of

__all__ = [
    "EMOTIONS",
    "HALVES",
    "Crop",
    "EmotionFitSettings",
    "EmotionStyles",
    "FitState",
    "clip_level_offsets",
    "finished_decoder_half",
    "decode_crops",
    "decoder_batch_loss",
    "fit_half",
    "loss_summary",
    "merged_embeddings",
    "prosody_clip_loss",
    "read_half",
]

log = logging.getLogger(__name__)

#: The emotions that get an embedding, in emosynth's order (neutral is the speaker's own style).
EMOTIONS = tuple(e for e in PRIMARY_EMOTIONS if e != "neutral")
#: The two halves of the style, fitted apart: they share no parameter and no loss.
HALVES = ("prosody", "decoder")
_SAMPLES_PER_FRAME = 600
_LEVEL_SENTENCES = 12
_STAGE_SETTINGS = ("layer_steps", "listener_steps", "listener_weight", "speaker_weight")


@dataclass(frozen=True)
class EmotionFitSettings:
    """Everything that decides the result (with the data): the checkpoint folder is keyed by it."""

    seed: int = 0
    prosody_steps: int = 1200  # about 0.2 s a clip: 16 minutes on one core
    decoder_steps: int = 200  # about 10-13 s a step of 4 crops: 35-45 minutes on one core
    clips_per_step: int = 4
    crop_frames: int = 48  # frames the decoder's loss covers per crop (1.2 s)
    context_frames: int = 6  # frames of input on either side of a crop, outside the loss
    learning_rate: float = 0.01
    checkpoint_every: int = 10
    layer_steps: int = 200  # per-layer decoder offsets (.layer_fit), an experiment the shipped fit does not run
    listener_steps: int = 150  # the listener stage (.listener_fit) on top of the decoder half
    listener_weight: float = 1.0  # its perceptual term's weight beside the spectral loss
    speaker_weight: float = 0.0  # the stage's speaker term (.listener.SpeakerProjection); 0: none

    def key(self, clip_hashes: Sequence[str]) -> str:
        """The halves' checkpoint folder. The later stages' settings are left out: they do not move
        the halves (each stage names its own checkpoint by them)."""
        fields = {k: v for k, v in asdict(self).items() if k not in _STAGE_SETTINGS}
        body = json.dumps(fields, sort_keys=True) + "\n" + "\n".join(sorted(clip_hashes))
        return hashlib.sha256(body.encode()).hexdigest()[:16]


class EmotionStyles(nn.Module):
    """The fitted parameters: speakers' neutral styles, the emotion embeddings, the normal takes' weight."""

    def __init__(self, speakers: Sequence[str], initial_styles: np.ndarray) -> None:
        super().__init__()
        if initial_styles.shape != (len(speakers), 256):
            raise ValueError(f"need one 256-d style per speaker, got {initial_styles.shape} for {len(speakers)}")
        self.speakers = list(speakers)
        self.speaker = nn.Parameter(torch.tensor(initial_styles, dtype=torch.float32))
        self.embedding = nn.Parameter(torch.zeros(len(EMOTIONS), 256))
        # sigmoid(0.4) = 0.6: RAVDESS's normal takes start at 60% of the strong ones
        self.normal_logit = nn.Parameter(torch.tensor(0.4))

    @property
    def normal_weight(self) -> torch.Tensor:
        return torch.sigmoid(self.normal_logit)

    def emotion_weight(self, clip: ClipMaterial) -> torch.Tensor:
        if clip.emotion == "neutral":
            return torch.zeros(())
        return self.normal_weight if clip.corpus == "ravdess" and clip.intensity == "normal" else torch.ones(())

    def style(self, clip: ClipMaterial, *, with_emotion: bool = True) -> torch.Tensor:
        """(1, 256): the clip's speaker's neutral style plus its emotion, weighted."""
        style = self.speaker[self.speakers.index(clip.speaker)]
        if with_emotion and clip.emotion != "neutral":
            style = style + self.emotion_weight(clip) * self.embedding[EMOTIONS.index(clip.emotion)]
        return style[None, :]


def clip_level_offsets(material: Sequence[ClipMaterial]) -> dict[str, float]:
    """Per speaker, what to add to its clips' N (Kokoro's energy) to bring its neutral speech to
    Kokoro's level: median N over voiced steps of Kokoro's renditions of (up to 12 of) the
    sentences of the speaker's neutral clips, less that of the clips. The audio is scaled by ``exp(offset / 2)``."""
    from .acoustics import f0_curve

    offsets = {}
    for speaker in sorted({c.speaker for c in material}):
        clips = [c for c in material if c.speaker == speaker]
        neutral = [c for c in clips if c.emotion == "neutral"] or clips
        kokoro = []
        by_sentence = {c.sentence_id: c for c in neutral}
        for sentence in sorted(by_sentence)[:_LEVEL_SENTENCES]:
            clip = by_sentence[sentence]
            audio = rendition_of(clip).audio
            steps = audio.size // (_SAMPLES_PER_FRAME // 2)
            kokoro.append(energy_curve(audio, steps)[f0_curve(audio, 24_000, steps) > 0])
        own = np.median(np.concatenate([c.energy[c.f0_hz > 0] for c in neutral]))
        offsets[speaker] = float(np.median(np.concatenate(kokoro)) - own)
    return offsets


# -- losses of one step --------------------------------------------------------------------------------
def prosody_clip_loss(prosody: KokoroProsody, styles: EmotionStyles, clip: ClipMaterial, level: float,
                      *, with_emotion: bool = True) -> torch.Tensor:
    """The predictor's loss on one clip (its own alignment), for its style."""
    style = styles.style(clip, with_emotion=with_emotion)
    d_en = torch.from_numpy(clip.sentence.d_en)
    encoded = prosody.encode(d_en, style)
    alignment = alignment_matrix(clip.frames_per_token, d_en.shape[1])
    f0, energy = prosody.curves(encoded, alignment, style)
    return prosody_loss(prosody.durations(encoded), f0, energy, frames_per_token=clip.frames_per_token,
                        target_f0_hz=clip.f0_hz, target_energy=clip.energy + level).total


@dataclass(frozen=True)
class Crop:
    """A window of a clip for the decoder: input frames [start - before, stop + after)."""

    clip: ClipMaterial
    start: int
    stop: int
    before: int
    after: int


def decoder_batch_loss(decoder: KokoroDecoder, styles: EmotionStyles, crops: Sequence[Crop],
                       levels: dict[str, float], spectral: MultiResolutionLogMel, *,
                       with_emotion: bool = True,
                       layer_offsets: Callable[[ClipMaterial], torch.Tensor] | None = None) -> torch.Tensor:
    """The decoder's spectral loss over equally long crops, as one batch. ``layer_offsets`` gives
    a clip's (layers, 128) per-layer offsets of the decoder style (:mod:`.layer_fit`)."""
    return spectral(*decode_crops(decoder, styles, crops, levels, with_emotion=with_emotion,
                                  layer_offsets=layer_offsets))


def decode_crops(decoder: KokoroDecoder, styles: EmotionStyles, crops: Sequence[Crop], levels: dict[str, float],
                 *, with_emotion: bool = True,
                 layer_offsets: Callable[[ClipMaterial], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(decoded, recorded), each (crops, samples) at 24 kHz: Kokoro's rendering of equally long
    crops from their recordings' F0 and energy, and the recordings brought to Kokoro's level."""
    aligned, f0, energy, target, style = [], [], [], [], []
    for crop in crops:
        c = crop.clip
        lo, hi = crop.start - crop.before, crop.stop + crop.after
        full = torch.from_numpy(c.sentence.t_en) @ alignment_matrix(c.frames_per_token, c.sentence.t_en.shape[-1])
        aligned.append(full[0, :, lo:hi])
        f0.append(torch.from_numpy(c.f0_hz[2 * lo:2 * hi]))
        energy.append(torch.from_numpy(c.energy[2 * lo:2 * hi] + levels[c.speaker]))
        gain = math.exp(levels[c.speaker] / 2.0)
        samples = c.audio_pcm16[crop.start * _SAMPLES_PER_FRAME:crop.stop * _SAMPLES_PER_FRAME]
        target.append(torch.from_numpy(samples.astype(np.float32) * (gain / 32767.0)))
        style.append(styles.style(c, with_emotion=with_emotion))
    per_layer = torch.stack([layer_offsets(crop.clip) for crop in crops]) if layer_offsets is not None else None
    audio = decoder(torch.stack(aligned), torch.stack(f0), torch.stack(energy), torch.cat(style), per_layer)
    first = crops[0].before * _SAMPLES_PER_FRAME
    return audio[:, first:first + target[0].numel()], torch.stack(target)


def _crop(clip: ClipMaterial, settings: EmotionFitSettings, rng: np.random.Generator) -> Crop:
    ctx, n = settings.context_frames, settings.crop_frames
    start = int(rng.integers(ctx, clip.n_frames - n - ctx + 1))
    return Crop(clip, start, start + n, ctx, ctx)


# -- the fit -------------------------------------------------------------------------------------------
@dataclass
class FitState:
    """Where the fit of one half stands: what is checkpointed, and what :func:`fit_half` returns.
    Only that half of its styles and embeddings moves (the other half gets no gradient)."""

    half: str  # "prosody" or "decoder"
    styles: EmotionStyles
    total: int
    step: int = 0
    history: list[float] = field(default_factory=list)
    levels: dict[str, float] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.step >= self.total

    def embeddings(self) -> np.ndarray:
        return self.styles.embedding.detach().numpy().copy()

    def summary(self) -> dict:
        return {"steps": self.step, "of": self.total, "normal_weight": round(float(self.styles.normal_weight.detach()), 4),
                **loss_summary(self.history)}


def loss_summary(history: Sequence[float]) -> dict:
    """Mean loss of a fit's first and last 20 steps (None before the first step)."""
    return {"loss_first_20": round(float(np.mean(history[:20])), 4) if history else None,
            "loss_last_20": round(float(np.mean(history[-20:])), 4) if history else None}


def merged_embeddings(states: Sequence[FitState], info: dict | None = None) -> EmotionEmbeddings:
    """The halves' fits as one offset per emotion (each fills its own half), as voices read them."""
    values = np.sum([s.embeddings() for s in states], axis=0).astype(np.float64)
    fitted = {"halves": {s.half: s.summary() for s in states}, "speakers": list(states[0].styles.speakers)}
    return EmotionEmbeddings(offsets={e: values[i] for i, e in enumerate(EMOTIONS)}, info={**fitted, **(info or {})})


def _initial_styles(material: Sequence[ClipMaterial], speakers: Sequence[str]) -> np.ndarray:
    """Each speaker starts at the Kokoro voice its clips were aligned to (at a typical length)."""
    voice = {c.speaker: c.rendition_voice for c in material}
    return np.stack([style_for(voice[s], 40) for s in speakers]).astype(np.float32)


def _sampler(material: Sequence[ClipMaterial], eligible: Callable[[ClipMaterial], bool]) -> dict[str, list[int]]:
    by_emotion: dict[str, list[int]] = {}
    for i, c in enumerate(material):
        if eligible(c):
            by_emotion.setdefault(c.emotion, []).append(i)
    return by_emotion


def _draw(by_emotion: dict[str, list[int]], k: int, rng: np.random.Generator) -> list[int]:
    emotions = sorted(by_emotion)
    return [int(rng.choice(by_emotion[emotions[int(rng.integers(len(emotions)))]])) for _ in range(k)]


def read_half(material: Sequence[ClipMaterial], folder: Path, half: str) -> FitState | None:
    """Where the fit of ``half`` on ``material`` stands in ``folder`` (None if it never started):
    read from its checkpoint alone, no model loaded and no step taken."""
    speakers = sorted({c.speaker for c in material})
    loaded = _load(folder / f"{half}.pt", half, speakers)
    return loaded[0] if loaded is not None else None


def finished_decoder_half(material: Sequence[ClipMaterial], folder: Path) -> FitState:
    """The decoder half in ``folder``, which the later stages (.layer_fit, .listener_fit) build on;
    ValueError while it is not finished."""
    state = read_half(material, folder, "decoder")
    if state is None or not state.done:
        raise ValueError(f"{folder}: the decoder half is not finished; fit it first (fit_half(..., 'decoder'))")
    return state


def fit_half(material: Sequence[ClipMaterial], folder: Path, half: str, settings: EmotionFitSettings | None = None,
             *, progress: bool = True, stop_after_steps: int | None = None) -> FitState:
    """Fit (or go on fitting) one half of the styles and embeddings on ``material``, checkpointing
    into ``folder``/HALF.pt.

    ``stop_after_steps`` ends this call after that many steps (the checkpoint keeps the rest for
    a later call): for runs in slices and for tests. Same material, settings and seed give the
    same embeddings, resumed or not.
    """
    from tqdm import tqdm

    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    settings = settings or EmotionFitSettings()
    material = sorted(material, key=lambda c: c.content_sha256)
    speakers = sorted({c.speaker for c in material})
    total = settings.prosody_steps if half == "prosody" else settings.decoder_steps
    path = folder / f"{half}.pt"
    optimiser_state = None
    loaded = _load(path, half, speakers)
    if loaded is not None:
        state, optimiser_state = loaded
    else:
        state = FitState(half, EmotionStyles(speakers, _initial_styles(material, speakers)), total,
                         levels=clip_level_offsets(material))
    budget = stop_after_steps if stop_after_steps is not None else math.inf
    if state.done or budget <= 0:
        return state
    optimiser = torch.optim.Adam(state.styles.parameters(), lr=settings.learning_rate)
    if optimiser_state is not None:
        optimiser.load_state_dict(optimiser_state)
    if half == "prosody":
        prosody = KokoroProsody.from_float_graph()
        pool = _sampler(material, lambda c: True)
    else:
        decoder, spectral = KokoroDecoder.from_float_graph(), MultiResolutionLogMel()
        need = settings.crop_frames + 2 * settings.context_frames
        pool = _sampler(material, lambda c: c.n_frames >= need)
    with tqdm(total=total, initial=state.step, desc=f"fit {half}", unit="step", disable=not progress) as bar:
        while not state.done and budget > 0:
            # Each step's draws come from (seed, half, step) alone, so a resumed run draws the same.
            rng = np.random.default_rng([settings.seed, HALVES.index(half), state.step])
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(settings.learning_rate, state.step, total)
            optimiser.zero_grad()
            picks = _draw(pool, settings.clips_per_step, rng)
            if half == "prosody":
                loss = torch.stack([prosody_clip_loss(prosody, state.styles, material[i],
                                                      state.levels[material[i].speaker]) for i in picks]).mean()
            else:
                crops = [_crop(material[i], settings, rng) for i in picks]
                loss = decoder_batch_loss(decoder, state.styles, crops, state.levels, spectral)
            _take_step(state, loss, optimiser, bar)
            budget -= 1
            if state.step % settings.checkpoint_every == 0 or state.done or budget == 0:
                _save(path, state, optimiser)
                # a line per checkpoint for logs, where the bar is not seen
                log.info("fit %s: step %d of %d, loss %.4f (mean of the last 20)", half, state.step, total,
                         np.mean(state.history[-20:]))
    return state


def _take_step(state: Any, loss: torch.Tensor, optimiser: torch.optim.Optimizer, bar: Any) -> None:
    """Backpropagate ``loss``, step the optimiser, and count the step on ``state`` (a FitState or
    a layer_fit.LayerFitState: anything with ``step`` and ``history``) and on the progress bar."""
    loss.backward()
    optimiser.step()
    state.step += 1
    state.history.append(float(loss.detach()))
    bar.update(1)
    bar.set_postfix(loss=f"{np.mean(state.history[-20:]):.4f}")


def _learning_rate(base: float, step: int, total: int) -> float:
    """Cosine from ``base`` to a tenth of it over the fit."""
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1))))


def _save(path: Path, state: FitState, optimiser: torch.optim.Optimizer) -> None:
    record = {"half": state.half, "speakers": state.styles.speakers, "params": state.styles.state_dict(),
              "total": state.total, "step": state.step, "history": state.history, "levels": state.levels,
              "optimiser": optimiser.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def _load(path: Path, half: str, speakers: list[str]) -> tuple[FitState, dict] | None:
    if not path.exists():
        return None
    record = torch.load(path, weights_only=True)
    if record["speakers"] != speakers or record["half"] != half:
        raise ValueError(f"{path} was fitted on other speakers; remove it to start again")
    styles = EmotionStyles(speakers, np.zeros((len(speakers), 256), dtype=np.float32))
    styles.load_state_dict(record["params"])
    state = FitState(half, styles, record["total"], record["step"], record["history"], record["levels"])
    return state, record["optimiser"]
