"""Reproduce the recognizer's cross-validated figures and measure its speed on this machine.

    python benchmarks/bench_recognizer.py --data ../shared/data/ravdess --data ../shared/data/nemo \
        --weights-out emosynth/models/ser.npz

Accuracy: 5-fold leave-speakers-out cross-validation over both corpora (the same code
`emosynth train-ser` runs), for both classifiers (no reference / neutral reference of the speaker),
per corpus, measured on the clean recordings. Cross-corpus: trained on one corpus alone, tested
on the other (`--no-cross-corpus` skips it). Speed: `Recognizer.score_file` on clips of the
corpora, features not cached, repeated to show the spread. `--weights-out` also saves the weights
fitted on everything (what `emosynth train-ser` writes), so one run gives the shipped file and its
figures. `--compare` cross-validates other feature sets on the clean recordings (features cached);
`--block-screen` says which of an encoder's blocks carries the emotion best. `--from-weights FILE`
does not retrain: it records the cross-validation a training run stored in FILE, runs the
cross-corpus part (unless `--no-cross-corpus`) and measures speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from emosynth.audio import Audio, load_audio
from emosynth.evaluation import save_confusion_png
from emosynth.io import cache_dir, write_text_atomic
from emosynth.recognizer import Recognizer, RecognizerWeights
from emosynth.recognizer.corpus import read_corpora
from emosynth.recognizer.dataset import CorpusFeatures, extract_corpus_features
from emosynth.recognizer.features import (
    DEFAULT_FEATURE_SET,
    FEATURE_SETS,
    feature_encoders,
)
from emosynth.recognizer.train import cross_corpus, cross_validate, train_recognizer

ROOT = Path(__file__).resolve().parents[1]


def measure_speed(recognizer: Recognizer, paths: list[Path], repeats: int) -> dict:
    recognizer.score_file(paths[0])  # load the models outside the timing
    audio_s = sum(load_audio(p).duration_s for p in paths)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for p in paths:
            recognizer.score_file(p)
        runs.append(time.perf_counter() - start)
    per_run = [len(paths) / t for t in runs]
    return {
        "clips": len(paths),
        "audio_seconds": round(audio_s, 2),
        "mean_clip_seconds": round(audio_s / len(paths), 2),
        "repeats": repeats,
        "clips_per_second_mean": round(statistics.mean(per_run), 3),
        "clips_per_second_sd": round(statistics.stdev(per_run), 3) if repeats > 1 else 0.0,
        "real_time_factor_mean": round(statistics.mean(runs) / audio_s, 4),
        "real_time_factor_min": round(min(runs) / audio_s, 4),
        "real_time_factor_max": round(max(runs) / audio_s, 4),
    }


def voices_neutral_plain(weights: Path | None) -> dict:
    """How often every shipped voice's neutral renditions are heard as neutral with no reference
    (plain mode): the voice must not be read as an emotion. Two sentence sets: bench_voice's 20
    (which the 2026-12-06 screen of the speaker copies looked at) and the 12 fitting sentences of
    the voices' tokens and references (which no recognizer choice has looked at)."""
    import sys
    from collections import Counter

    from emosynth.synthesizer import Synthesizer
    from emosynth.voice.fitting import FIT_SENTENCES
    from emosynth.voice.voices import voice_catalog

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_voice import BENCH_SENTENCES

    recognizer = Recognizer.load(weights)
    out = {}
    for voice in voice_catalog():
        synth = Synthesizer(voice, recognizer=recognizer)
        out[voice] = {}
        for name, sentences in (("bench_sentences", BENCH_SENTENCES), ("fit_sentences", FIT_SENTENCES)):
            labels = [recognizer.score_array(u.audio, u.sample_rate_hz).label
                      for u in (synth.say(t, emotion="neutral", score=False) for t in sentences)]
            out[voice][name] = {"neutral": round(labels.count("neutral") / len(labels), 3),
                                "labels": dict(Counter(labels))}
        print(voice, out[voice], flush=True)
    return out


def compare_feature_sets(data: list[Path], names: list[str], seed: int,
                         modes: tuple[str, ...] = ("plain", "speaker")) -> dict:
    """Nested CV of each feature set on the clean recordings (no perturbed copies)."""
    clips = read_corpora(data)
    widest = "tiny.en+base"
    table = extract_corpus_features(clips, feature_set=widest, copies=0, progress=True)
    widths = {"tiny.en": 768, "base": 1024}
    out = {}
    for name in names:
        start, cols = 0, []
        for enc in feature_encoders(widest):
            if enc in feature_encoders(name):
                cols.extend(range(start, start + widths[enc]))
            start += widths[enc]
        cf = CorpusFeatures(table.features[:, cols], table.emotions, table.speakers, table.corpora,
                            table.channels, table.paths)
        cv = cross_validate(cf, n_folds=5, seed=seed, modes=modes)
        out[name] = cv.to_dict()
        print(name, {m: round(r.ua, 3) for m, r in cv.results.items()}, flush=True)
    return out


def own_length_check(data: list[Path], encoder: str, seed: int) -> dict:
    """Encoding each clip over its own length against padding it to Whisper's 30 s window, on one
    corpus (the first ``--data``): nested CV of the clean recordings with each, and encoding time."""
    from emosynth.recognizer.features import ClipFeatureExtractor, whisper_log_mel

    clips = read_corpora(data[:1])
    own = extract_corpus_features(clips, feature_set=encoder, copies=0, progress=True)
    cache = cache_dir() / f"padded-{encoder}.npz"
    extractor = ClipFeatureExtractor(encoder)
    window = 30 * 16_000

    def padded(samples: np.ndarray) -> np.ndarray:
        mel = whisper_log_mel(np.pad(samples, (0, window - len(samples))))
        held = extractor.encoder_states(encoder, mel, len(samples)).astype(np.float64)
        return np.concatenate([held.mean(axis=0), held.std(axis=0)])

    if cache.exists() and list(np.load(cache)["paths"]) == list(own.paths):
        padded_features = np.load(cache)["features"]
    else:
        from tqdm import tqdm

        padded_features = np.stack([padded(load_audio(p, target_rate_hz=16_000).samples)
                                    for p in tqdm(own.paths, desc=f"{encoder} padded to 30 s")])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, features=padded_features, paths=np.array(own.paths))
    out = {"corpus": data[0].name, "encoder": encoder, "clips": len(own.paths)}
    for name, features in (("own_length", own.features), ("padded_30s", padded_features)):
        cf = CorpusFeatures(features, own.emotions, own.speakers, own.corpora, own.channels, own.paths)
        cv = cross_validate(cf, n_folds=5, seed=seed)
        out[name] = {m: {"ua": round(r.ua, 4), "wa": round(r.wa, 4)} for m, r in cv.results.items()}
        print(name, out[name], flush=True)
    rng = np.random.default_rng(seed)
    timed = [load_audio(own.paths[i], target_rate_hz=16_000).samples for i in rng.choice(len(own.paths), 20, replace=False)]
    for name, fn in (("own_length", lambda x: extractor(Audio(x, 16_000))), ("padded_30s", padded)):
        fn(timed[0])
        start = time.perf_counter()
        for x in timed:
            fn(x)
        out[f"{name}_seconds_per_clip"] = round((time.perf_counter() - start) / len(timed), 4)
    out["mean_clip_seconds"] = round(float(np.mean([len(x) for x in timed])) / 16_000, 2)
    return out


def block_screen(data: list[Path], encoder: str, seed: int, cs: tuple[float, ...] = (0.01, 0.03)) -> dict:
    """Which encoder block to read: every block's pooled states of the clean recordings, each
    cross-validated in plain mode over the same 5 speaker folds, at fixed Cs (a screen: C is not
    chosen by an inner CV, so the figures are a little optimistic; the chosen block's nested
    figures are the main table's)."""
    from tqdm import tqdm

    from emosynth.recognizer import train
    from emosynth.recognizer.dataset import CLEAN
    from emosynth.recognizer.encoders import encoder_model_dir
    from emosynth.recognizer.features import clip_pieces, encoder_frames, whisper_log_mel
    from emosynth.recognizer.whisper_encoder import WhisperEncoder

    clips = read_corpora(data)
    model = encoder_model_dir(encoder) / "model.bin"
    cache = cache_dir() / f"block-screen-{encoder}.npz"
    paths = [str(c.path) for c in clips]
    whisper = WhisperEncoder(model)  # every block
    n_blocks = whisper.blocks
    if cache.exists() and list(np.load(cache)["paths"]) == paths:
        pooled = np.load(cache)["features"]
    else:
        pooled = np.zeros((n_blocks, len(clips), 2 * whisper.width))
        for i, clip in enumerate(tqdm(clips, desc=f"{encoder} states of every block")):
            samples = load_audio(clip.path, target_rate_hz=16_000).samples
            pieces = clip_pieces(samples)
            by_block = [whisper.states_by_block(whisper_log_mel(p)) for p in pieces]
            for b in range(n_blocks):
                held = np.concatenate([s[b][: encoder_frames(len(p))] for s, p in zip(by_block, pieces)])
                pooled[b, i] = np.concatenate([held.mean(axis=0), held.std(axis=0)])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, features=pooled, paths=np.array(paths))
    from emosynth.emotions import PRIMARY_EMOTIONS

    emotions = np.array([PRIMARY_EMOTIONS.index(c.emotion) for c in clips])
    speakers = np.array([c.speaker for c in clips])
    corpora = np.array([c.corpus for c in clips])
    folds = train._speaker_folds(speakers, corpora, 5, seed)
    out = {"encoder": encoder, "protocol": f"plain mode, 5 speaker folds, fixed C {list(cs)}, clean recordings",
           "blocks": {}}
    for b in range(n_blocks):
        table = CorpusFeatures(pooled[b], emotions, speakers, corpora, np.full(len(clips), CLEAN), tuple(paths))
        pred = np.zeros((len(cs), len(clips)), dtype=int)
        for held in folds:
            test = np.isin(speakers, held)
            fit_rows, test_rows = np.flatnonzero(~test), np.flatnonzero(test)
            sd = train.pooled_within_speaker_sd(table.features[fit_rows], speakers[fit_rows])
            for j, clf in enumerate(train._fit_path(train._design(table, fit_rows, "plain", sd), cs)):
                pred[j, test_rows] = clf.probabilities(table.features[test_rows]).argmax(axis=1)
        out["blocks"][str(b + 1)] = {
            str(c): {k: round(train._unweighted_accuracy(emotions[corpora == k], pred[j][corpora == k]), 4)
                     for k in sorted(set(corpora.tolist()))} for j, c in enumerate(cs)}
        print(encoder, "block", b + 1, out["blocks"][str(b + 1)], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help="corpus folder (repeat); default ../shared/data/ravdess and nemo")
    parser.add_argument("--features", default=DEFAULT_FEATURE_SET, choices=FEATURE_SETS)
    parser.add_argument("--copies", type=int, default=None, help="perturbed copies (default: the shipped number)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recognizer.json")
    parser.add_argument("--weights-out", type=Path, default=None, help="also save the weights fitted on everything")
    parser.add_argument("--plots", type=Path, default=ROOT / "docs", help="folder for the confusion matrices (PNG)")
    parser.add_argument("--compare", nargs="*", default=[], choices=FEATURE_SETS,
                        help="also cross-validate these feature sets on the clean recordings")
    parser.add_argument("--compare-modes", nargs="+", default=["plain", "speaker"], choices=["plain", "speaker"],
                        help="classifier modes the --compare runs cross-validate")
    parser.add_argument("--only-compare", action="store_true",
                        help="run only --compare (and --own-length-check), adding them to --out")
    parser.add_argument("--own-length-check", default=None, choices=("tiny.en", "base"),
                        help="compare own-length with 30 s padded encoding of this encoder on the first --data")
    parser.add_argument("--block-screen", nargs="+", default=[], choices=("tiny.en", "base"),
                        help="with --only-compare: screen every block of these encoders (which block to read)")
    parser.add_argument("--no-cross-corpus", action="store_true")
    parser.add_argument("--only-voices", action="store_true",
                        help="only measure the voices' neutral speech in plain mode with the shipped (or --weights-out) "
                             "weights, adding it to --out")
    parser.add_argument("--from-weights", type=Path, default=None,
                        help="do not retrain: record the cross-validation stored in these weights, run cross-corpus, measure speed")
    parser.add_argument("--speed-clips", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = args.data or [shared / "ravdess", shared / "nemo"]
    if args.only_voices:
        record = json.loads(args.out.read_text()) if args.out.exists() else {}
        record["voices_neutral_plain"] = voices_neutral_plain(args.weights_out)
        write_text_atomic(args.out, json.dumps(record, indent=2) + "\n")
        return

    if args.only_compare:
        record = json.loads(args.out.read_text()) if args.out.exists() else {}
        if args.compare:
            record["feature_sets_clean"] = compare_feature_sets(data, args.compare, seed=0,
                                                                modes=tuple(args.compare_modes))
        if args.own_length_check:
            record["own_length_check"] = own_length_check(data, args.own_length_check, seed=0)
        for encoder in args.block_screen:
            record.setdefault("block_screen", {})[encoder] = block_screen(data, encoder, seed=0)
        write_text_atomic(args.out, json.dumps(record, indent=2) + "\n")
        return

    if args.from_weights:
        # The figures a training run stored in the weights (its cross-validation), with speed measured
        # now: for a run stopped after saving them, or to re-measure speed.
        weights = RecognizerWeights.load(args.from_weights)
        info = weights.info
        if not info.get("cross_validation"):
            parser.error(f"{args.from_weights} holds no cross-validation (trained with --no-cv); "
                         "run without --from-weights to cross-validate and train")
        record = {"feature_set": weights.feature_set, "copies": info["copies"], "corpora": info["corpora"],
                  "cross_validation": info["cross_validation"], "c": info["c"],
                  "recorded_from": f"the cross-validation stored in {args.from_weights.name} by its training run"}
        # Cross-corpus runs train their own models, so they are measured again here (features cached).
        cross = None if args.no_cross_corpus else extract_corpus_features(
            read_corpora(data), feature_set=weights.feature_set, copies=info["copies"], progress=True)
    else:
        from emosynth.recognizer.channel import DEFAULT_COPIES

        copies = DEFAULT_COPIES if args.copies is None else args.copies
        start = time.perf_counter()
        result = train_recognizer(data, feature_set=args.features, copies=copies, progress=True)
        train_s = time.perf_counter() - start
        if args.weights_out:
            result.weights.save(args.weights_out)
        weights = result.weights
        record = {"feature_set": args.features, "copies": copies, "corpora": weights.info["corpora"],
                  "cross_validation": result.cross_validation.to_dict(), "c": weights.info["c"],
                  "train_seconds_including_cached_features": round(train_s, 1)}
        cross = None if args.no_cross_corpus else result.corpus
    record = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version()}, **record}
    cv = record["cross_validation"]
    if cross is not None:
        record["cross_corpus"] = cross_corpus(cross)
        print(json.dumps({k: {m: v[m]["ua"] for m in v} for k, v in record["cross_corpus"].items()}))
    if args.compare:
        record["feature_sets_clean"] = compare_feature_sets(data, args.compare, seed=0)
    clips = read_corpora(data)
    rng = np.random.default_rng(0)
    picks = [clips[i].path for i in sorted(rng.choice(len(clips), args.speed_clips, replace=False))]
    record["speed"] = measure_speed(Recognizer(weights), picks, args.repeats)
    record["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    write_text_atomic(args.out, json.dumps(record, indent=2) + "\n")
    titles = {"plain": "no reference", "speaker": "neutral reference"}
    for mode in ("plain", "speaker"):
        for corpus, res in cv[mode]["by_corpus"].items():
            save_confusion_png(res["confusion"], cv["labels"], args.plots / f"recognizer_cv_{corpus}_{mode}.png",
                               title=f"{corpus} held-out speakers, {titles[mode]}: UA {res['ua']:.3f}")
        print(f"{mode}: UA {cv[mode]['ua']:.3f} " + " ".join(f"{k} {v['ua']:.3f}" for k, v in cv[mode]["by_corpus"].items()))
    print(json.dumps(record["speed"], indent=2))


if __name__ == "__main__":
    main()
