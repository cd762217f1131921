"""Each voice's emotion tokens, made from the learned embeddings (``emosynth fit-emotions``, step 2).

Sources, in this order:

1. **Learned embeddings** (``voices/emotions.json``, :mod:`emosynth.voice.learning`): one offset of
   Kokoro's style per emotion, fitted on human emotional speech; added to the voice's own neutral
   style, they are the token's ``style``.
2. **Human profiles** (:mod:`emosynth.profiles`): how RAVDESS actors of the voice's gender move F0
   level, F0 range, tempo and level from their neutral to each emotion (RAVDESS normal intensity).
   The embedding already moves some of these by itself (it was fitted on the same actors' F0,
   energy and durations), so the token's explicit controls are the *remainder*: the human profile
   minus what the embedding alone does on this voice, measured on its renditions of the fitting
   sentences the way the profiles measure actors (:func:`embedding_prosody`). Embedding and
   controls together then move the voice as far as the actors moved, not twice as far.
3. **The recognizer** (trained on human speech only): each token is then scaled by the factor
   ``alpha`` in ``ALPHA_GRID`` that maximises the recognizer's mean probability of the target
   emotion on the voice's renditions of ``FIT_SENTENCES``, read against the voice's own neutral
   renditions of them (the reference that is shipped with the voice). Larger factors are only
   taken when they gain at least ``MIN_GAIN`` in probability, so tokens stay as close to human
   behaviour as the judge allows.
4. **Constraints**: a factor is only eligible when the words stay intelligible, the speaker
   recognisable and the sound clean on those sentences: word error rate (Whisper tiny.en, extra
   ``asr``) at most ``MAX_WER_INCREASE`` above the voice's neutral renditions, mean speaker
   similarity to the neutral rendition of the same sentence (resemblyzer, extra ``speaker``) at
   least ``MIN_SPEAKER_SIMILARITY``, and mean predicted quality (DNSMOS OVRL, extra ``quality``)
   at most ``MAX_QUALITY_DROP`` below the neutral renditions'. Where no factor of the grid keeps
   all three, the smaller ``FALLBACK_ALPHAS`` are tried in turn and the first that keeps them is
   taken (the smallest tried, where none does): a weaker emotion rather than a broken voice.

The fitting sentences are emotionally neutral in wording and differ from RAVDESS's two sentences
and from the benchmark's sentences (benchmarks/bench_voice.py), which the tokens never see.
The recognizer used here is the shipped one; the benchmark's reported figures come from a
recognizer trained on other speakers (emosynth.voice.learning.split), which no fit ever sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..audio import Audio, prepare_array
from ..emotions import PRIMARY_EMOTIONS
from ..profiles import load_human_profiles
from ..recognizer import Recognizer, SpeakerReference
from .backbone import SAMPLE_RATE_HZ
from .emotion_contour import EmotionContour
from .prosody import EmotionEmbeddings, EmotionToken, EmotionTokenBank, ProsodyControls
from .references import write_reference
from .voices import Voice, VoiceInfo, assets_dir, reference_path

__all__ = ["FIT_SENTENCES", "ALPHA_GRID", "human_tokens", "embedding_prosody", "token_bank", "fit_voice", "FitResult",
           "FALLBACK_ALPHAS", "neutral_reference",
           "rendition_features", "choose_alpha", "Trial", "MAX_WER_INCREASE", "MIN_SPEAKER_SIMILARITY",
           "MAX_QUALITY_DROP", "keeps_constraints"]

FIT_SENTENCES: tuple[str, ...] = (
    "The meeting is on the second floor of the building.",
    "Please put the blue folder on the table by the window.",
    "The bus stops at the corner every twenty minutes.",
    "She moved the chairs into the other room this morning.",
    "The report has three parts and a short summary.",
    "We usually buy bread at the shop near the station.",
    "The garden is behind the house, next to the garage.",
    "He wrote the numbers on a sheet of paper.",
    "The library opens at nine and closes at six.",
    "They painted the fence white last summer.",
    "The package arrived on Tuesday afternoon.",
    "You can find the keys in the top drawer.",
)
ALPHA_GRID: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
#: Tried, largest first, only for an emotion where no alpha of the grid keeps the constraints, so
#: the voices whose every emotion fits the grid are fitted (and reproduce) exactly as without them.
FALLBACK_ALPHAS: tuple[float, ...] = (0.375, 0.25, 0.125)
#: A larger alpha must raise the mean target probability by at least this much to be chosen.
MIN_GAIN = 0.02
#: An eligible alpha's word error rate is at most this much above the voice's neutral one ...
MAX_WER_INCREASE = 0.03
#: ... its renditions' mean speaker similarity to the neutral ones at least this ...
MIN_SPEAKER_SIMILARITY = 0.80
#: ... and their mean DNSMOS OVRL at most this much below the neutral ones'. RAVDESS actors' own
#: emotional speech ranges from 0.20 below their neutral (sadness) to 0.22 above (docs/evaluation.md);
#: a larger drop is the decoder distorting (at raised F0 in some voices: DNSMOS SIG falls), not the emotion.
MAX_QUALITY_DROP = 0.20
_EMOTIONS = tuple(e for e in PRIMARY_EMOTIONS if e != "neutral")
_LEVEL = "normal"  # RAVDESS's normal intensity is our intensity 1.0; its strong one is 2-3x further


@dataclass(frozen=True)
class Trial:
    """What one alpha gives on the fitting sentences."""

    probability: float  # mean recognizer probability of the target
    wer: float  # corpus word error rate
    speaker_similarity: float  # mean over sentences, against the neutral rendition
    quality: float  # mean DNSMOS OVRL (1-5)

    def to_dict(self) -> dict[str, float]:
        return {"p": round(self.probability, 4), "wer": round(self.wer, 4),
                "speaker_similarity": round(self.speaker_similarity, 4), "quality": round(self.quality, 4)}


@dataclass(frozen=True)
class FitResult:
    tokens: EmotionTokenBank
    reference: SpeakerReference
    search: dict  # emotion -> {alpha: Trial}


def human_tokens(gender: str) -> dict[str, ProsodyControls]:
    """Explicit controls per emotion from the human profiles of actors of ``gender``."""
    profiles = load_human_profiles()
    out = {}
    for emotion in _EMOTIONS:
        stats = profiles[emotion].levels[_LEVEL]

        def mean(cue: str) -> float:
            s = stats[cue]
            value = s.male_mean if gender == "male" else s.female_mean
            return float(value if np.isfinite(value) else s.mean)

        out[emotion] = ProsodyControls(
            f0_shift_st=mean("f0_shift_st"),
            f0_range_log2=float(np.log2(mean("f0_range_ratio"))),
            tempo_log2=float(-np.log2(mean("duration_ratio"))),
            loudness_db=mean("level_diff_db"),
        )
    return out


def embedding_prosody(info: VoiceInfo, embeddings: EmotionEmbeddings, sentences: Sequence[str], *,
                      contour: EmotionContour | None = None, neutral: Sequence[np.ndarray] | None = None,
                      progress: Callable[[], None] | None = None) -> dict[str, ProsodyControls]:
    """What each learned embedding alone (scale 1, with the emotion's F0 contour when ``contour``
    is given, no explicit controls) does to the voice's F0
    level, F0 range, tempo and level, in the controls' units: each sentence's rendition measured
    against the voice's neutral rendition of it with the human profiles' measure (Harvest F0),
    then averaged over sentences (differences arithmetically, ratios geometrically, as the
    profiles average clips). ``neutral``: the neutral renditions, when already made."""
    from ..profiles.measure import measure_clip

    zero = ProsodyControls()
    bank = token_bank(embeddings, dict.fromkeys(_EMOTIONS, zero), dict.fromkeys(_EMOTIONS, 1.0), {}, contour)
    voice = _voice(info, bank)
    if neutral is None:
        neutral = renditions(voice, sentences, progress=progress)
    base = [measure_clip(a, SAMPLE_RATE_HZ) for a in neutral]
    out = {}
    for emotion in _EMOTIONS:
        moved = [measure_clip(a, SAMPLE_RATE_HZ) for a in renditions(voice, sentences, emotion=emotion, progress=progress)]
        out[emotion] = ProsodyControls(
            f0_shift_st=float(np.mean([m.f0_median_st - b.f0_median_st for m, b in zip(moved, base)])),
            f0_range_log2=float(np.mean([np.log2(m.f0_range_st / b.f0_range_st) for m, b in zip(moved, base)])),
            tempo_log2=float(np.mean([np.log2(b.duration_s / m.duration_s) for m, b in zip(moved, base)])),
            loudness_db=float(np.mean([m.level_db - b.level_db for m, b in zip(moved, base)])),
        )
    return out


def _voice(info: VoiceInfo, tokens: EmotionTokenBank) -> Voice:
    """The catalogued voice alone with ``tokens``, no shipped reference (the fit is making it)."""
    return Voice(name=info.name, parts=((info, 1.0),), tokens=tokens, reference=None)


def token_bank(embeddings: EmotionEmbeddings, controls: dict[str, ProsodyControls], alphas: dict[str, float],
               info: dict, contour: EmotionContour | None = None) -> EmotionTokenBank:
    """Each emotion's token: alpha x (its embedding, its controls and, with ``contour``, its contour vector)."""
    return EmotionTokenBank(
        tokens={e: EmotionToken(style=alphas[e] * embeddings.offsets[e], controls=alphas[e] * controls[e],
                                contour=alphas[e] * contour.vectors[e] if contour is not None else np.zeros(0))
                for e in _EMOTIONS},
        info=info)


def fit_voice(
    info: VoiceInfo,
    *,
    recognizer: Recognizer,
    embeddings: EmotionEmbeddings,
    contour: EmotionContour | None = None,
    sentences: Sequence[str] = FIT_SENTENCES,
    progress: Callable[[], None] | None = None,
) -> FitResult:
    """Reference and tokens for one catalogued voice (see the module docstring). Needs the extras
    ``asr``, ``speaker`` and ``quality`` for the constraints. ``contour``: the shipped emotion
    contour (voices/emotion_contour.npz, whose network the synthesizer runs), to give each token
    its vector scaled by the same alpha; None leaves the voice without one."""
    from ..evaluation.asr import Transcriber
    from ..evaluation.metrics import word_error_rate
    from ..evaluation.quality import QualityEstimator
    from ..evaluation.speaker import SpeakerEncoder, cosine_similarity

    # a missing extra fails before any work
    transcriber, encoder, estimator = Transcriber(), SpeakerEncoder(), QualityEstimator()
    human = human_tokens(info.gender)

    def assess(audios: Sequence[np.ndarray]) -> tuple[np.ndarray, float, np.ndarray, float]:
        """Recognizer features, corpus WER, speaker embeddings and mean DNSMOS OVRL of every sentence."""
        features = _features(recognizer, audios)
        at_16k = [prepare_array(a, SAMPLE_RATE_HZ, target_rate_hz=16_000).samples for a in audios]
        errors, words = np.sum([word_error_rate(t, transcriber.transcribe(a)) for t, a in zip(sentences, at_16k)], axis=0)
        quality = float(np.mean([estimator.score(a).overall for a in at_16k]))
        return features, float(errors / words), np.stack([encoder.embed(a) for a in at_16k]), quality

    neutral_audio = renditions(_voice(info, EmotionTokenBank(tokens={})), sentences, progress=progress)
    neutral_features, neutral_wer, neutral_speaker, neutral_quality = assess(neutral_audio)
    effect = embedding_prosody(info, embeddings, sentences, contour=contour, neutral=neutral_audio, progress=progress)
    controls = {e: human[e] - effect[e] for e in _EMOTIONS}

    def render(alpha: float, emotion: str) -> tuple[np.ndarray, float, np.ndarray, float]:
        bank = token_bank(embeddings, controls, dict.fromkeys(_EMOTIONS, alpha), {"voice": info.name}, contour)
        return assess(renditions(_voice(info, bank), sentences, emotion=emotion, progress=progress))

    reference = recognizer.reference_from_features(neutral_features)

    def trial(alpha: float, emotion: str) -> Trial:
        features, wer, speaker, quality = render(alpha, emotion)
        k = PRIMARY_EMOTIONS.index(emotion)
        scores = recognizer.score_features(features, reference=reference)
        return Trial(probability=float(np.mean([s.probability_vector()[k] for s in scores])), wer=wer,
                     speaker_similarity=float(np.mean([cosine_similarity(a, b) for a, b in zip(speaker, neutral_speaker)])),
                     quality=quality)

    search: dict[str, dict[float, Trial]] = {}
    for emotion in _EMOTIONS:
        search[emotion] = {alpha: trial(alpha, emotion) for alpha in ALPHA_GRID}
        for alpha in FALLBACK_ALPHAS:
            if any(keeps_constraints(t, neutral_wer, neutral_quality) for t in search[emotion].values()):
                break
            search[emotion][alpha] = trial(alpha, emotion)
    alphas = {e: choose_alpha(search[e], neutral_wer, neutral_quality) for e in _EMOTIONS}
    fit_info = {
        "voice": info.name, "method": "the learned emotion embeddings (voices/emotions.json) added to the voice's "
        f"neutral style, with controls for what remains of the human profile (RAVDESS normal intensity, {info.gender} "
        "actors) after the embedding's own effect on this voice, both scaled by the recognizer-chosen alpha, "
        "within the WER, speaker-similarity and quality constraints"
        + (", with the emotion's F0 contour (voices/emotion_contour.npz) scaled alike" if contour is not None else ""),
        "alpha": alphas,
        "embedding_prosody": {e: c.to_dict() for e, c in effect.items()},
        "constraints": {"max_wer_increase": MAX_WER_INCREASE, "min_speaker_similarity": MIN_SPEAKER_SIMILARITY,
                        "max_quality_drop": MAX_QUALITY_DROP, "neutral_wer": round(neutral_wer, 4),
                        "neutral_quality": round(neutral_quality, 4)},
        "search": {e: {str(a): t.to_dict() for a, t in s.items()} for e, s in search.items()},
        "sentences": list(sentences), "data_licence": "profiles derived from RAVDESS, CC BY-NC-SA 4.0",
    }
    return FitResult(tokens=token_bank(embeddings, controls, alphas, fit_info, contour), reference=reference, search=search)


def renditions(voice: Voice, sentences: Sequence[str], *, emotion: str = "neutral",
               progress: Callable[[], None] | None = None) -> list[np.ndarray]:
    """``voice`` reading each sentence with ``emotion`` (audio at the backbone's rate)."""
    from ..synthesizer import Synthesizer

    synth = Synthesizer(voice)
    out = []
    for text in sentences:
        out.append(synth.say(text, emotion=emotion, score=False).audio)
        if progress:
            progress()
    return out


def rendition_features(voice: Voice, recognizer: Recognizer, sentences: Sequence[str], *,
                       emotion: str = "neutral", progress: Callable[[], None] | None = None) -> np.ndarray:
    """Recognizer features (n, F) of ``voice`` reading each sentence with ``emotion``."""
    return _features(recognizer, renditions(voice, sentences, emotion=emotion, progress=progress))


def _features(recognizer: Recognizer, audios: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack([recognizer.features(Audio(a, SAMPLE_RATE_HZ)) for a in audios])  # resampled there


def neutral_reference(voice: Voice, recognizer: Recognizer, sentences: Sequence[str] = FIT_SENTENCES, *,
                      progress: Callable[[], None] | None = None) -> SpeakerReference:
    """The recognizer's reference for ``voice``'s neutral renditions of ``sentences``: how the
    shipped references are made, and how a blend's is (:mod:`emosynth.voice.references`)."""
    return recognizer.reference_from_features(rendition_features(voice, recognizer, sentences, progress=progress))


def keeps_constraints(trial: Trial, neutral_wer: float, neutral_quality: float) -> bool:
    """Words, speaker and sound kept (module docstring, step 3)."""
    return (trial.wer <= neutral_wer + MAX_WER_INCREASE + 1e-9 and trial.speaker_similarity >= MIN_SPEAKER_SIMILARITY
            and trial.quality >= neutral_quality - MAX_QUALITY_DROP - 1e-9)


def choose_alpha(trials: dict[float, Trial], neutral_wer: float, neutral_quality: float) -> float:
    """Among the alphas tried that keep the constraints, in increasing order, each one that raises
    the target probability by MIN_GAIN over the best so far; the smallest tried when none keeps them."""
    eligible = [a for a in sorted(trials) if keeps_constraints(trials[a], neutral_wer, neutral_quality)]
    if not eligible:
        return min(trials)
    best = eligible[0]
    for alpha in eligible[1:]:
        if trials[alpha].probability >= trials[best].probability + MIN_GAIN:
            best = alpha
    return best


def save_fit(result: FitResult, name: str) -> None:
    """Write the voice's tokens and reference into voices/ (atomically)."""
    result.tokens.save(assets_dir() / "tokens" / f"{name}.json")
    write_reference(reference_path(name), result.reference)
