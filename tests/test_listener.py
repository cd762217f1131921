"""The differentiable listener (emosynth.voice.learning.listener) and the listener stage
(emosynth.voice.learning.listener_fit).

The listener's Whisper runs in torch from the recognizer's own weights and must hear what the
recognizer's numpy encoder hears (same log-mel, states and pooled features on a real recording).
The stage runs for real on six RAVDESS clips of one actor through the differentiable Kokoro: it
moves only the decoder half of the drawn emotions' embeddings, resumes exactly, and makes its
listener hear the anger it is asked for better than the decoder half alone did.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the listener needs torch (extra: speaker)")

from emosynth.audio import Audio
from emosynth.recognizer.features import ClipFeatureExtractor, whisper_log_mel
from emosynth.voice.learning.listener import WhisperStates, resample_24k_to_16k


def _recording(ravdess, seconds: float = 2.4) -> np.ndarray:
    """An angry RAVDESS clip at 24 kHz, cut to a whole number of Kokoro frames."""
    import soundfile as sf
    from scipy.signal import resample_poly

    path = sorted((ravdess / "Actor_01").glob("03-01-05-02-*.flac"))[0]
    x, rate = sf.read(path, dtype="float32")
    return resample_poly(x, 24_000, rate).astype(np.float32)[: int(seconds * 24_000) // 600 * 600]


def test_resampling_keeps_a_tone_and_refuses_a_ragged_length():
    t = torch.arange(24_000) / 24_000
    tone = torch.sin(2 * math.pi * 440 * t)[None, :]
    down = resample_24k_to_16k(tone)[0].numpy()
    assert down.shape == (16_000,)
    expected = np.sin(2 * math.pi * 440 * np.arange(16_000) / 16_000)
    np.testing.assert_allclose(down, expected, atol=5e-4)  # float32 FFT
    with pytest.raises(ValueError, match="multiple of 3"):
        resample_24k_to_16k(tone[:, :1000])


def test_the_torch_whisper_hears_what_the_recognizers_encoder_hears(ravdess):
    states = WhisperStates("tiny.en")
    x24 = _recording(ravdess)
    x16 = resample_24k_to_16k(torch.from_numpy(x24)[None])[0].numpy()
    mel = whisper_log_mel(x16)
    np.testing.assert_allclose(states.log_mel(torch.from_numpy(x16)[None])[0].numpy(), mel, atol=1e-4)
    extractor = ClipFeatureExtractor("tiny.en")
    expected = extractor.encoder_states("tiny.en", mel, len(x16))
    with torch.no_grad():
        got = states(torch.from_numpy(mel)[None])[0].numpy()[: len(expected)]
        pooled = states.pooled(torch.from_numpy(x24)[None])[0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(pooled, extractor(Audio(x16, 16_000)), atol=1e-4)
    # gradients reach the audio
    audio = torch.from_numpy(x24)[None].requires_grad_(True)
    states.pooled(audio).sum().backward()
    assert audio.grad is not None and float(audio.grad.abs().sum()) > 0


def test_the_listener_stage_moves_only_the_decoder_half_and_hears_anger_better(six_clips, tmp_path):
    pytest.importorskip("pyworld", reason="F0 targets need pyworld (extra: train or profiles)")
    from emosynth.voice.learning.emotion_fit import EMOTIONS, Crop, EmotionFitSettings, decode_crops, fit_half
    from emosynth.voice.learning.kokoro_torch import DECODER_STYLE, PROSODY_STYLE, KokoroDecoder
    from emosynth.voice.learning.listener_fit import _listener_and_references, fit_listener_stage, read_listener_stage

    settings = EmotionFitSettings(decoder_steps=2, clips_per_step=2, crop_frames=16, context_frames=4,
                                  checkpoint_every=1, listener_steps=4, listener_weight=1.0)
    with pytest.raises(ValueError, match="decoder half is not finished"):
        fit_listener_stage(six_clips, tmp_path / "whole", settings, progress=False)
    for folder in ("whole", "parts"):
        fit_half(six_clips, tmp_path / folder, "decoder", settings, progress=False)
    start = fit_half(six_clips, tmp_path / "whole", "decoder", settings, progress=False)
    before = start.embeddings()

    whole = fit_listener_stage(six_clips, tmp_path / "whole", settings, progress=False)
    assert whole.done and len(whole.history) == len(whole.heard) == 4 and all(np.isfinite(whole.heard))
    after = whole.decoder.embeddings()
    np.testing.assert_array_equal(after[:, PROSODY_STYLE], before[:, PROSODY_STYLE])
    for emotion in EMOTIONS:
        moved = np.abs(after[EMOTIONS.index(emotion), DECODER_STYLE] - before[EMOTIONS.index(emotion), DECODER_STYLE]).max()
        assert (moved > 0) == (emotion in ("anger", "sadness")), emotion

    part = fit_listener_stage(six_clips, tmp_path / "parts", settings, progress=False, stop_after_steps=2)
    assert part.step == 2 and read_listener_stage(six_clips, tmp_path / "parts", settings).step == 2
    resumed = fit_listener_stage(six_clips, tmp_path / "parts", settings, progress=False)
    assert resumed.history == whole.history
    np.testing.assert_array_equal(resumed.decoder.embeddings(), after)

    # its listener hears the angry clips' anger better with the refitted embedding
    decoder, states = KokoroDecoder.from_float_graph(), WhisperStates()
    listener, references = _listener_and_references(six_clips, tmp_path / "whole", start, settings, decoder, states)
    angry = [c for c in six_clips if c.emotion == "anger"]
    crops = [Crop(c, 8, 8 + 16, 4, 4) for c in angry]
    target = torch.tensor([listener.target("anger")] * len(crops))

    def heard(state) -> float:
        with torch.no_grad():
            decoded, _ = decode_crops(decoder, state.styles, crops, state.levels)
            logits = listener.logits(states.pooled(decoded), [references[c.clip.speaker] for c in crops])
            return float(torch.nn.functional.cross_entropy(logits, target))

    assert heard(whole.decoder) < heard(start)


def test_the_speaker_projection_tells_speakers_apart_whatever_they_feel(ravdess):
    """Fitted on three RAVDESS actors' first repetitions (every emotion, both statements), the
    projection's coordinates put each actor's second repetitions nearest their own actor, their
    emotional takes closer to their own neutral ones than to another actor's, and spread an actor's
    own recordings by about one unit a direction. One speaker is not enough to fit one."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from emosynth.voice.learning.listener import SpeakerProjection

    states = WhisperStates()

    def pooled(paths) -> np.ndarray:
        audio = []
        for path in paths:
            x, rate = sf.read(path, dtype="float32")
            audio.append(resample_poly(x, 24_000, rate).astype(np.float32)[24_000: 24_000 + 48 * 600])  # 1.2 s
        with torch.no_grad():
            return states.pooled(torch.from_numpy(np.stack(audio))).numpy().astype(np.float64)

    actors = ("Actor_01", "Actor_02", "Actor_03")
    takes = {(a, rep): sorted((ravdess / a).glob(f"03-01-0[1-8]-0[12]-0[12]-{rep}-*.flac")) for a in actors for rep in ("01", "02")}
    train = {a: pooled(takes[a, "01"]) for a in actors}
    test = {a: pooled(takes[a, "02"]) for a in actors}
    x = np.concatenate([train[a] for a in actors])
    speakers = [a for a in actors for _ in train[a]]
    projection = SpeakerProjection.fit(x, speakers)
    assert projection.matrix.shape == (x.shape[1], 2)
    coordinates = {a: projection.coordinates(train[a]).numpy() for a in actors}
    within = np.mean([coordinates[a].var(axis=0).mean() for a in actors])
    assert 0.5 < within < 1.5, within

    centres = np.stack([coordinates[a].mean(axis=0) for a in actors])
    for i, a in enumerate(actors):
        held = projection.coordinates(test[a]).numpy()
        nearest = np.argmin(((held[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        assert np.mean(nearest == i) >= 0.9, (a, nearest)
        # emotional takes (codes 02-08) against the actor's own neutral (01) and another actor's
        neutral = [j for j, p in enumerate(takes[a, "02"]) if p.name.split("-")[2] == "01"]
        emotional = [j for j, p in enumerate(takes[a, "02"]) if p.name.split("-")[2] != "01"]
        other = actors[(i + 1) % 3]
        other_neutral = [j for j, p in enumerate(takes[other, "02"]) if p.name.split("-")[2] == "01"]
        own = projection.distance(torch.from_numpy(test[a][emotional]), [test[a][neutral].mean(axis=0)] * len(emotional))
        far = projection.distance(torch.from_numpy(test[a][emotional]),
                                  [test[other][other_neutral].mean(axis=0)] * len(emotional))
        assert float(own.mean()) < 0.5 * float(far.mean()), (a, float(own.mean()), float(far.mean()))
    with pytest.raises(ValueError, match="at least two speakers"):
        SpeakerProjection.fit(train["Actor_01"], ["Actor_01"] * len(train["Actor_01"]))


@pytest.fixture(scope="module")
def two_actors(ravdess, six_clips):
    """The six clips of actor 01 and four of actor 02 (two neutral, two angry) as emotion-fit material."""
    from emosynth.recognizer.corpus import read_corpus
    from emosynth.voice.learning.material import build_material

    picked = [p for code in ("01", "05") for p in sorted((ravdess / "Actor_02").glob(f"03-01-{code}-*.flac"))[-2:]]
    clips = {c.path: c for c in read_corpus(ravdess)}
    return list(six_clips) + build_material([clips[p] for p in picked], progress=False)


def test_the_speaker_term_keeps_the_decoded_speaker_where_it_was(two_actors, tmp_path):
    """With a speaker weight the stage records its speaker term, names its checkpoint by it, and
    leaves the decoded angry crops nearer their speaker's neutral (in the projection) than the same
    stage without it did, and than the decoder half did."""
    pytest.importorskip("pyworld", reason="F0 targets need pyworld (extra: train or profiles)")
    import dataclasses

    from emosynth.voice.learning.emotion_fit import Crop, EmotionFitSettings, decode_crops, fit_half
    from emosynth.voice.learning.kokoro_torch import KokoroDecoder
    from emosynth.voice.learning.listener_fit import (
        _listener_and_references,
        _speaker_projection,
        fit_listener_stage,
        stage_name,
    )

    plain = EmotionFitSettings(decoder_steps=2, clips_per_step=2, crop_frames=16, context_frames=4,
                               checkpoint_every=1, listener_steps=4, listener_weight=1.0)
    keeping = dataclasses.replace(plain, speaker_weight=50.0)
    assert plain.key(["x"]) == keeping.key(["x"])  # a stage setting: the halves are shared
    assert stage_name(plain) == "listener-4-1" and stage_name(keeping) == "listener-4-1-speaker-50"
    start = fit_half(two_actors, tmp_path, "decoder", plain, progress=False)
    without = fit_listener_stage(two_actors, tmp_path, plain, progress=False)
    with_term = fit_listener_stage(two_actors, tmp_path, keeping, progress=False)
    assert (tmp_path / "listener-4-1-speaker-50.pt").exists() and (tmp_path / "speaker.npz").exists()
    assert not without.kept and len(with_term.kept) == 4 and all(np.isfinite(with_term.kept))
    assert "speaker_term_last_20" in with_term.summary()

    decoder, states = KokoroDecoder.from_float_graph(), WhisperStates()
    _, references = _listener_and_references(two_actors, tmp_path, start, plain, decoder, states)
    projection = _speaker_projection(two_actors, tmp_path, start, plain, states)
    angry = [c for c in two_actors if c.emotion == "anger"]
    crops = [Crop(c, 8, 8 + 16, 4, 4) for c in angry]

    def moved(state) -> float:
        with torch.no_grad():
            decoded, _ = decode_crops(decoder, state.styles, crops, state.levels)
            return float(projection.distance(states.pooled(decoded), [references[c.clip.speaker].mean for c in crops]).mean())

    assert moved(with_term.decoder) < min(moved(start), moved(without.decoder))
