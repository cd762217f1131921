from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emosynth.audio import MIN_DURATION_S, load_audio, prepare_array
from emosynth.errors import AudioError


def _tone(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_reads_every_supported_format_and_resamples(tmp_path, fmt, ext):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, _tone(44_100, channels=2), 44_100, format=fmt)
    audio = load_audio(path, target_rate_hz=16_000)
    assert audio.sample_rate_hz == 16_000
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration_s - 1.0) < 0.06  # MP3 adds encoder padding
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert abs(np.argmax(spectrum) / audio.duration_s - 220) < 5  # the tone survives


def test_stereo_is_mixed_to_mono():
    left = _tone(16_000)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    audio = prepare_array(stereo, 16_000)
    np.testing.assert_allclose(audio.samples, left / 2, atol=1e-7)


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("this is not audio"), "cannot be read as audio"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16_000), "empty"),
        (lambda p: sf.write(p, _tone(16_000, MIN_DURATION_S / 3), 16_000), "too short"),
        (lambda p: sf.write(p, np.zeros(16_000, np.float32), 16_000), "silent"),
    ],
)
def test_bad_files_name_the_file_and_the_reason(tmp_path, make, reason):
    path = tmp_path / "clip.wav"
    make(path)
    with pytest.raises(AudioError, match=reason) as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_corrupt_header_is_a_clear_error(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16_000), 16_000)
    data = bytearray(good.read_bytes())
    data[8:16] = b"XXXXXXXX"  # break the WAVE / fmt chunk ids
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="corrupt.wav: cannot be read as audio"):
        load_audio(bad)


def test_non_finite_and_misshaped_arrays_are_refused():
    x = _tone(16_000)
    x[100] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        prepare_array(x, 16_000)
    with pytest.raises(AudioError, match="shape"):
        prepare_array(np.zeros((2, 2, 2)), 16_000)
    with pytest.raises(AudioError, match="sample rate"):
        prepare_array(_tone(16_000), 0)
