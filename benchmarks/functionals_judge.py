"""A third judge that shares nothing with Whisper: acoustic functionals and a linear classifier.

bench_emotion_carry's listener stage teaches the decoder embeddings through a listener on Whisper
tiny.en; the disjoint judge reads Whisper tiny.en and base, the second judge base alone. A judge
on hand-made acoustic measures (the kind of eGeMAPS, written here with librosa and pyworld, no
neural network) cannot be fooled by a perturbation that only Whisper's encoders pick up, so where
it also hears an emotion, the sound carries it. It is weaker than the Whisper judges (about 0.55
UA on held-out actors, as eGeMAPS was: docs/recognizer.md), trained the same way: on the
judge-side speakers only, clean recordings, plain and against the speaker's neutral, C by
speaker-grouped CV (emosynth.recognizer.train.fit_weights).

Per clip at 16 kHz, over frames within 40 dB of its loudest: 20 MFCCs and their deltas (mean,
std), spectral centroid, bandwidth, roll-off, flatness and 7-band contrast (mean, std), level in
dB (mean, std, 10th and 90th percentile), alpha ratio and Hammarberg index (mean), log F0 on
voiced frames (mean, std, 10th and 90th percentile, voiced share, std of its steps).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from emosynth.audio import Audio, load_audio
from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.io import atomic_path, cache_dir
from emosynth.recognizer import Recognizer
from emosynth.recognizer.corpus import read_corpora
from emosynth.recognizer.dataset import CLEAN, CorpusFeatures
from emosynth.recognizer.train import fit_weights

RATE = 16_000
_HOP, _N_FFT = 160, 512
FEATURE_SET = "functionals"


class Functionals:
    """An extractor for :class:`~emosynth.recognizer.Recognizer`: 16 kHz audio -> (F,) functionals."""

    feature_set = FEATURE_SET

    def __call__(self, audio: Audio) -> np.ndarray:
        import librosa
        import pyworld

        x = audio.samples.astype(np.float64)
        s = np.abs(librosa.stft(x.astype(np.float32), n_fft=_N_FFT, hop_length=_HOP)) ** 2
        level = 10 * np.log10(s.sum(axis=0) + 1e-10)
        active = level > level.max() - 40
        mel = librosa.feature.melspectrogram(S=s, sr=RATE, n_mels=40)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
        delta = librosa.feature.delta(mfcc)
        spectral = np.vstack([librosa.feature.spectral_centroid(S=np.sqrt(s), sr=RATE),
                              librosa.feature.spectral_bandwidth(S=np.sqrt(s), sr=RATE),
                              librosa.feature.spectral_rolloff(S=np.sqrt(s), sr=RATE),
                              librosa.feature.spectral_flatness(S=np.sqrt(s)),
                              librosa.feature.spectral_contrast(S=np.sqrt(s), sr=RATE)])
        hz = librosa.fft_frequencies(sr=RATE, n_fft=_N_FFT)
        band = lambda lo, hi: s[(hz >= lo) & (hz < hi)]  # noqa: E731
        alpha = 10 * np.log10((band(1000, 5000).sum(axis=0) + 1e-10) / (band(50, 1000).sum(axis=0) + 1e-10))
        hammarberg = 10 * np.log10((band(0, 2000).max(axis=0) + 1e-10) / (band(2000, 5000).max(axis=0) + 1e-10))
        f0, t = pyworld.dio(x, RATE, frame_period=10.0)
        f0 = pyworld.stonemask(x, f0, t, RATE)
        voiced = np.log(f0[f0 > 0]) if (f0 > 0).sum() > 2 else np.zeros(3)
        frames = lambda m: m[:, active[: m.shape[1]]] if active[: m.shape[1]].any() else m  # noqa: E731
        parts = [frames(mfcc), frames(delta), frames(spectral)]
        out = [np.concatenate([p.mean(axis=1), p.std(axis=1)]) for p in parts]
        lv = level[active]
        out.append(np.array([lv.mean(), lv.std(), *np.percentile(lv, [10, 90]),
                             alpha[active].mean(), hammarberg[active].mean()]))
        out.append(np.array([voiced.mean(), voiced.std(), *np.percentile(voiced, [10, 90]),
                             float((f0 > 0).mean()), float(np.diff(voiced).std()) if len(voiced) > 2 else 0.0]))
        return np.concatenate(out)


def functionals_judge(data: list[Path]) -> Recognizer:
    """Trained on the judge side of the split only (its features cached; the fit takes seconds)."""
    from emosynth.voice.learning.split import JUDGE_SPEAKERS

    clips = sorted((c for c in read_corpora(data) if c.speaker in JUDGE_SPEAKERS), key=lambda c: str(c.path))
    key = hashlib.sha256("\n".join(str(c.path.resolve()) for c in clips).encode()).hexdigest()[:12]
    path = cache_dir() / "voice-judge" / f"functionals-{key}.npz"
    extractor = Functionals()
    if path.exists():
        x = np.load(path)["x"]
    else:
        from tqdm import tqdm

        x = np.stack([extractor(load_audio(c.path, target_rate_hz=RATE)) for c in tqdm(clips, desc="functionals")])
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, x=x)
    corpus = CorpusFeatures(features=x, emotions=np.array([PRIMARY_EMOTIONS.index(c.emotion) for c in clips]),
                            speakers=np.array([c.speaker for c in clips]), corpora=np.array([c.corpus for c in clips]),
                            channels=np.array([CLEAN] * len(clips)), paths=tuple(str(c.path) for c in clips))
    weights = fit_weights(corpus, feature_set=FEATURE_SET, info={"training_speakers": sorted(set(corpus.speakers.tolist()))})
    return Recognizer(weights, extractor=extractor)
