"""End to end on the real Kokoro model: text and an emotion in, audio with timings out."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emosynth.errors import EmotionSpecError
from emosynth.errors import AudioError
from emosynth.synthesizer import Synthesizer
from emosynth.voice.backbone import SAMPLE_RATE_HZ
from emosynth.voice.errors import TextError, VoiceError

TEXT = "The package arrived on Tuesday. It is on the table by the door."


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return Synthesizer("kumo")


@pytest.fixture(scope="module")
def neutral(synth):
    return synth.say(TEXT, emotion="neutral")


def _voiced_median_st(f0_hz: np.ndarray) -> float:
    voiced = f0_hz[f0_hz > 0]
    return float(12 * np.log2(np.median(voiced) / 100.0))


def test_utterance_has_audio_sample_exact_timings_and_f0(neutral):
    u = neutral
    assert u.sample_rate_hz == 24_000 and u.audio.dtype == np.float32 and u.duration_s > 2.0
    assert np.max(np.abs(u.audio)) <= 0.98 + 1e-6
    starts = [p.start_sample for p in u.phonemes]
    assert starts == sorted(starts)
    assert all(p.end_sample > p.start_sample for p in u.phonemes)
    assert u.phonemes[-1].end_sample <= len(u.audio)
    # Every phoneme span is a whole number of model frames (600 samples).
    assert all((p.end_sample - p.start_sample) % 600 == 0 for p in u.phonemes)
    assert len(u.f0_hz) == -(-len(u.audio) // 300) and u.f0_step_s == 0.0125
    assert len(u.chunks) == 2 and u.emotion.intensity == 0
    assert u.scores is not None and abs(sum(u.scores.probabilities.values()) - 1) < 1e-9


def test_silence_between_sentences_has_no_phonemes_and_no_f0(neutral):
    u = neutral
    gaps = [(a.end_sample, b.start_sample) for a, b in zip(u.phonemes, u.phonemes[1:]) if b.start_sample - a.end_sample > 2400]
    assert gaps, "a sentence pause of at least 0.1 s is expected"
    start, end = gaps[0]
    assert np.max(np.abs(u.audio[start + 1200:end - 1200])) < 1e-6  # the inserted pause is silent
    assert np.all(u.f0_hz[(start + 1200) // 300:(end - 1200) // 300] == 0)


def test_the_audio_follows_the_prosody_plan(synth):
    """F0 and timing measured on the output move as the emotion's explicit controls ask, on top of
    what the learned embedding (and contour) does by itself: the same tokens with their F0
    controls zeroed for the F0 (same timing, since Kokoro's F0 depends on the durations), and with
    every control zeroed for the timing."""
    from emosynth.voice.prosody import EmotionToken, EmotionTokenBank, ProsodyControls

    def with_controls(keep) -> Synthesizer:
        tokens = {e: EmotionToken(style=t.style, controls=keep(t.controls), contour=t.contour)
                  for e, t in synth.voice.tokens.tokens.items()}
        return Synthesizer(dataclasses.replace(synth.voice, tokens=EmotionTokenBank(tokens=tokens)))

    plan = synth.plan("anger:1.5")
    angry = synth.say(TEXT, emotion="anger:1.5", score=False)
    same_timing = with_controls(lambda c: ProsodyControls(tempo_log2=c.tempo_log2, loudness_db=c.loudness_db))
    f0_zeroed = same_timing.say(TEXT, emotion="anger:1.5", score=False)
    shift = _voiced_median_st(angry.f0_hz) - _voiced_median_st(f0_zeroed.f0_hz)
    assert abs(shift - plan.controls.f0_shift_st) < 1.0
    embedding_only = with_controls(lambda c: ProsodyControls()).say(TEXT, emotion="anger:1.5", score=False)
    spoken = lambda u: sum(p.end_sample - p.start_sample for p in u.phonemes)  # noqa: E731
    ratio = spoken(angry) / spoken(embedding_only)
    assert ratio == pytest.approx(plan.controls.duration_factor, rel=0.06)


def test_loudness_offsets_survive_the_peak_limit(synth, neutral):
    """A louder emotion is louder in the output: the headroom keeps the limiter from undoing it."""
    from emosynth.voice.prosody import EmotionToken, EmotionTokenBank, ProsodyControls

    loud = {e: EmotionToken(style=np.zeros(256), controls=ProsodyControls(loudness_db=4.5))
            for e in synth.voice.tokens.tokens}
    voice = dataclasses.replace(synth.voice, tokens=EmotionTokenBank(tokens=loud))
    louder = Synthesizer(voice).say(TEXT, emotion="anger", score=False)
    rms = lambda a: float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))  # noqa: E731
    assert 20 * np.log10(rms(louder.audio) / rms(neutral.audio)) == pytest.approx(4.5, abs=0.1)
    assert np.max(np.abs(louder.audio)) <= 0.98 + 1e-6


@pytest.mark.parametrize("voice", ["kumo", "alpha", "gongitsune", "nezumi", "tebukuro"])
def test_tokens_are_the_learned_embeddings_and_the_rest_of_the_human_controls_scaled_together(voice):
    """Every shipped token is alpha x (the learned embedding, and controls for what the embedding
    leaves of the human profile: the profile of RAVDESS actors of the voice's gender minus the
    embedding's own measured effect on the voice) for the alpha the fit chose."""
    from emosynth.voice.fitting import ALPHA_GRID, FALLBACK_ALPHAS, human_tokens
    from emosynth.voice.prosody import EmotionEmbeddings, ProsodyControls
    from emosynth.voice.voices import assets_dir, emotion_contour, load_voice, voice_catalog

    human = human_tokens(voice_catalog()[voice].gender)
    contour = emotion_contour()
    embeddings = EmotionEmbeddings.load(assets_dir() / "emotions.json")
    bank = load_voice(voice).tokens
    assert "what remains of the human profile" in bank.info["method"]
    for emotion, token in bank.tokens.items():
        alpha = bank.info["alpha"][emotion]
        assert alpha in ALPHA_GRID + FALLBACK_ALPHAS
        effect = ProsodyControls(**bank.info["embedding_prosody"][emotion])
        np.testing.assert_allclose(token.controls.as_tuple(), (alpha * (human[emotion] - effect)).as_tuple(), atol=2e-3)
        np.testing.assert_allclose(token.style, alpha * embeddings.offsets[emotion], atol=1e-5)
        if token.contour.size:  # fitted with the emotion's F0 contour: its vector, scaled alike
            np.testing.assert_allclose(token.contour, alpha * contour.vectors[emotion], atol=1e-5)


def test_embedding_prosody_measures_what_the_embedding_alone_does():
    """A zero embedding moves nothing (the renditions are the neutral ones, exactly); kumo's learned
    fear raises its F0 by itself, which the controls then need not add again."""
    pytest.importorskip("pyworld", reason="the F0 measure needs the extra `profiles`")
    from emosynth.voice.fitting import embedding_prosody
    from emosynth.voice.prosody import EmotionEmbeddings
    from emosynth.voice.voices import assets_dir, voice_catalog

    info = voice_catalog()["kumo"]
    sentences = ["The train leaves from the third platform at noon."]
    learned = EmotionEmbeddings.load(assets_dir() / "emotions.json")
    zero = EmotionEmbeddings(offsets={e: np.zeros(256) for e in learned.offsets})
    for controls in embedding_prosody(info, zero, sentences).values():
        assert controls.as_tuple() == (0.0, 0.0, 0.0, 0.0)
    fear = embedding_prosody(info, learned, sentences)["fear"]
    assert fear.f0_shift_st > 3.0, fear


@pytest.mark.parametrize("emotion", ["joy", "fear"])
def test_embedding_and_controls_together_move_f0_as_far_as_the_actors_did(emotion):
    """The embedding (and the contour, where the token has one) moves F0 by itself, so the
    controls add only the rest: at full strength
    (the token without its alpha) kumo's joy and fear, the emotions whose embedding moves F0 most,
    lie near the human profile on sentences the fit never read (counted twice, they were 2-3x as far)."""
    pytest.importorskip("pyworld", reason="the F0 measure needs the extra `profiles`")
    from emosynth.profiles.measure import measure_clip
    from emosynth.voice.fitting import human_tokens
    from emosynth.voice.prosody import EmotionToken, EmotionTokenBank
    from emosynth.voice.voices import Voice, load_voice

    shipped = load_voice("kumo")
    token = shipped.tokens.tokens[emotion]
    alpha = shipped.tokens.info["alpha"][emotion]
    full = EmotionTokenBank(tokens={emotion: EmotionToken(
        style=token.style / alpha, controls=(1 / alpha) * token.controls, contour=token.contour / alpha)})
    synth = Synthesizer(Voice(name="kumo", parts=shipped.parts, tokens=full, reference=None))
    sentences = ["The train leaves from the third platform at noon.", "My brother keeps his bicycle in the hall."]
    shifts = [measure_clip(synth.say(t, emotion=emotion, score=False).audio, SAMPLE_RATE_HZ).f0_median_st
              - measure_clip(synth.say(t, score=False).audio, SAMPLE_RATE_HZ).f0_median_st for t in sentences]
    target = human_tokens(shipped.parts[0][0].gender)[emotion].f0_shift_st
    # 2.5 st: the contour's effect on the median varies by sentence (+0.2 to +2 st for fear on kumo,
    # whose fear lands about 2 st above the actors' at full strength), and a sentence's median moves
    # by up to 0.6 st with onnxruntime's thread count (fear, the second sentence: 5.45 st on 2 threads,
    # 6.05 on one, 2026-12-07). Counted twice, the controls were 2-3x as far.
    assert abs(np.mean(shifts) - target) < 2.5, (shifts, target)


def test_the_embeddings_were_fitted_on_the_fitting_speakers_only():
    """The shipped embeddings record their speakers: all on the fitting side, so the benchmark's
    judge (trained on the other side) never heard them; and their held-out sentences' report."""
    pytest.importorskip("torch", reason="the split is defined beside the fit, which needs torch (extra: fit)")
    from emosynth.voice.learning.split import FIT_SPEAKERS, HELD_OUT_SENTENCES
    from emosynth.voice.prosody import EmotionEmbeddings
    from emosynth.voice.voices import assets_dir

    info = EmotionEmbeddings.load(assets_dir() / "emotions.json").info
    assert set(info["speakers"]) == FIT_SPEAKERS
    assert set(info["held_out_sentences"]) == HELD_OUT_SENTENCES
    assert set(info["halves"]) == {"prosody", "decoder"}
    assert all(h["steps"] == h["of"] for h in info["halves"].values())
    assert set(info["held_out"]["by_emotion"]) == {"joy", "sadness", "anger", "fear", "surprise"}  # nEMO: no disgust


@pytest.mark.parametrize("voice", ["kumo", "alpha", "gongitsune", "nezumi", "tebukuro"])
def test_shipped_tokens_keep_the_words_the_speaker_and_the_sound(voice):
    """The fit recorded each alpha's WER, speaker similarity and quality; the chosen one keeps all
    three limits (or is the smallest tried, where none did: the grid's, then the fallbacks')."""
    from emosynth.voice.fitting import ALPHA_GRID, FALLBACK_ALPHAS, Trial, keeps_constraints
    from emosynth.voice.voices import load_voice

    info = load_voice(voice).tokens.info
    limits = info["constraints"]
    for emotion, alpha in info["alpha"].items():
        c = info["search"][emotion][str(alpha)]
        chosen = Trial(c["p"], c["wer"], c["speaker_similarity"], c["quality"])
        kept = keeps_constraints(chosen, limits["neutral_wer"], limits["neutral_quality"])
        tried = sorted(float(a) for a in info["search"][emotion])
        assert set(tried) <= set(ALPHA_GRID + FALLBACK_ALPHAS), tried
        assert kept or alpha == tried[0], (emotion, alpha, chosen)
        # a fallback is only tried when nothing larger kept the limits
        for a in set(tried) & set(FALLBACK_ALPHAS):
            larger = [info["search"][emotion][str(b)] for b in tried if b > a]
            assert not any(keeps_constraints(Trial(c["p"], c["wer"], c["speaker_similarity"], c["quality"]),
                                             limits["neutral_wer"], limits["neutral_quality"]) for c in larger)


def test_emotion_embeddings_round_trip_and_bad_files_are_clear_errors(tmp_path):
    from emosynth.errors import ModelError
    from emosynth.voice.prosody import EmotionEmbeddings

    offsets = {e: np.linspace(-1, 1, 256) * (i + 1) for i, e in enumerate(
        ("joy", "sadness", "anger", "fear", "disgust", "surprise"))}
    EmotionEmbeddings(offsets, {"note": "test"}).save(tmp_path / "e.json")
    back = EmotionEmbeddings.load(tmp_path / "e.json")
    assert back.info == {"note": "test"}
    for e, v in offsets.items():
        np.testing.assert_allclose(back.offsets[e], v, atol=1e-6)
    (tmp_path / "short.json").write_text('{"offsets": {"joy": [0.0, 1.0]}}')
    (tmp_path / "junk.json").write_text("not json")
    for name, message in (("short.json", "needs a 256-d offset for each of"), ("junk.json", "not an emotion-embedding"),
                          ("none.json", "no such emotion-embedding file")):
        with pytest.raises(ModelError, match=message):
            EmotionEmbeddings.load(tmp_path / name)


def test_alpha_is_the_recognizers_choice_within_the_constraints():
    from emosynth.voice.fitting import Trial, choose_alpha

    trials = {0.5: Trial(0.10, 0.05, 0.95, 3.2), 0.75: Trial(0.20, 0.05, 0.90, 3.2), 1.0: Trial(0.50, 0.10, 0.90, 3.2),
              1.5: Trial(0.70, 0.05, 0.79, 3.2), 2.0: Trial(0.61, 0.05, 0.85, 3.1)}
    # 1.0 loses words (0.10 > 0.05 + 0.03), 1.5 loses the speaker (0.79 < 0.80): 2.0 is the best that keeps all
    assert choose_alpha(trials, neutral_wer=0.05, neutral_quality=3.3) == 2.0
    # ... unless it loses the sound (3.05 < 3.3 - 0.2)
    assert choose_alpha({**trials, 2.0: Trial(0.61, 0.05, 0.85, 3.05)}, neutral_wer=0.05, neutral_quality=3.3) == 0.75
    assert choose_alpha({**trials, 2.0: Trial(0.21, 0.05, 0.85, 3.2)}, neutral_wer=0.05,
                        neutral_quality=3.3) == 0.75  # gains < 0.02 do not count
    assert choose_alpha({a: Trial(0.9, 0.5, 0.5, 1.0) for a in trials}, neutral_wer=0.05,
                        neutral_quality=3.3) == 0.5  # none keeps them
    # a fallback alpha that keeps them is taken over grid alphas that do not
    broken = {a: Trial(0.9, 0.05, 0.85, 2.9) for a in trials}
    assert choose_alpha({**broken, 0.25: Trial(0.3, 0.05, 0.9, 3.2)}, neutral_wer=0.05, neutral_quality=3.3) == 0.25


def test_intensity_zero_is_neutral_and_negation_mirrors(synth, neutral):
    zero = synth.say(TEXT, emotion="joy:0")
    np.testing.assert_array_equal(zero.audio, neutral.audio)
    joy, minus = synth.plan("joy:0.5").controls, synth.plan("-joy:0.5").controls
    np.testing.assert_allclose(joy.as_tuple(), [-v for v in minus.as_tuple()])
    mix = synth.plan("joy:0.5,surprise:0.5").controls
    half = [(a + b) / 2 for a, b in zip(synth.plan("joy").controls.as_tuple(), synth.plan("surprise").controls.as_tuple())]
    np.testing.assert_allclose(mix.as_tuple(), half)


def test_stream_yields_the_chunks_say_joins(synth, neutral):
    chunks = list(synth.stream(TEXT, emotion="neutral"))
    assert [c.text for c in chunks] == list(neutral.chunks)
    assert sum(len(c.audio) for c in chunks) == len(neutral.audio)
    assert sum(len(c.phonemes) for c in chunks) == len(neutral.phonemes)


def test_blend_sits_between_its_voices():
    text = "The library opens at nine."
    f0 = {v: _voiced_median_st(Synthesizer(v).say(text, score=False).f0_hz) for v in ("kumo", "alpha", "kumo:0.5,alpha:0.5")}
    assert f0["kumo"] < f0["kumo:0.5,alpha:0.5"] < f0["alpha"]


def test_save_writes_wav_and_flac_atomically(neutral, tmp_path):
    for name in ("out.wav", "out.flac"):
        path = neutral.save(tmp_path / name)
        data, rate = sf.read(path)
        assert rate == 24_000 and len(data) == len(neutral.audio)
    with pytest.raises(AudioError, match="accepted: .wav, .flac"):
        neutral.save(tmp_path / "out.mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.flac", "out.wav"]
    assert json.loads(json.dumps(neutral.to_dict()))["phonemes"][0]["start_sample"] == neutral.phonemes[0].start_sample


def test_bad_input_gets_specific_errors(synth):
    with pytest.raises(TextError):
        synth.say("   ")
    with pytest.raises(EmotionSpecError, match="joy"):
        synth.say(TEXT, emotion="joi")
    with pytest.raises(VoiceError, match="unknown voice"):
        Synthesizer("robot")


def test_cli_say_writes_audio_and_sidecar(tmp_path):
    out = tmp_path / "hello.wav"
    run = subprocess.run([sys.executable, "-m", "emosynth", "say", "Hello there, my friend.", "--emotion", "joy:0.7",
                          "--out", str(out), "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "recognizer hears:" in run.stdout
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["emotion"]["text"] == "joy:0.7" or sidecar["emotion"]["text"].startswith("joy:0.7")
    assert sidecar["phonemes"] and sidecar["scores"]["label"] in sidecar["scores"]["probabilities"]
    assert sf.info(str(out)).samplerate == 24_000


def test_cli_say_bad_emotion_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "x.wav"
    run = subprocess.run([sys.executable, "-m", "emosynth", "say", "Hi.", "--emotion", "suprise", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "surprise" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


def test_a_token_far_beyond_its_fit_still_gives_finite_audio(synth):
    """tebukuro's fit tried surprise at twice its token with the contour and got NaN audio (F0 at
    10^8 Hz): the contour's shift and the edited F0 are bounded, so even a contour vector four
    times the largest shipped one gives finite audio at a bounded F0."""
    from emosynth.voice.contours import F0_MAX_HZ
    from emosynth.voice.prosody import EmotionToken, EmotionTokenBank
    from emosynth.voice.voices import emotion_contour

    contour = emotion_contour()
    extreme = {e: EmotionToken(style=2.0 * t.style, controls=2.0 * t.controls, contour=4.0 * contour.vectors[e])
               for e, t in synth.voice.tokens.tokens.items()}
    voice = dataclasses.replace(synth.voice, tokens=EmotionTokenBank(tokens=extreme))
    for emotion in ("surprise:1.5", "fear:1.5"):
        u = Synthesizer(voice).say(TEXT, emotion=emotion, score=False)
        assert np.all(np.isfinite(u.audio)) and np.abs(u.audio).max() > 0.05
        assert u.f0_hz.max() <= F0_MAX_HZ


def test_a_voice_with_contour_vectors_reshapes_its_f0_and_nothing_else(synth):
    """Tokens that carry the emotion contour's vectors (voices/emotion_contour.npz) change the
    voiced F0 of an emotion, not its timing or which steps are voiced, and leave neutral alone."""
    from emosynth.voice.prosody import EmotionToken, EmotionTokenBank
    from emosynth.voice.voices import emotion_contour

    contour = emotion_contour()
    with_contour = {e: EmotionToken(style=t.style, controls=t.controls, contour=contour.vectors[e])
                    for e, t in synth.voice.tokens.tokens.items()}
    without = {e: EmotionToken(style=t.style, controls=t.controls) for e, t in synth.voice.tokens.tokens.items()}
    shaped, plain = (Synthesizer(dataclasses.replace(synth.voice, tokens=EmotionTokenBank(tokens=tokens)))
                     for tokens in (with_contour, without))
    a, b = (s.say(TEXT, emotion="surprise", score=False) for s in (shaped, plain))
    assert [p.start_sample for p in a.phonemes] == [p.start_sample for p in b.phonemes]
    voiced = (a.f0_hz > 40) & (b.f0_hz > 40)
    shift = np.log(a.f0_hz[voiced] / b.f0_hz[voiced])
    assert np.abs(shift).max() > 0.02  # moved by more than a third of a semitone somewhere
    # unvoiced steps stay unvoiced (a step on the 20-40 Hz ramp into voicing may cross the 40 Hz line)
    assert np.mean((a.f0_hz > 0) != (b.f0_hz > 0)) < 0.02
    assert shaped.plan("surprise").contour.shape == contour.vectors["surprise"].shape
    np.testing.assert_array_equal(shaped.say(TEXT, emotion="neutral", score=False).audio,
                                  plain.say(TEXT, emotion="neutral", score=False).audio)
