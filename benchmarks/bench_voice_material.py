"""Measure the human training material (emosynth.voice.learning.material): is it in Kokoro's units,
and are the alignments right?

    nice -n 10 python benchmarks/bench_voice_material.py --clips-per-corpus 20 \\
        --data ../shared/data/ravdess --data ../shared/data/nemo

Three parts, each written to benchmarks/results/voice_material.json:

* ``units``: Kokoro (float graph) reads sentences in several voices; the energy measure
  (StyleTTS 2's log mel norm) and Harvest F0 of its audio are compared with the N and F0 curves
  its predictor made for that audio: correlation, lag of the best correlation, pooled affine fit,
  F0 ratio and the values Kokoro writes where the audio is unvoiced.
* ``align``: boundary recovery with known answers. A sentence is rendered by voice B with random
  per-token duration scales (log-normal, sd 0.3: the token boundaries are known exactly from the
  frames), optionally resampled (pitch and formants shifted, time scaled), and aligned to voice
  A's plain rendition; errors of every inner token boundary, in ms.
* ``human``: real clips (N of each corpus, spread evenly over its sorted list: several speakers,
  emotions and sentences). Without a reference alignment, the check is indirect: Kokoro's predictor, given a
  clip's aligned durations, predicts an energy curve and voicing; if the tokens sit where the
  recording has them, these follow the recording's measured energy and voicing. Correlation
  (inside the recording's speech) and voicing agreement are compared with a naive alignment
  (the rendition's token timing stretched linearly over the recording's speech). Also the cost
  of building material from an empty cache, per sentence and per clip.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.signal import resample_poly

from emosynth.audio import load_audio
from emosynth.profiles.measure import speaking_span, voiced_f0
from emosynth.recognizer.corpus import read_corpus
from emosynth.voice import Backbone, style_for, text_to_chunks
from emosynth.voice.learning import KokoroProsody
from emosynth.voice.learning.acoustics import STEP_SAMPLES, energy_curve
from emosynth.voice.learning.align import align_to_rendition, quantize_boundaries
from emosynth.voice.learning.material import RENDITION_VOICES, build_material
from emosynth.voice.learning.polish import polish_phonemes, polish_token_ids

RESULTS = Path(__file__).resolve().parent / "results" / "voice_material.json"
ENGLISH = ["Kids are talking by the door.", "Dogs are sitting by the door.",
           "Hello there, this is a short test of the voice.", "Where are you going tomorrow?",
           "I never said she stole my money, but somebody did."]
POLISH = ["Aby upiec ciasto, muszę kupić mączkę.", "Nie zachowuj się jak żigolak.",
          "Mój teść zawsze służy radą.", "Bastion był kiedyś ważnym elementem obrony miasta."]
VOICES = ("jf_alpha", "jm_kumo", "jf_nezumi")
SR = 24_000


def _token_sets() -> list[tuple[str, tuple[int, ...]]]:
    english = [(t, text_to_chunks(t)[0].token_ids) for t in ENGLISH]
    return english + [(t, polish_token_ids(polish_phonemes(t))) for t in POLISH]


# -- units ---------------------------------------------------------------------------------------------
def units(bb: Backbone) -> dict:
    rows, pooled_n, pooled_e, f0_ratios, unvoiced, band_limited = [], [], [], [], {}, []
    for voice in VOICES:
        for text, ids in _token_sets():
            out = bb.synthesize(ids, voice)
            steps = out.energy.size
            n = energy_curve(out.audio, steps)
            lags = {lag: _lag_corr(out.energy, n, lag) for lag in range(-4, 5)}
            f0, _ = voiced_f0(out.audio, SR, frame_period_ms=1000 * STEP_SAMPLES / SR)
            f0 = f0[:steps]
            both = (f0 > 0) & (out.f0_hz > 40)
            log_ratio = np.log(out.f0_hz[both] / f0[both])
            f0_ratios.append(log_ratio)
            unvoiced.setdefault(voice, []).append(out.f0_hz[f0[:steps] == 0])
            pooled_n.append(n)
            pooled_e.append(out.energy)
            # The corpora are 16 kHz: what their missing 8-12 kHz band does to the measure.
            narrow = energy_curve(resample_poly(resample_poly(out.audio, 2, 3), 3, 2), steps)
            band_limited.append((narrow - n)[n > -3])
            slope, offset = np.polyfit(n, out.energy, 1)
            rows.append({"voice": voice, "text": text, "n_corr_lag0": round(lags[0], 4),
                         "best_lag_steps": max(lags, key=lags.get), "fit_slope": round(float(slope), 3),
                         "fit_offset": round(float(offset), 3),
                         "f0_median_ratio": round(float(np.exp(np.median(log_ratio))), 4),
                         "f0_rms_semitones": round(float(np.sqrt(np.mean((12 / np.log(2) * log_ratio) ** 2))), 3),
                         "voicing_agreement": round(float(np.mean((f0 > 0) == (out.f0_hz > 40))), 3)})
    n_all, e_all = np.concatenate(pooled_n), np.concatenate(pooled_e)
    slope, offset = np.polyfit(n_all, e_all, 1)
    speech = n_all > -3
    s_slope, s_offset = np.polyfit(n_all[speech], e_all[speech], 1)
    lr = np.concatenate(f0_ratios)
    narrow_diff = np.concatenate(band_limited)
    return {
        "energy_change_when_band_limited_to_8khz": {
            "median": round(float(np.median(narrow_diff)), 3), "p5": round(float(np.percentile(narrow_diff, 5)), 3),
            "share_within_0.1": round(float(np.mean(np.abs(narrow_diff) <= 0.1)), 3)},
        "energy_definition": "log(||mel_power + 1e-5||_2 over 80 HTK mel bands), n_fft 2048, win 1200, hop 300, 24 kHz",
        "per_rendition": rows,
        "energy_pooled": {"corr": round(float(np.corrcoef(n_all, e_all)[0, 1]), 4), "slope": round(float(slope), 3),
                          "offset": round(float(offset), 3),
                          "rms_after_fit": round(float(np.std(e_all - (slope * n_all + offset))), 3),
                          "speech_only_corr": round(float(np.corrcoef(n_all[speech], e_all[speech])[0, 1]), 4),
                          "speech_only_slope": round(float(s_slope), 3), "speech_only_offset": round(float(s_offset), 3)},
        "f0_pooled": {"median_ratio_predicted_over_harvest": round(float(np.exp(np.median(lr))), 4),
                      "rms_semitones": round(float(np.sqrt(np.mean((12 / np.log(2) * lr) ** 2))), 3),
                      "share_within_1_semitone": round(float(np.mean(np.abs(12 / np.log(2) * lr) <= 1)), 3)},
        "predicted_f0_where_harvest_unvoiced_hz": {
            v: [round(float(q), 1) for q in np.percentile(np.concatenate(u), [5, 50, 95])] for v, u in unvoiced.items()},
    }


def _lag_corr(predicted: np.ndarray, measured: np.ndarray, lag: int) -> float:
    """Correlation of predicted[j] with measured[j + lag]."""
    a = predicted[max(0, -lag):predicted.size - max(0, lag)]
    b = measured[max(0, lag):max(0, lag) + a.size]
    return float(np.corrcoef(a, b)[0, 1])


# -- align ---------------------------------------------------------------------------------------------
def align(bb: Backbone, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    conditions = {"same voice, stretched": ([("jf_alpha", "jf_alpha"), ("jm_kumo", "jm_kumo")], None),
                  "other voice, stretched": ([("jf_alpha", "jm_kumo"), ("jm_kumo", "jf_alpha"),
                                              ("jf_alpha", "jf_nezumi")], None),
                  "other voice, stretched, resampled x1.2": ([("jf_alpha", "jm_kumo"), ("jm_kumo", "jf_alpha")], (6, 5)),
                  "other voice, stretched, resampled x0.85": ([("jf_alpha", "jm_kumo"), ("jm_kumo", "jf_nezumi")], (17, 20))}
    out = {}
    for name, (pairs, resample) in conditions.items():
        errors = {"en": [], "pl": []}
        for text, ids in _token_sets():
            for ref_voice, voice in pairs:
                errors["pl" if text in POLISH else "en"].append(
                    _boundary_errors_ms(bb, ids, ref_voice, voice, rng, resample))
        out[name] = {lang: _summary(np.concatenate(e)) for lang, e in errors.items()}
    return out


def _boundary_errors_ms(bb: Backbone, ids, ref_voice: str, voice: str, rng, resample) -> np.ndarray:
    rendition = bb.synthesize(ids, ref_voice)
    target = bb.synthesize(ids, voice, duration_scale=np.exp(rng.normal(0.0, 0.3, len(ids))))
    audio, truth = target.audio, np.cumsum(target.frames_per_token)[:-1] * 600.0
    if resample:
        up, down = resample
        audio = resample_poly(audio, up, down).astype(np.float32)  # read at 24 kHz: time x up/down
        truth = truth * up / down
    alignment = align_to_rendition(audio, rendition.audio, rendition.frames_per_token)
    estimate = alignment.start_sample + np.cumsum(alignment.frames_per_token)[:-1] * 600.0
    # Inner boundaries, from the first token's start to the last punctuation's; its end is left
    # out: it lies in the trailing silence, which has no landmarks.
    return np.abs(estimate[1:-1] - truth[1:-1]) / (SR / 1000)


def _summary(errors_ms: np.ndarray) -> dict:
    return {"boundaries": int(errors_ms.size), "mean_ms": round(float(errors_ms.mean()), 1),
            "median_ms": round(float(np.median(errors_ms)), 1), "p90_ms": round(float(np.percentile(errors_ms, 90)), 1),
            "within_25ms": round(float(np.mean(errors_ms <= 25)), 3), "within_50ms": round(float(np.mean(errors_ms <= 50)), 3)}


# -- human -----------------------------------------------------------------------------------------------
def human(folders: list[str], per_corpus: int) -> dict:
    clips = [c for f in folders for c in _spread(read_corpus(f), per_corpus)]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_material(clips[:1], cache_root=Path(tmp), progress=False)
        warm = time.perf_counter() - start  # loading models, one sentence, one clip
        start = time.perf_counter()
        material = build_material(clips, cache_root=Path(tmp), progress=False)
        total = time.perf_counter() - start
        n_sentences = len({m.sentence_id for m in material})
        start = time.perf_counter()
        build_material(clips, cache_root=Path(tmp), progress=False)
        reread = time.perf_counter() - start
    prosody = KokoroProsody.from_float_graph()
    per_corpus_rows: dict[str, list] = {}
    bb = Backbone.load(precision="float")
    for m in material:
        audio = load_audio(m.path, target_rate_hz=SR).samples
        style = torch.from_numpy(style_for(m.rendition_voice, m.token_ids.size))[None]
        dtw = _agreement(prosody, m, style, audio, m.frames_per_token, m.start_sample)
        rendition = bb.synthesize(m.token_ids, m.rendition_voice)
        naive_frames, naive_start = _linear_alignment(audio, rendition.audio, rendition.frames_per_token)
        naive = _agreement(prosody, m, style, audio, naive_frames, naive_start)
        level = float(np.median(m.energy[m.energy > -3]) - np.median(rendition.energy[rendition.energy > -3]))
        per_corpus_rows.setdefault(m.corpus, []).append((dtw, naive, m.alignment_cost, level))
    result = {"clips": len(clips), "aligned": len(material), "sentences": n_sentences,
              "seconds_first_call_one_clip": round(warm, 1),
              "seconds_per_clip_including_new_sentences": round(total / max(1, len(material) - 1), 2),
              "seconds_to_reread_all_cached": round(reread, 2)}
    for corpus, rows in per_corpus_rows.items():
        dtw, naive, cost, level = zip(*rows)
        result[corpus] = {
            "energy_corr_in_speech": {"dtw": _mean(d[0] for d in dtw), "linear": _mean(n[0] for n in naive),
                                      "dtw_better_share": round(float(np.mean([d[0] > n[0] for d, n in zip(dtw, naive)])), 3)},
            "voicing_agreement_in_speech": {"dtw": _mean(d[1] for d in dtw), "linear": _mean(n[1] for n in naive)},
            "alignment_cost": {"mean": _mean(cost), "max": round(float(max(cost)), 3)},
            # The recording keeps the corpus's gain: its median speech energy against the rendition's
            # (N is the natural log of a power norm, so 1.0 is 4.34 dB).
            "speech_energy_minus_renditions": {"median": round(float(np.median(level)), 2),
                                               "min": round(float(min(level)), 2), "max": round(float(max(level)), 2)},
        }
    return result


def _spread(clips: list, n: int) -> list:
    """``n`` clips spread evenly over the sorted corpus (several speakers, emotions, sentences)."""
    return clips[::max(1, len(clips) // n)][:n]


def _agreement(prosody: KokoroProsody, m, style, audio: np.ndarray, frames: np.ndarray, start: int) -> tuple[float, float]:
    """(corr of predicted vs measured energy, voicing agreement), over the recording's speech."""
    steps = 2 * int(frames.sum())
    span = _cut(audio, start, start + steps * STEP_SAMPLES)
    with torch.no_grad():
        curves = prosody(m.sentence.encoding.d_en_tensor(), style, frames)
    measured_e = energy_curve(span, steps)
    f0, _ = voiced_f0(span, SR, frame_period_ms=1000 * STEP_SAMPLES / SR)
    first, last = speaking_span(audio, SR)
    centres = start + STEP_SAMPLES * np.arange(steps)
    inside = (centres >= first) & (centres <= last)
    predicted_e = curves.energy[0].numpy()[inside]
    voiced_pred = curves.f0_hz[0].numpy()[inside] > 40
    return (float(np.corrcoef(predicted_e, measured_e[inside])[0, 1]),
            float(np.mean(voiced_pred == (f0[:steps][inside] > 0))))


def _linear_alignment(audio: np.ndarray, rendition: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, int]:
    """The rendition's token timing stretched linearly over the recording's speech (pads kept)."""
    r0, r1 = speaking_span(rendition, SR)
    a0, a1 = speaking_span(audio, SR)
    bounds = np.concatenate([[0], np.cumsum(frames)]) * 600.0
    mapped = a0 + (bounds - r0) * (a1 - a0) / (r1 - r0)
    mapped[0], mapped[-1] = mapped[1] - bounds[1], mapped[-2] + bounds[-1] - bounds[-2]
    start = int(np.round(mapped[0]))
    total = int(np.round((mapped[-1] - start) / 600))
    return quantize_boundaries((mapped[1:-1] - start) / 600, total), start


def _cut(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    out = np.zeros(stop - start, dtype=np.float32)
    lo, hi = max(start, 0), min(stop, samples.size)
    out[lo - start:hi - start] = samples[lo:hi]
    return out


def _mean(values) -> float:
    return round(float(np.mean(list(values))), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", default=[], help="a corpus folder (RAVDESS, nEMO); repeat")
    parser.add_argument("--clips-per-corpus", type=int, default=20)
    parser.add_argument("--parts", default="units,align,human")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    bb = Backbone.load(precision="float")
    result = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 2 shared cores",
              "rendition_voices": RENDITION_VOICES}
    parts = args.parts.split(",")
    for name, run in (("units", lambda: units(bb)), ("align", lambda: align(bb)),
                      ("human", lambda: human(args.data, args.clips_per_corpus))):
        if name in parts:
            start = time.perf_counter()
            result[name] = run()
            print(name, f"{time.perf_counter() - start:.0f} s", json.dumps(result[name], ensure_ascii=False)[:2000], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
