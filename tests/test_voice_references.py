"""Blends are judged against their own neutral reference, built like the shipped ones and cached."""

from __future__ import annotations

import numpy as np
import pytest

from emosynth.recognizer import Recognizer
from emosynth.synthesizer import Synthesizer
from emosynth.voice import fitting, references
from emosynth.voice.voices import load_reference, load_voice

BLEND = "kumo:0.6,alpha:0.4"
# Two of the reference sentences keep the test short; the sentences are part of the cache key.
SENTENCES = fitting.FIT_SENTENCES[:2]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(fitting, "FIT_SENTENCES", SENTENCES)
    return tmp_path / "emosynth" / "references"


@pytest.fixture()
def blend_utterance(cache, recognizer):
    synth = Synthesizer(BLEND, recognizer=recognizer)
    return synth, synth.say("The package arrived on Tuesday.", emotion="joy")


def test_cache_dir_respects_xdg_and_defaults_to_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert references.reference_cache_dir() == tmp_path / "xdg" / "emosynth" / "references"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert references.reference_cache_dir() == tmp_path / "home" / ".cache" / "emosynth" / "references"


def test_key_follows_exact_normalised_weights(recognizer):
    def key(spec: str, sentences=SENTENCES) -> str:
        return references.reference_key(load_voice(spec), recognizer, sentences)

    assert key(BLEND) == key("alpha:2,kumo:3")  # the same blend once normalised, in any order
    assert key(BLEND) != key("kumo:0.5,alpha:0.5")
    assert key(BLEND) != key("kumo:0.601,alpha:0.399")  # both named kumo:0.60,alpha:0.40
    assert key(BLEND) != key("kumo:0.6,nezumi:0.4")
    assert key(BLEND) != key(BLEND, fitting.FIT_SENTENCES[:3])


def test_single_voice_uses_its_shipped_reference(recognizer, cache):
    synth = Synthesizer("kumo", recognizer=recognizer)
    shipped = load_reference("kumo")
    assert shipped is not None and synth.reference is synth.voice.reference
    assert not cache.exists()  # nothing built for a voice that ships its reference


def test_blend_utterance_is_scored_against_its_own_neutral(blend_utterance, recognizer, cache):
    synth, utterance = blend_utterance
    assert utterance.scores is not None and utterance.scores.speaker_normalised
    blend_ref = synth.reference
    assert blend_ref.n_clips == len(SENTENCES) and np.all(np.isfinite(blend_ref.mean))
    # The same score as reading the clip against that reference by hand.
    by_hand = recognizer.score_array(utterance.audio, utterance.sample_rate_hz, reference=blend_ref)
    assert by_hand.probabilities == pytest.approx(utterance.scores.probabilities)
    # Its own neutral, not a component's: neither the shipped references nor the components'
    # references built from the same sentences.
    for name in ("kumo", "alpha"):
        built = fitting.neutral_reference(load_voice(name), recognizer, SENTENCES)
        for other in (load_reference(name), built):
            assert other is not None
            assert np.linalg.norm(blend_ref.mean - other.mean) > 1e-3 * np.linalg.norm(other.mean)
    # The reference was written to the cache, atomically (no temporary file left behind).
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].endswith(".npz")


def test_cached_reference_is_read_back_without_synthesis(blend_utterance, recognizer, monkeypatch):
    synth, _ = blend_utterance
    built = synth.reference

    def no_synthesis(*args, **kwargs):
        raise AssertionError("the cached reference should have been read")

    monkeypatch.setattr(fitting, "neutral_reference", no_synthesis)
    again = Synthesizer("alpha:0.4,kumo:0.6", recognizer=recognizer).reference
    np.testing.assert_array_equal(again.mean, built.mean)
    np.testing.assert_array_equal(again.sd, built.sd)
    assert again.n_clips == built.n_clips


def test_unreadable_cache_file_is_rebuilt(cache, recognizer):
    voice = load_voice(BLEND)
    path = cache / f"{references.reference_key(voice, recognizer, SENTENCES)}.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    ref = references.built_reference(voice, recognizer)
    assert ref.n_clips == len(SENTENCES)
    assert references.read_reference(path).n_clips == len(SENTENCES)


def test_fit_emotions_rebuilds_the_references_only(recognizer, cache, monkeypatch):
    """`emosynth fit-emotions --references-only` (after retraining the recognizer) writes each
    voice's reference, built as neutral_reference builds it, into voices/references/."""
    from click.testing import CliRunner

    from emosynth import cli
    from emosynth.voice.voices import reference_path

    written = {}
    # Capture the write instead of replacing the shipped file.
    monkeypatch.setattr(references, "write_reference", lambda path, ref: written.setdefault(path, ref))
    result = CliRunner().invoke(cli.cli, ["fit-emotions", "--references-only", "--voice", "kumo"])
    assert result.exit_code == 0, result.output
    assert list(written) == [reference_path("kumo")]
    reference = written[reference_path("kumo")]
    expected = fitting.neutral_reference(load_voice("kumo"), recognizer, SENTENCES)
    assert reference.n_clips == len(SENTENCES)
    np.testing.assert_allclose(reference.mean, expected.mean)
    np.testing.assert_allclose(reference.sd, expected.sd)
    # The shipped reference is the same recognizer's view of the twelve fitting sentences.
    assert load_reference("kumo").mean.shape == expected.mean.shape


def test_fit_emotions_fits_the_tokens_on_the_shipped_embeddings(recognizer, cache, monkeypatch):
    """`emosynth fit-emotions --tokens-only` makes a voice's tokens from the shipped embeddings and
    contour without refitting them (no --data): each token is alpha x (embedding, contour vector)
    with alpha from the grid, the alpha chosen by the recorded search, and the reference is the
    voice's neutral renditions'. One sentence and two alphas keep it short."""
    for module, extra in (("faster_whisper", "asr"), ("resemblyzer", "speaker"), ("speechmos", "quality")):
        pytest.importorskip(module, reason=f"the constraints need the {extra} extra")
    from click.testing import CliRunner

    from emosynth import cli
    from emosynth.voice.emotion_contour import EmotionContour
    from emosynth.voice.prosody import EmotionEmbeddings
    from emosynth.voice.voices import assets_dir

    monkeypatch.setattr(fitting, "FIT_SENTENCES", SENTENCES[:1])
    monkeypatch.setattr(fitting, "ALPHA_GRID", (0.5, 1.0))
    monkeypatch.setattr(fitting, "FALLBACK_ALPHAS", (0.25,))
    saved = {}
    monkeypatch.setattr(fitting, "save_fit", lambda result, name: saved.setdefault(name, result))  # not voices/
    result = CliRunner().invoke(cli.cli, ["fit-emotions", "--tokens-only", "--voice", "alpha"])
    assert result.exit_code == 0, result.output
    assert list(saved) == ["alpha"] and "alpha: alpha {" in result.output
    fit = saved["alpha"]
    embeddings = EmotionEmbeddings.load(assets_dir() / "emotions.json")
    contour = EmotionContour.load(assets_dir() / "emotion_contour.npz")
    info = fit.tokens.info
    assert info["sentences"] == list(SENTENCES[:1])
    for emotion, token in fit.tokens.tokens.items():
        alpha = info["alpha"][emotion]
        kept = [fitting.keeps_constraints(fitting.Trial(c["p"], c["wer"], c["speaker_similarity"], c["quality"]),
                                          info["constraints"]["neutral_wer"], info["constraints"]["neutral_quality"])
                for c in info["search"][emotion].values()]
        # the fallback is tried exactly when neither grid alpha kept the limits
        assert set(info["search"][emotion]) == ({"0.5", "1.0"} if any(kept[:2]) else {"0.5", "1.0", "0.25"})
        assert alpha in (0.5, 1.0, 0.25)
        np.testing.assert_allclose(token.style, alpha * embeddings.offsets[emotion], rtol=1e-6)
        np.testing.assert_allclose(token.contour, alpha * contour.vectors[emotion], rtol=1e-6)
    expected = fitting.neutral_reference(load_voice("alpha"), recognizer, SENTENCES[:1])
    np.testing.assert_allclose(fit.reference.mean, expected.mean, rtol=1e-5, atol=1e-6)
