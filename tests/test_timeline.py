"""The emotion timeline: streaming, silence, smoothing, its files, the CLI, and EDER."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from emosynth.audio import Audio, load_audio
from emosynth.audio_stream import DEFAULT_BLOCK_S, AudioStream, BlockResampler
from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.errors import AudioError
from emosynth.evaluation.diarization import emotion_diarization_error_rate, emotion_diarization_errors
from emosynth.recognizer import EmotionScores, Recognizer
from emosynth.recognizer.timeline import (
    SILENCE,
    TIMELINE_LABELS,
    TimelineSettings,
    WindowReadings,
    build_timeline,
    emotion_timeline,
    frame_levels_db,
    read_windows,
    speech_frames,
)

RATE = 16_000
HISS = 10 ** (-60 / 20)  # a quiet noise floor under whole test files, -60 dBFS


def covers(timeline, duration_s: float) -> None:
    """Segments run from 0 to the end, each starting where the last ended, none empty."""
    segs = timeline.segments
    assert segs[0].start_s == 0.0 and segs[-1].end_s == pytest.approx(duration_s, abs=1e-6)
    for a, b in zip(segs, segs[1:]):
        assert a.end_s == b.start_s and a.label != b.label
    assert all(s.end_s > s.start_s and s.label in TIMELINE_LABELS and 0 <= s.confidence <= 1 for s in segs)


# -- a stand-in recognizer: a tone's pitch decides the emotion -------------------------------------
class ToneScorer:
    """Reads a window's strongest frequency: below 600 Hz is joy, above is anger (0.9 sure)."""

    def __init__(self) -> None:
        self.windows = 0

    def features(self, audio: Audio) -> np.ndarray:
        self.windows += 1
        spectrum = np.abs(np.fft.rfft(audio.samples))
        return np.array([np.argmax(spectrum) * audio.sample_rate_hz / len(audio.samples)])

    def score_features(self, features, *, reference=None):
        out = []
        for (hz,) in np.atleast_2d(features):
            p = np.full(len(PRIMARY_EMOTIONS), 0.1 / 6)
            p[PRIMARY_EMOTIONS.index("anger" if hz > 600 else "joy")] = 0.9
            out.append(EmotionScores.from_probabilities(p, speaker_normalised=reference is not None))
        return out


def tone_speech(hz: float, seconds: float, rate: int = RATE) -> np.ndarray:
    """A tone at -20 dBFS whose loudness swings four times a second, like syllables."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.1 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def tone_recording(rate: int = RATE) -> np.ndarray:
    """joy 0-6 s, silence 6-9 s, anger 9-15 s, joy 15-20 s (no pause at 15 s), hiss throughout."""
    x = np.concatenate([tone_speech(300, 6, rate), np.zeros(3 * rate, np.float32), tone_speech(1000, 6, rate),
                        tone_speech(300, 5, rate)])
    return x + (np.random.default_rng(0).standard_normal(len(x)) * HISS).astype(np.float32)


def test_silence_and_emotion_changes_land_where_they_happen(tmp_path):
    path = tmp_path / "tones.wav"
    sf.write(path, resample_poly(tone_recording(), 441, 160), 44_100)  # read back through the resampler
    timeline = emotion_timeline(path, ToneScorer())
    covers(timeline, 20.0)
    assert [s.label for s in timeline.segments] == ["joy", SILENCE, "anger", "joy"]
    joy, silence, anger, joy2 = timeline.segments
    assert silence.start_s == pytest.approx(6.0, abs=0.1) and silence.end_s == pytest.approx(9.0, abs=0.1)
    assert anger.end_s == pytest.approx(15.0, abs=0.5)  # a change of emotion without a pause
    assert silence.confidence > 0.95 and anger.confidence == pytest.approx(0.9, abs=0.01)


def readings_of(labels: list[str], sure: float = 0.9) -> WindowReadings:
    """Readings of all-speech audio whose 2 s windows, every 0.5 s, read ``labels``."""
    p = np.full((len(labels), len(PRIMARY_EMOTIONS)), (1 - sure) / 6)
    for row, label in zip(p, labels):
        row[PRIMARY_EMOTIONS.index(label)] = sure
    duration = 2.0 + 0.5 * (len(labels) - 1)
    return WindowReadings(starts_s=0.5 * np.arange(len(labels)), lengths_s=np.full(len(labels), 2.0),
                          probabilities=p, frame_levels_db=np.tile(np.float32([-20] * 10 + [-35] * 5),
                                                                   int(duration / 0.3) + 1)[:int(duration / 0.02)],
                          duration_s=duration, window_s=2.0, hop_s=0.5, speaker_normalised=False, source="<test>")


def test_smoothing_removes_a_one_window_flicker_that_plain_argmax_keeps():
    readings = readings_of(["joy"] * 8 + ["anger"] + ["joy"] * 8 + ["sadness"] * 8)
    labels = {smoothing: [s.label for s in build_timeline(readings, TimelineSettings(smoothing=smoothing)).segments]
              for smoothing in ("none", "average", "viterbi")}
    assert labels["none"] == ["joy", "anger", "joy", "sadness"]
    assert labels["average"] == labels["viterbi"] == ["joy", "sadness"]
    # Each window owns the time between the midpoints to its neighbours' centres.
    timeline = build_timeline(readings, TimelineSettings(smoothing="none"))
    assert timeline.segments[1].start_s == pytest.approx(0.5 * 8 + 1.0 - 0.25)
    assert timeline.segments[1].end_s == pytest.approx(0.5 * 8 + 1.0 + 0.25)
    # A change held for long enough survives the smoothing: it is a change, not a flicker.
    assert [s.label for s in build_timeline(readings_of(["joy"] * 8 + ["anger"] * 4 + ["joy"] * 8)).segments] == \
        ["joy", "anger", "joy"]


def test_silence_detection_ignores_a_quiet_floor_and_short_pauses():
    levels = frame_levels_db(tone_recording())
    speech = speech_frames(levels)
    frames = lambda a, b: speech[int(a / 0.02):int(b / 0.02)]  # noqa: E731
    assert not frames(6.1, 8.9).any()  # the hiss alone is not speech
    assert frames(0.1, 5.9).mean() > 0.9 and frames(9.1, 19.9).mean() > 0.9
    # Hiss alone, whatever its level, has no speech in it.
    hiss = np.random.default_rng(1).standard_normal(10 * RATE).astype(np.float32)
    assert not speech_frames(frame_levels_db(hiss * HISS)).any()
    assert not speech_frames(frame_levels_db(hiss * 0.05)).any()
    # ... so a file of hiss, even one shorter than a silence must last, is silence throughout.
    timeline = emotion_timeline(Audio(hiss[:RATE // 2] * 0.01, RATE), ToneScorer())
    assert [(s.start_s, s.end_s, s.label) for s in timeline.segments] == [(0.0, 0.5, SILENCE)]


def test_a_clip_shorter_than_a_window_is_one_window():
    timeline = emotion_timeline(Audio(tone_speech(1000, 1.2), RATE), ToneScorer())
    assert len(timeline.window_centres_s) == 1 and [s.label for s in timeline.segments] == ["anger"]
    covers(timeline, 1.2)


# -- streaming --------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [44_100, 48_000, 8_000, 22_050])
def test_block_resampling_equals_resampling_the_whole_signal(rate):
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal(rate * 2 + 123) * 0.1).astype(np.float32)
    resampler, out, i = BlockResampler(rate, RATE), [], 0
    while i < len(x):
        n = int(rng.integers(1, 20_000))
        out.append(resampler.push(x[i:i + n]))
        i += n
    out.append(resampler.finish())
    expected = resample_poly(x, *(v // np.gcd(rate, RATE) for v in (RATE, rate))).astype(np.float32)
    np.testing.assert_allclose(np.concatenate(out), expected, atol=1e-6)


def test_a_stream_gives_the_samples_load_audio_gives(tmp_path):
    x = tone_recording(44_100)[: 44_100 * 12]
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([x, 0.5 * x], axis=1), 44_100)
    blocks = list(AudioStream(path, target_rate_hz=RATE))
    assert max(len(b) for b in blocks) <= DEFAULT_BLOCK_S * RATE + 1 and len(blocks) > 1
    np.testing.assert_allclose(np.concatenate(blocks), load_audio(path, target_rate_hz=RATE).samples, atol=1e-5)


def _write_long(path: Path, minutes: float) -> None:
    """Minutes of 48 kHz audio written block by block (never whole in memory)."""
    piece = resample_poly(tone_recording(), 3, 1).astype(np.float32)
    with sf.SoundFile(str(path), "w", samplerate=48_000, channels=1, subtype="PCM_16") as fh:
        left = int(minutes * 60 * 48_000)
        while left > 0:
            fh.write(piece[:left])
            left -= min(left, len(piece))


def _traced_peak_mib(path: Path) -> tuple[float, int]:
    scorer = ToneScorer()
    tracemalloc.start()
    try:
        readings = read_windows(path, scorer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / 2**20, len(readings.starts_s)


def test_long_files_stream_through_in_bounded_memory(tmp_path):
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    _write_long(short, 1.0)
    _write_long(long, 6.0)
    short_peak, _ = _traced_peak_mib(short)
    long_peak, n_windows = _traced_peak_mib(long)
    whole_mib = 6 * 60 * 48_000 * 4 / 2**20  # 66 MB as float32, had it been read at once
    assert n_windows == pytest.approx(6 * 60 / 0.5, abs=4)
    assert long_peak < whole_mib / 3, f"peak {long_peak:.1f} MiB"
    assert long_peak < short_peak + 2.0, f"peak grew from {short_peak:.1f} to {long_peak:.1f} MiB"


# -- bad input --------------------------------------------------------------------------------------
def _bad_files(folder: Path) -> list[Path]:
    (folder / "garbage.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), RATE)
    sf.write(folder / "short.wav", np.full(800, 0.1, np.float32), RATE)
    sf.write(folder / "silent.wav", np.zeros(RATE, np.float32), RATE)
    nan = np.full(RATE, 0.1, np.float32)
    nan[100] = np.nan
    sf.write(folder / "nan.wav", nan, RATE, subtype="FLOAT")
    return [folder / "missing.wav", folder, *(folder / n for n in ("garbage.wav", "empty.wav", "short.wav",
                                                                     "silent.wav", "nan.wav"))]


def test_bad_files_get_the_errors_load_audio_gives(tmp_path):
    for path in _bad_files(tmp_path):
        with pytest.raises(AudioError) as expected:
            load_audio(path)
        with pytest.raises(AudioError) as got:
            emotion_timeline(path, ToneScorer())
        assert str(got.value) == str(expected.value)


# -- EDER -------------------------------------------------------------------------------------------
REF = [(0.0, 2.0, "anger"), (2.0, 5.0, "joy"), (6.0, 8.0, "sadness")]  # 5-6 s: no emotion


def test_eder_is_zero_for_a_perfect_hypothesis_and_silence_counts_as_no_emotion():
    hyp = [(0.0, 2.0, "anger"), (2.0, 5.0, "joy"), (5.0, 6.0, "silence"), (6.0, 8.0, "sadness")]
    assert emotion_diarization_error_rate(REF, hyp, 8.0) == 0.0


def test_each_kind_of_error_is_counted_exactly():
    hyp = [(0.0, 1.5, "anger"), (1.5, 2.0, "silence"),  # 0.5 s missed
           (2.0, 3.0, "joy"), (2.5, 3.0, "fear"),  # 0.5 s overlap (joy and fear)
           (3.0, 5.5, "sadness"),  # 2 s confusion (joy read as sadness), 0.5 s false alarm (5-5.5)
           (6.0, 8.0, "sadness")]
    errors = emotion_diarization_errors(REF, hyp, 8.0)
    assert (errors.missed_s, errors.overlap_s, errors.confusion_s, errors.false_alarm_s) == \
        pytest.approx((0.5, 0.5, 2.0, 0.5))
    assert errors.eder == pytest.approx(3.5 / 8.0)
    # Time the hypothesis leaves out is "no emotion" too: a hypothesis of nothing misses every emotion.
    assert emotion_diarization_error_rate(REF, [], 8.0) == pytest.approx(7.0 / 8.0)


def test_with_one_label_at_a_time_eder_is_one_minus_the_share_labelled_right():
    hyp = [(0.0, 3.0, "anger"), (3.0, 6.5, "joy"), (6.5, 8.0, "sadness")]
    # right: anger 0-2, joy 3-5, sadness 6.5-8 -> 5.5 s of 8
    assert emotion_diarization_error_rate(REF, hyp, 8.0) == pytest.approx(1 - 5.5 / 8.0)


def test_neutral_can_count_as_no_emotion_as_in_wang_et_al():
    ref = [(0.0, 3.0, "neutral"), (3.0, 4.0, "anger")]
    hyp = [(0.0, 3.0, "silence"), (3.0, 4.0, "anger")]
    assert emotion_diarization_error_rate(ref, hyp, 4.0) == pytest.approx(0.75)  # neutral missed
    assert emotion_diarization_error_rate(ref, hyp, 4.0, no_emotion=("silence", "neutral")) == 0.0


def test_eder_refuses_what_it_cannot_score():
    with pytest.raises(ValueError, match="overlap"):
        emotion_diarization_errors([(0, 2, "joy"), (1, 3, "anger")], [], 3.0)
    with pytest.raises(ValueError, match="before it starts"):
        emotion_diarization_errors([(2, 1, "joy")], [], 3.0)
    with pytest.raises(ValueError, match="positive"):
        emotion_diarization_errors(REF, [], 0.0)


# -- real speech, the files and the CLI --------------------------------------------------------------
@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


@pytest.fixture(scope="module")
def human_recording(ravdess, tmp_path_factory) -> tuple[Path, dict]:
    """Actor 01: anger, a 6 s pause, sadness, a 0.3 s pause, joy; 44.1 kHz stereo FLAC."""
    rng = np.random.default_rng(0)
    parts, marks, t = [], {}, 0.0
    for name, emotion, pause in (("03-01-05-02-01-01-01", "anger", 6.0), ("03-01-04-02-01-01-01", "sadness", 0.3),
                                 ("03-01-03-02-01-01-01", "joy", 0.0)):
        x = load_audio(ravdess / "Actor_01" / f"{name}.flac", target_rate_hz=RATE).samples
        speech = np.flatnonzero(speech_frames(frame_levels_db(x + rng.standard_normal(len(x)).astype(np.float32)
                                                              * 10 ** (-70 / 20))))
        x = x[speech[0] * 320:(speech[-1] + 1) * 320]  # the clip cut to its speech
        marks[emotion] = (t, t + len(x) / RATE)
        parts += [x, np.zeros(int(pause * RATE), np.float32)]
        t += len(x) / RATE + pause
    x = np.concatenate(parts)
    x += (rng.standard_normal(len(x)) * 10 ** (-70 / 20)).astype(np.float32)
    path = tmp_path_factory.mktemp("timeline") / "actor01.flac"
    y = resample_poly(x, 441, 160)
    sf.write(path, np.stack([y, y], axis=1), 44_100)
    return path, {"duration_s": len(x) / RATE, **marks}


def test_a_real_recording_gets_its_silence_and_its_anger(recognizer, human_recording, tmp_path):
    path, marks = human_recording
    timeline = recognizer.timeline(path)
    covers(timeline, marks["duration_s"])
    pause = (marks["anger"][1], marks["sadness"][0])
    silences = [s for s in timeline.segments if s.label == SILENCE]
    assert any(abs(s.start_s - pause[0]) < 0.3 and abs(s.end_s - pause[1]) < 0.3 for s in silences), silences
    for emotion, (a, b) in ((e, marks[e]) for e in ("anger", "sadness", "joy")):
        assert timeline.label_at((a + b) / 2) != SILENCE, f"{emotion}'s speech marked silence"
    assert timeline.label_at(sum(marks["anger"]) / 2) == "anger"

    timeline.save_json(tmp_path / "t.json", windows=True)
    timeline.save_csv(tmp_path / "t.csv")
    timeline.save_png(tmp_path / "t.png")
    doc = json.loads((tmp_path / "t.json").read_text())
    assert [s["label"] for s in doc["segments"]] == [s.label for s in timeline.segments]
    assert len(doc["windows"]) == len(timeline.window_centres_s)
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert list(rows[0]) == ["start_s", "end_s", "label", "confidence"] and len(rows) == len(timeline.segments)
    assert float(rows[-1]["end_s"]) == pytest.approx(marks["duration_s"], abs=1e-3)
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "t.png").shape[:2] == (420, 1200)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emosynth", "score", *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_and_writes_a_timeline(human_recording, tmp_path):
    path, marks = human_recording
    out = run_cli("--timeline", str(path), "--json", "--csv", str(tmp_path / "t.csv"), "--png", str(tmp_path / "t.png"))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["segments"][0]["start_s"] == 0 and doc["segments"][-1]["end_s"] == pytest.approx(marks["duration_s"],
                                                                                                 abs=1e-3)
    assert (tmp_path / "t.csv").read_text().startswith("start_s,end_s,label,confidence\n")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_gives_a_bad_file_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("hello")
    out_dir = tmp_path / "out"
    out = run_cli("--timeline", str(bad), "--csv", str(out_dir / "t.csv"), "--png", str(out_dir / "t.png"))
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert lines[0].startswith(f"error: {bad}: cannot be read as audio") and "accepted formats" in lines[0]
    assert not out_dir.exists() or not any(out_dir.iterdir())
    usage = run_cli("--csv", str(tmp_path / "t.csv"))
    assert usage.returncode == 2 and "--timeline" in usage.stderr and not (tmp_path / "t.csv").exists()
