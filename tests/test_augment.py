"""emosynth augment: emotional variants of a recording move the measured cues as asked."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from emosynth.batch import parse_recipe
from emosynth.errors import AudioError, RecipeError

pw = pytest.importorskip("pyworld", reason="augmenting needs the extra emosynth[profiles] (pyworld)")

from emosynth.augment import WORK_RATE_HZ, augment, voice_change  # noqa: E402


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A neutral recording to augment: kumo's speech, written as a user's file at 22.05 kHz."""
    from scipy.signal import resample_poly

    from emosynth import Synthesizer

    utt = Synthesizer("kumo").say("The stairs lead down to the basement storage room.", score=False)
    folder = tmp_path_factory.mktemp("rec") / "in" / "speaker1"
    folder.mkdir(parents=True)
    path = folder / "take1.wav"
    sf.write(path, resample_poly(utt.audio, 147, 160), 22050)
    return path


def _median_st(x: np.ndarray) -> float:
    f0, _ = pw.harvest(x.astype(np.float64), WORK_RATE_HZ, f0_floor=60.0, f0_ceil=700.0)
    return float(np.median(12 * np.log2(f0[f0 > 0])))


def _alpha_ratio_db(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / WORK_RATE_HZ)
    return float(10 * np.log10(spec[(f >= 1000) & (f < 5000)].sum() / spec[(f >= 50) & (f < 1000)].sum()))


def test_changes_are_linear_in_the_spec():
    joy, half, neg = (np.array(voice_change(s, "male").as_tuple()) for s in ("joy", "joy:0.5", "-joy:0.5"))
    np.testing.assert_allclose(half, 0.5 * joy, atol=1e-9)
    np.testing.assert_allclose(neg, -half, atol=1e-9)
    mix = np.array(voice_change("joy:0.5,anger:0.5", "male").as_tuple())
    np.testing.assert_allclose(mix, half + 0.5 * np.array(voice_change("anger", "male").as_tuple()), atol=1e-9)
    anger = voice_change("anger", "male")
    assert anger.f0_shift_st > 1 and anger.level_db > 3 and anger.tilt_db > 1 and anger.tempo_log2 < 0


def test_augmented_recording_moves_the_cues_it_is_asked_to(recording):
    x, rate = sf.read(recording)
    source = augment(x, rate, "neutral").audio  # WORLD resynthesis alone, the baseline
    for spec in ("anger", "-joy:0.8", "surprise"):
        variant = augment(x, rate, spec)
        y, change = variant.audio, variant.change
        assert variant.speaker_similarity is None  # measured only with keep_speaker
        assert abs((_median_st(y) - _median_st(source)) - change.f0_shift_st) < 0.6, spec
        assert abs(len(y) / len(source) - 2.0 ** -change.tempo_log2) < 0.02, spec
        level = 20 * np.log10(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(source**2)))
        if np.max(np.abs(y)) < 0.97:  # not limited
            assert abs(level - change.level_db) < 1.0, spec
        tilt = _alpha_ratio_db(y) - _alpha_ratio_db(source)
        assert np.sign(tilt) == np.sign(change.tilt_db) and abs(tilt - change.tilt_db) < 2.0, spec


@pytest.mark.parametrize("tempo_log2", [0.0, 0.4])
def test_contour_trend_moves_by_the_asked_slope(recording, monkeypatch, tempo_log2):
    """The F0 contour handed to WORLD has its trend changed by the asked semitones a second over
    the output's time, also when the recording is re-timed, with its median kept; and without
    re-timing, the profiles' own measure reads the change back from the audio."""
    import emosynth.augment as aug
    from emosynth.profiles.measure import measure_clip

    x, rate = sf.read(recording)
    contours, measured = {}, {}
    synthesize = pw.synthesize

    def spy(f0, *args):
        contours[slope] = f0.copy()
        return synthesize(f0, *args)

    monkeypatch.setattr(pw, "synthesize", spy)
    for slope in (0.0, 3.0):
        monkeypatch.setattr(aug, "voice_change", lambda emotion, gender, slope=slope: aug.VoiceChange(
            tempo_log2=tempo_log2, f0_slope_st_per_s=slope))
        measured[slope] = measure_clip(augment(x, rate, "joy").audio, WORK_RATE_HZ)

    def trend_and_median(f0):
        voiced = f0 > 0
        st, seconds = 12 * np.log2(f0[voiced]), np.flatnonzero(voiced) * 0.005
        return np.polyfit(seconds, st, 1)[0], np.median(st)

    (s0, m0), (s3, m3) = trend_and_median(contours[0.0]), trend_and_median(contours[3.0])
    assert s3 - s0 == pytest.approx(3.0, abs=0.05) and m3 == pytest.approx(m0, abs=0.1)
    if tempo_log2 == 0.0:
        assert measured[3.0].f0_slope_st_per_s - measured[0.0].f0_slope_st_per_s == pytest.approx(3.0, abs=0.5)
    # the profiles carry the trend too: an emotion's change has one
    assert voice_change("surprise", "female").f0_slope_st_per_s > 1.0


def test_augmented_recordings_keep_their_words(recording):
    """Whisper tiny.en hears the same words in the strongest changes as in the recording."""
    pytest.importorskip("faster_whisper", reason="word error rate needs the extra emosynth[asr]")
    from emosynth.audio import prepare_array
    from emosynth.evaluation.asr import Transcriber
    from emosynth.evaluation.metrics import word_error_rate

    words = "The stairs lead down to the basement storage room."
    asr = Transcriber()
    x, rate = sf.read(recording)

    def errors(y: np.ndarray, y_rate: int) -> int:
        return word_error_rate(words, asr.transcribe(prepare_array(y, y_rate, target_rate_hz=16000).samples))[0]

    before = errors(x, rate)
    after = {spec: errors(augment(x, rate, spec).audio, WORK_RATE_HZ) for spec in ("anger", "surprise", "sadness", "-joy:0.8")}
    # Two word errors more than the recording at most, in all four variants together (Whisper tiny.en
    # hears "It stares lead down" in the raised, quick surprise variant with some package versions):
    # speech the changes garbled would lose words in every variant.
    assert all(n <= before + 2 for n in after.values()), after
    assert sum(after.values()) <= 4 * before + 2, after


def test_keep_speaker_scales_back_the_pitch_until_the_speaker_is_kept(recording):
    """With a floor just above what the full change keeps, the pitch moves less (every other cue as
    before) and the variant reaches the floor; where the floor is already met nothing changes."""
    pytest.importorskip("resemblyzer", reason="keep_speaker needs the extra emosynth[speaker]")
    from emosynth.audio import prepare_array
    from emosynth.evaluation.speaker import SpeakerEncoder, cosine_similarity

    encoder = SpeakerEncoder()
    x, rate = sf.read(recording)

    def similarity(y: np.ndarray) -> float:
        a, b = (prepare_array(s, r, target_rate_hz=16000).samples for s, r in ((x, rate), (y, WORK_RATE_HZ)))
        return cosine_similarity(encoder.embed(a), encoder.embed(b))

    full = augment(x, rate, "surprise")
    change, kept_full = full.change, similarity(full.audio)
    same = augment(x, rate, "surprise", keep_speaker=kept_full - 0.05)
    assert same.change == change and same.speaker_similarity == pytest.approx(kept_full, abs=1e-4)
    floor = min(0.99, kept_full + 0.02)
    kept = augment(x, rate, "surprise", keep_speaker=floor)
    share = kept.change.f0_shift_st / change.f0_shift_st
    assert share < 1.0 and kept.change == change.with_pitch_scaled(share)
    assert kept.speaker_similarity == pytest.approx(similarity(kept.audio), abs=1e-4)
    assert kept.speaker_similarity >= floor or share == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        augment(x, rate, "joy", keep_speaker=1.5)


def test_keep_speaker_belongs_to_augmenting_recipes(recording, tmp_path):
    with pytest.raises(RecipeError, match="'keep_speaker' applies to augmenting 'recordings'"):
        parse_recipe("name: a\ntexts: {builtin: neutral-en}\nvoices: [kumo]\nemotions: {specs: [joy]}\n"
                     "keep_speaker: 0.85\n")
    with pytest.raises(RecipeError, match="between 0 and 1"):
        parse_recipe(f"name: a\nrecordings: {recording.parent}\nemotions: {{specs: [joy]}}\nkeep_speaker: 85\n")


def test_unvoiced_input_is_refused():
    noise = np.random.default_rng(0).normal(0, 0.01, WORK_RATE_HZ).astype(np.float32)
    with pytest.raises(AudioError, match="no voiced speech"):
        augment(noise, WORK_RATE_HZ, "joy")


def test_recipe_takes_recordings_or_texts_not_both(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecipeError, match="no audio files"):
        parse_recipe("name: a\nrecordings: empty\nemotions: {specs: [joy]}\n", base=tmp_path)
    with pytest.raises(RecipeError, match="takes no 'texts' or 'voices'"):
        parse_recipe("name: a\nrecordings: empty\ntexts: {builtin: neutral-en}\nemotions: {specs: [joy]}\n",
                     base=tmp_path)


def test_cli_augment_writes_a_dataset_and_reports_a_bad_recording(recording, tmp_path):
    in_dir = recording.parent.parent
    silent = in_dir / "speaker2"
    silent.mkdir(exist_ok=True)
    sf.write(silent / "hiss.wav", np.random.default_rng(1).normal(0, 0.01, 16000), 16000)
    out = tmp_path / "out"
    # With the speaker extra, keep_speaker's own measurement is what the rows report.
    keep = importlib.util.find_spec("resemblyzer") is not None
    result = subprocess.run([sys.executable, "-m", "emosynth", "augment", str(in_dir), str(out), "--emotions",
                             "anger -joy:0.5", "--workers", "1", *(["--keep-speaker", "0.9"] if keep else [])],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "skipped speaker2/hiss.wav: " in result.stderr and "no voiced speech" in result.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(r["voice"], r["source"], r["emotion"]) for r in rows] == [
        ("speaker1", "speaker1/take1.wav", "anger:1.00"), ("speaker1", "speaker1/take1.wav", "-joy:0.50")]
    for r in rows:
        y, rate = sf.read(out / r["file_name"])
        assert rate == 16000 and abs(len(y) / rate - r["duration_s"]) < 1e-3
        assert r["target"] == ("anger" if r["emotion"] == "anger:1.00" else "")
        if keep:
            assert r["speaker_similarity"] >= 0.9
    card = (out / "dataset_card.md").read_text()
    assert "2 clips could not be made" in card and "speaker2/hiss.wav as anger:1.00" in card
    assert "speakers: speaker1 (2)" in card
    licences = card[card.index("## Licences"):card.index("## Recipe")]
    assert "under their own licence" in licences and "human prosody profiles" in licences
    assert ("resemblyzer" in licences) == bool(keep) and "Kokoro" not in licences


def test_without_pyworld_the_recipe_is_refused_up_front(recording, monkeypatch):
    from emosynth.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "pyworld", None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"emosynth\[profiles\]"):
        parse_recipe(f"name: a\nrecordings: {recording.parent}\nemotions: {{specs: [joy]}}\n")


def _dataset(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".batch" not in p.parts}


def test_augment_on_an_existing_ray_cluster_matches_local(recording, tmp_path):
    """`emosynth augment --engine ray --ray-address auto` on a cluster started with `ray start`
    gives the local run's files, and a worker needs no access to the recordings: the driver sends
    them with the tasks."""
    from emosynth.batch import plan_items
    from emosynth.batch.run import render_clip

    pytest.importorskip("ray", reason="Ray is the extra emosynth[ray]")
    in_dir = tmp_path / "in"
    (in_dir / "speaker1").mkdir(parents=True)
    (in_dir / "speaker1" / "take1.wav").write_bytes(recording.read_bytes())
    args = [str(in_dir), "--emotions", "anger", "--sample-rate", "16000"]
    local = subprocess.run([sys.executable, "-m", "emosynth", "augment", *args[:1], str(tmp_path / "local"), *args[1:],
                            "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr

    plan = parse_recipe(f"name: a\nrecordings: {in_dir}\nemotions: {{specs: [anger]}}\noutput: {{sample_rate: 16000}}\n")
    (item,) = plan_items(plan)
    moved = tmp_path / "elsewhere.wav"  # the path a worker would not find
    clip = render_clip(replace(item, source=str(moved)), plan.output, plan.quality_gate,
                       source_bytes=recording.read_bytes())
    assert "error" not in clip.row and clip.audio == (tmp_path / "local" / clip.row["file_name"]).read_bytes()

    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray_bin = [sys.executable, "-m", "ray.scripts.scripts"]
    started = subprocess.run([*ray_bin, "start", "--head", "--num-cpus", "2", "--include-dashboard", "false",
                              "--disable-usage-stats"], capture_output=True, text=True, timeout=120, env=env)
    if started.returncode != 0:
        pytest.skip(f"could not start a local Ray cluster: {started.stderr.strip()[-300:]}")
    try:
        on_ray = subprocess.run([sys.executable, "-m", "emosynth", "augment", *args[:1], str(tmp_path / "ray"), *args[1:],
                                 "--engine", "ray", "--ray-address", "auto"],
                                capture_output=True, text=True, timeout=600, env=env)
    finally:
        subprocess.run([*ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)
    assert on_ray.returncode == 0, on_ray.stderr
    assert _dataset(tmp_path / "ray") == _dataset(tmp_path / "local")
