"""The listener stage: the decoder embeddings refitted with a perceptual term beside the spectral loss.

Why: fitted on the multi-resolution log-mel loss alone, the decoder embedding makes sadness, fear
and surprise that a speaker-independent judge hears, but no joy or anger, whatever the capacity
of the conditioning (docs/voice.md). Here the decoder half of every emotion's embedding moves on
``spectral + weight * cross-entropy``, the cross-entropy being what a listener
(:mod:`.listener`: Whisper tiny.en states, linear, trained on the fitting speakers' recordings
only) hears in the decoded crop, relative to the same speaker's decoded neutral crops. Speakers'
neutral styles, the prosody half and the normal takes' weight stay as the decoder half left
them, so the result is still one embedding per emotion (mixtures add, intensity scales, negation
subtracts).

Steps: (1) the listener is trained on crops of the fitting speakers' recordings (cached as
``listener.npz`` in the fit's folder); (2) each speaker's reference is its neutral clips decoded
with its fitted style (cached beside it); (3) the stage, checkpointed as
``listener-STEPS-WEIGHT.pt`` and resumed like the halves.

With ``speaker_weight`` above 0 a third term keeps who speaks: the decoded emotional crops'
distance from their speaker's decoded neutral ones along the directions in which the fitting
speakers differ (:class:`.listener.SpeakerProjection`, fitted on the same recordings as the
listener and cached as ``speaker.npz``); the checkpoint is then ``listener-STEPS-WEIGHT-speaker-W.pt``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...emotions import PRIMARY_EMOTIONS
from ...io import atomic_path
from ...recognizer.logistic import balanced_weights, fit_masked_logistic
from .emotion_fit import (
    EmotionFitSettings,
    FitState,
    _crop,
    _draw,
    _learning_rate,
    _sampler,
    _take_step,
    decode_crops,
    finished_decoder_half,
    loss_summary,
    read_half,
)
from .kokoro_torch import KokoroDecoder
from .listener import LinearListener, SpeakerProjection, SpeakerStatistics, WhisperStates
from .losses import MultiResolutionLogMel
from .material import ClipMaterial

__all__ = ["ListenerFitState", "fit_listener_stage", "read_listener_stage", "stage_name", "train_listener"]

log = logging.getLogger(__name__)

_CROPS_PER_CLIP = 2
_REFERENCE_CROPS = 24  # decoded neutral crops a speaker's reference is made of
_CS = (0.003, 0.01, 0.03, 0.1)
_BATCH = 32


def _recorded_crops(decoder_state: FitState, clips: Sequence[ClipMaterial], settings: EmotionFitSettings,
                    rng: np.random.Generator) -> list[tuple[ClipMaterial, np.ndarray]]:
    """Crops of the recordings as long as the fit's, at Kokoro's level (the speaker's gain)."""
    out = []
    span = settings.crop_frames * 600
    for clip in (c for c in clips if c.n_frames >= settings.crop_frames):
        gain = math.exp(decoder_state.levels[clip.speaker] / 2.0)
        for _ in range(_CROPS_PER_CLIP):
            start = int(rng.integers(0, clip.n_frames - settings.crop_frames + 1)) * 600
            out.append((clip, clip.audio_24k[start:start + span] * gain))
    return out


@torch.no_grad()
def _features(states: WhisperStates, audio: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([states.pooled(torch.from_numpy(np.stack(audio[i:i + _BATCH]))).numpy()
                           for i in range(0, len(audio), _BATCH)]).astype(np.float64)


def _recorded_features(material: Sequence[ClipMaterial], decoder_state: FitState, settings: EmotionFitSettings,
                       states: WhisperStates) -> tuple[np.ndarray, list[tuple[ClipMaterial, np.ndarray]]]:
    """The pooled features of the crops of the recordings the listener and the speaker projection
    are fitted on (the same crops for both: one seed), and the crops."""
    crops = _recorded_crops(decoder_state, material, settings, np.random.default_rng([settings.seed, 3]))
    return _features(states, [a for _, a in crops]), crops


def _pooled_sd(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """The spread of every row about its own speaker's mean, over all rows (the references' prior)."""
    centred = np.concatenate([x[speakers == s] - x[speakers == s].mean(axis=0) for s in np.unique(speakers)])
    return centred.std(axis=0) + 1e-8


def _normalised(x: np.ndarray, speakers: np.ndarray, emotions: np.ndarray, pooled_sd: np.ndarray) -> np.ndarray:
    """Each row relative to its speaker's neutral crops: a speaker's (or a voice's) own timbre and
    channel are not an emotion, and the judges read voices against their neutral the same way."""
    refs = {s: SpeakerStatistics.of(x[(speakers == s) & (emotions == "neutral")], pooled_sd) for s in np.unique(speakers)}
    return np.stack([(row - refs[s].mean) / refs[s].sd for row, s in zip(x, speakers)])


def _fit(z: np.ndarray, y: np.ndarray, corpora: np.ndarray, c: float) -> LinearListener:
    mu, sigma = z.mean(axis=0), z.std(axis=0) + 1e-8
    allowed = np.zeros((len(y), len(PRIMARY_EMOTIONS)), dtype=bool)
    allowed[:, np.unique(y)] = True
    w, b = fit_masked_logistic((z - mu) / sigma, y, allowed, balanced_weights(y, corpora), c, len(PRIMARY_EMOTIONS))
    return LinearListener(mu, sigma, w, b)


def train_listener(material: Sequence[ClipMaterial], decoder_state: FitState, settings: EmotionFitSettings,
                   states: WhisperStates) -> tuple[LinearListener, np.ndarray, dict]:
    """(listener, pooled within-speaker spread, report): C chosen by leave-speakers-out folds,
    the report holding each C's held-out-speaker UA."""
    x, crops = _recorded_features(material, decoder_state, settings, states)
    speakers = np.array([c.speaker for c, _ in crops])
    emotions = np.array([c.emotion for c, _ in crops])
    corpora = np.array([c.corpus for c, _ in crops])
    y = np.array([PRIMARY_EMOTIONS.index(e) for e in emotions])
    pooled_sd = _pooled_sd(x, speakers)
    z = _normalised(x, speakers, emotions, pooled_sd)
    names = sorted(set(speakers))
    folds = [names[i::4] for i in range(min(4, len(names)))]
    scores = {}
    for c in _CS if len(folds) > 1 else ():  # one speaker: nobody to hold out, the smallest C
        predictions = []
        for held in folds:
            test = np.isin(speakers, held)
            model = _fit(z[~test], y[~test], corpora[~test], c)
            pred = model.logits(torch.from_numpy(z[test]).float(),
                                [SpeakerStatistics(np.zeros(z.shape[1]), np.ones(z.shape[1]))] * int(test.sum()))
            predictions.append(pred.argmax(dim=1).numpy())
        pred = np.empty_like(y)
        for held, p in zip(folds, predictions):
            pred[np.isin(speakers, held)] = p
        scores[c] = float(np.mean([np.mean(pred[y == k] == k) for k in np.unique(y)]))
    best = max(scores, key=scores.get) if scores else _CS[0]
    report = {"crops": len(crops), "encoder": "whisper tiny.en block 2", "c": best,
              "held_out_speaker_ua_by_c": {str(k): round(v, 4) for k, v in scores.items()}}
    log.info("listener: %s", report)
    return _fit(z, y, corpora, best), pooled_sd, report


@torch.no_grad()
def _references(material: Sequence[ClipMaterial], decoder_state: FitState, settings: EmotionFitSettings,
                decoder: KokoroDecoder, states: WhisperStates, pooled_sd: np.ndarray) -> dict[str, SpeakerStatistics]:
    """Each speaker's neutral clips decoded with its fitted style: what the stage's crops are heard against."""
    need = settings.crop_frames + 2 * settings.context_frames
    out = {}
    for speaker in sorted({c.speaker for c in material}):
        rng = np.random.default_rng([settings.seed, 4, int.from_bytes(speaker.encode()[-4:], "little")])
        neutral = [c for c in material if c.speaker == speaker and c.emotion == "neutral" and c.n_frames >= need]
        picks = rng.choice(len(neutral), size=min(_REFERENCE_CROPS, len(neutral)), replace=False)
        crops = [_crop(neutral[int(i)], settings, rng) for i in picks]
        audio = torch.cat([decode_crops(decoder, decoder_state.styles, crops[i:i + 4], decoder_state.levels)[0]
                           for i in range(0, len(crops), 4)])
        out[speaker] = SpeakerStatistics.of(_features(states, list(audio.numpy())), pooled_sd)
    return out


@dataclass
class ListenerFitState:
    """Where the stage stands; ``decoder`` holds the styles, its embeddings the stage's."""

    decoder: FitState
    total: int
    step: int = 0
    history: list[float] = field(default_factory=list)
    heard: list[float] = field(default_factory=list)  # the perceptual term's cross-entropy a step
    kept: list[float] = field(default_factory=list)  # the speaker term a step (with a speaker weight)

    @property
    def done(self) -> bool:
        return self.step >= self.total

    def summary(self) -> dict:
        first = round(float(np.mean(self.heard[:20])), 4) if self.heard else None
        last = round(float(np.mean(self.heard[-20:])), 4) if self.heard else None
        out = {"steps": self.step, "of": self.total, **loss_summary(self.history),
               "cross_entropy_first_20": first, "cross_entropy_last_20": last}
        if self.kept:
            out |= {"speaker_term_first_20": round(float(np.mean(self.kept[:20])), 4),
                    "speaker_term_last_20": round(float(np.mean(self.kept[-20:])), 4)}
        return out


def stage_name(settings: EmotionFitSettings) -> str:
    """The stage's checkpoint name (and the shipped fit key's suffix): its own settings."""
    name = f"listener-{settings.listener_steps}-{settings.listener_weight:g}"
    return name + (f"-speaker-{settings.speaker_weight:g}" if settings.speaker_weight else "")


def _path(folder: Path, settings: EmotionFitSettings) -> Path:
    return folder / f"{stage_name(settings)}.pt"


def read_listener_stage(material: Sequence[ClipMaterial], folder: Path,
                        settings: EmotionFitSettings) -> ListenerFitState | None:
    """Where the stage on ``material`` stands in ``folder`` (None if it never started)."""
    decoder = read_half(material, folder, "decoder")
    loaded = _load(_path(folder, settings), decoder) if decoder is not None else None
    return loaded[0] if loaded is not None else None


def fit_listener_stage(material: Sequence[ClipMaterial], folder: Path, settings: EmotionFitSettings | None = None,
                       *, progress: bool = True, stop_after_steps: int | None = None) -> ListenerFitState:
    """Fit (or go on fitting) the decoder embeddings with the listener's term, from the finished decoder half."""
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
        state = ListenerFitState(decoder_state, settings.listener_steps)
    budget = stop_after_steps if stop_after_steps is not None else math.inf
    if state.done or budget <= 0:
        return state
    # models loaded only when there are steps to take (fit-emotions calls this on every run)
    states = WhisperStates()
    decoder, spectral = KokoroDecoder.from_float_graph(), MultiResolutionLogMel()
    # the references are neutral clips: the embeddings the stage moves do not enter them
    listener, references = _listener_and_references(material, folder, decoder_state, settings, decoder, states)
    projection = (_speaker_projection(material, folder, decoder_state, settings, states)
                  if settings.speaker_weight else None)
    styles = state.decoder.styles
    styles.requires_grad_(False)
    styles.embedding.requires_grad_(True)  # the decoder reads dims 0-127 only: the prosody half gets no gradient
    rate = settings.learning_rate / 2  # half the halves': the stage starts from a fitted embedding
    optimiser = torch.optim.Adam([styles.embedding], lr=rate)
    if optimiser_state is not None:
        optimiser.load_state_dict(optimiser_state)
    need = settings.crop_frames + 2 * settings.context_frames
    pool = _sampler(material, lambda c: c.n_frames >= need and c.emotion != "neutral")
    with tqdm(total=state.total, initial=state.step, desc="fit listener stage", unit="step",
              disable=not progress) as bar:
        while not state.done and budget > 0:
            rng = np.random.default_rng([settings.seed, 5, state.step])
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(rate, state.step, state.total)
            optimiser.zero_grad()
            crops = [_crop(material[i], settings, rng) for i in _draw(pool, settings.clips_per_step, rng)]
            decoded, recorded = decode_crops(decoder, styles, crops, state.decoder.levels)
            pooled = states.pooled(decoded)
            logits = listener.logits(pooled, [references[c.clip.speaker] for c in crops])
            heard = torch.nn.functional.cross_entropy(
                logits, torch.tensor([LinearListener.target(c.clip.emotion) for c in crops]))
            state.heard.append(float(heard.detach()))
            loss = spectral(decoded, recorded) + settings.listener_weight * heard
            if projection is not None:
                kept = projection.distance(pooled, [references[c.clip.speaker].mean for c in crops]).mean()
                state.kept.append(float(kept.detach()))
                loss = loss + settings.speaker_weight * kept
            _take_step(state, loss, optimiser, bar)
            budget -= 1
            if state.step % settings.checkpoint_every == 0 or state.done or budget == 0:
                _save(path, state, optimiser)
                log.info("fit listener stage: step %d of %d, loss %.4f, cross-entropy %.4f (means of the last 20)",
                         state.step, state.total, np.mean(state.history[-20:]), np.mean(state.heard[-20:]))
    return state


def _listener_and_references(material, folder, decoder_state, settings, decoder, states):
    """The listener and the decoded references, cached in ``folder`` (they depend on the decoder
    half and the seed alone)."""
    cache = folder / "listener.npz"
    if cache.exists():
        with np.load(cache) as data:
            listener = LinearListener(data["mu"], data["sigma"], data["weights"], data["bias"])
            speakers = [str(s) for s in data["speakers"]]
            references = {s: SpeakerStatistics(data["ref_mean"][i], data["ref_sd"][i]) for i, s in enumerate(speakers)}
        return listener, references
    listener, pooled_sd, report = train_listener(material, decoder_state, settings, states)
    references = _references(material, decoder_state, settings, decoder, states, pooled_sd)
    speakers = sorted(references)
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, mu=listener.mu, sigma=listener.sigma, weights=listener.weights, bias=listener.bias,
                     speakers=np.array(speakers), ref_mean=np.stack([references[s].mean for s in speakers]),
                     ref_sd=np.stack([references[s].sd for s in speakers]), report=np.array(str(report)))
    return listener, references


def _speaker_projection(material, folder, decoder_state, settings, states) -> SpeakerProjection:
    """The fitting speakers' projection, from the listener's crops of their recordings (cached in
    ``folder``: it depends on the decoder half's levels and the seed alone)."""
    cache = folder / "speaker.npz"
    if cache.exists():
        with np.load(cache) as data:
            return SpeakerProjection(data["centre"], data["scale"], data["matrix"])
    x, crops = _recorded_features(material, decoder_state, settings, states)
    projection = SpeakerProjection.fit(x, [c.speaker for c, _ in crops])
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, centre=projection.centre, scale=projection.scale, matrix=projection.matrix)
    return projection


def _save(path: Path, state: ListenerFitState, optimiser: torch.optim.Optimizer) -> None:
    record = {"speakers": state.decoder.styles.speakers, "embedding": state.decoder.styles.embedding.detach().clone(),
              "total": state.total, "step": state.step, "history": state.history, "heard": state.heard, "kept": state.kept,
              "optimiser": optimiser.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def _load(path: Path, decoder: FitState) -> tuple[ListenerFitState, dict] | None:
    if not path.exists():
        return None
    record = torch.load(path, weights_only=True)
    if record["speakers"] != decoder.styles.speakers:
        raise ValueError(f"{path} was fitted on other speakers; remove it to start again")
    with torch.no_grad():
        decoder.styles.embedding.copy_(record["embedding"])
    return (ListenerFitState(decoder, record["total"], record["step"], record["history"], record["heard"],
                             record.get("kept", [])),
            record["optimiser"])
