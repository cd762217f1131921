"""Per-layer emotion offsets of Kokoro's decoder style: the smallest conditioning past one offset.

Why: one offset of the decoder's 128-d style, fitted jointly over speakers and sentences, carries
sadness, fear and surprise but no joy or anger, even given the actor's own durations, F0 and
energy, and fitting it longer does not change that (docs/voice.md). Kokoro's decoder reads its
style at 58 AdaIN layers, each through its own linear map to a scale and shift. Here every
emotion gets, on top of its shared embedding, one 128-d offset per layer, so each layer can move
its own way; a clip of speaker ``s`` in emotion ``e`` at weight ``w`` is decoded with layer ``l``
reading ``style_s + w * (embedding_e + offset_e,l)``. Still one (larger) embedding per emotion:
mixtures add, intensity scales and negation subtracts, as for the shared offsets.

The stage starts from the finished decoder half (:func:`~.emotion_fit.fit_half`) and moves only
the layer offsets (speakers' styles, shared embeddings and the normal takes' weight stay as that
fit left them), on the emotional clips alone (neutral clips carry no offset). It checkpoints
into the fit's folder as ``layers-STEPS.pt`` and resumes like the halves.

Measured (2026-12-07, docs/voice.md "Per-layer offsets"): 200 steps lower the training loss from
0.83-0.87 to 0.77, but on held-out sentences the disjoint judge still hears no joy or anger (it
hears them as fear and sadness), so the shipped voices do not use it; ``bench_emotion_carry.py
--layer-steps 200`` reads it. The decoder graph takes the offsets (``graph.STYLE_OFFSETS``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...io import atomic_path
from ..graph import DECODER_ADAIN_PATHS
from .emotion_fit import (
    EMOTIONS,
    EmotionFitSettings,
    FitState,
    _crop,
    _draw,
    _learning_rate,
    _sampler,
    _take_step,
    decoder_batch_loss,
    finished_decoder_half,
    loss_summary,
    read_half,
)
from .kokoro_torch import KokoroDecoder
from .losses import MultiResolutionLogMel
from .material import ClipMaterial

__all__ = ["DECODER_LAYERS", "LayerFitState", "LayerOffsets", "fit_layers", "read_layers"]

log = logging.getLogger(__name__)

#: AdaIN layers of Kokoro's decoder (graph.DECODER_ADAIN_PATHS): rows of an emotion's offsets.
DECODER_LAYERS = len(DECODER_ADAIN_PATHS)
_DECODER_DIMS = 128


class LayerOffsets(nn.Module):
    """(emotions, layers, 128) offsets, zero at the start: the stage begins where the half ended."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets = nn.Parameter(torch.zeros(len(EMOTIONS), DECODER_LAYERS, _DECODER_DIMS))


@dataclass
class LayerFitState:
    """Where the layer stage stands; ``decoder`` is the finished decoder half it builds on."""

    decoder: FitState
    layers: LayerOffsets
    total: int
    step: int = 0
    history: list[float] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.step >= self.total

    def clip_offsets(self, clip: ClipMaterial) -> torch.Tensor:
        """(layers, 128): the clip's per-layer offsets (on top of its style, which holds the shared
        embedding), weighted as its shared embedding is."""
        if clip.emotion == "neutral":
            return torch.zeros(DECODER_LAYERS, _DECODER_DIMS)
        weight = self.decoder.styles.emotion_weight(clip).detach()
        return weight * self.layers.offsets[EMOTIONS.index(clip.emotion)]

    def offsets(self) -> np.ndarray:
        """(emotions, layers, 128), emosynth's emotion order (EMOTIONS)."""
        return self.layers.offsets.detach().numpy().copy()

    def summary(self) -> dict:
        return {"steps": self.step, "of": self.total, **loss_summary(self.history)}


def _path(folder: Path, settings: EmotionFitSettings) -> Path:
    return folder / f"layers-{settings.layer_steps}.pt"


def read_layers(material: Sequence[ClipMaterial], folder: Path, settings: EmotionFitSettings) -> LayerFitState | None:
    """Where the layer stage on ``material`` stands in ``folder`` (None if it never started)."""
    decoder = read_half(material, folder, "decoder")
    loaded = _load(_path(folder, settings), decoder) if decoder is not None else None
    return loaded[0] if loaded is not None else None


def fit_layers(material: Sequence[ClipMaterial], folder: Path, settings: EmotionFitSettings | None = None,
               *, progress: bool = True, stop_after_steps: int | None = None) -> LayerFitState:
    """Fit (or go on fitting) the per-layer offsets on top of the finished decoder half in ``folder``."""
    from tqdm import tqdm

    settings = settings or EmotionFitSettings()
    material = sorted(material, key=lambda c: c.content_sha256)
    decoder_state = finished_decoder_half(material, folder)
    path = _path(folder, settings)
    loaded = _load(path, decoder_state)
    optimiser_state = None
    if loaded is not None:
        state, optimiser_state = loaded
    else:
        state = LayerFitState(decoder_state, LayerOffsets(), settings.layer_steps)
    budget = stop_after_steps if stop_after_steps is not None else math.inf
    if state.done or budget <= 0:
        return state
    state.decoder.styles.requires_grad_(False)
    optimiser = torch.optim.Adam(state.layers.parameters(), lr=settings.learning_rate)
    if optimiser_state is not None:
        optimiser.load_state_dict(optimiser_state)
    decoder, spectral = KokoroDecoder.from_float_graph(), MultiResolutionLogMel()
    need = settings.crop_frames + 2 * settings.context_frames
    pool = _sampler(material, lambda c: c.n_frames >= need and c.emotion != "neutral")
    with tqdm(total=state.total, initial=state.step, desc="fit decoder layers", unit="step",
              disable=not progress) as bar:
        while not state.done and budget > 0:
            rng = np.random.default_rng([settings.seed, 2, state.step])  # 0 and 1 are the halves'
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(settings.learning_rate, state.step, state.total)
            optimiser.zero_grad()
            crops = [_crop(material[i], settings, rng) for i in _draw(pool, settings.clips_per_step, rng)]
            loss = decoder_batch_loss(decoder, state.decoder.styles, crops, state.decoder.levels, spectral,
                                      layer_offsets=state.clip_offsets)
            _take_step(state, loss, optimiser, bar)
            budget -= 1
            if state.step % settings.checkpoint_every == 0 or state.done or budget == 0:
                _save(path, state, optimiser)
                log.info("fit decoder layers: step %d of %d, loss %.4f (mean of the last 20)", state.step,
                         state.total, np.mean(state.history[-20:]))
    return state


def _save(path: Path, state: LayerFitState, optimiser: torch.optim.Optimizer) -> None:
    record = {"speakers": state.decoder.styles.speakers, "params": state.layers.state_dict(), "total": state.total,
              "step": state.step, "history": state.history, "optimiser": optimiser.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def _load(path: Path, decoder: FitState) -> tuple[LayerFitState, dict] | None:
    if not path.exists():
        return None
    record = torch.load(path, weights_only=True)
    if record["speakers"] != decoder.styles.speakers:
        raise ValueError(f"{path} was fitted on other speakers; remove it to start again")
    layers = LayerOffsets()
    layers.load_state_dict(record["params"])
    return LayerFitState(decoder, layers, record["total"], record["step"], record["history"]), record["optimiser"]
