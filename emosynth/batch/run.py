"""Making a recipe's dataset: render clips on local processes or a Ray cluster, write them safely.

Crash safety rests on one rule: a clip counts as done only when its row file
(``.batch/rows/CLIP.json``) exists, and that file is written, atomically, after the clip's audio
(and face curves) are in place, each written atomically too. A run killed at any moment (kill -9
included) therefore leaves whole clips with rows, at most some whole files without rows (made
again on the next run) and stray temporary files (removed on the next run). ``metadata.csv``,
``manifest.jsonl`` and ``dataset_card.md`` are rebuilt from the rows in plan order at the end of
every run, so they always match the files.

Every clip is rendered the same way whichever engine runs it (one intra-op thread, the same
seeds), so local and Ray runs, with any number of workers, give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cpus import usable_cpus
from ..emotions import PRIMARY_EMOTIONS
from ..errors import EmosynthError, MissingExtraError, RecipeError
from ..io import write_bytes_atomic, write_text_atomic
from .card import dataset_card
from .plan import BatchItem, plan_fingerprint, plan_items
from .recipe import OutputSpec, QualityGate, Recipe

__all__ = ["BatchResult", "run_batch", "render_clip", "RenderedClip", "METADATA_COLUMNS", "ENGINES"]

ENGINES = ("local", "ray")
_STATE = ".batch"
METADATA_COLUMNS = (
    "file_name", "text", "voice", "emotion", "kind", *(f"w_{e}" for e in PRIMARY_EMOTIONS),
    "intensity", "valence", "arousal", "target", "label", "confidence", "target_probability",
    "heard_valence", "heard_arousal", "passed", "duration_s", "sample_rate", "source", "speaker_similarity",
)


@dataclass(frozen=True)
class RenderedClip:
    """What a worker hands back: the encoded audio, the face curves if asked, the metadata row."""

    clip_id: str
    audio: bytes
    track: object | None  # a BlendshapeTrack
    row: dict


@dataclass(frozen=True)
class BatchResult:
    out_dir: Path
    planned: int
    rendered_now: int  # clips made by this run (the rest were done before)
    kept: int
    flagged: int
    dropped: int
    failed: tuple[str, ...] = ()  # recordings that could not be used, with the reason


# -- one clip, in whichever process runs it -------------------------------------------------------
_synthesizers: dict = {}  # per worker process: voice -> Synthesizer
_recognizers: list = []  # per worker process: the one Recognizer


def _recognizer():
    """The process's recognizer, on one thread (workers run side by side)."""
    from ..recognizer import ClipFeatureExtractor, Recognizer

    if not _recognizers:
        weights = Recognizer.load().weights
        _recognizers.append(Recognizer(weights, extractor=ClipFeatureExtractor(weights.feature_set, threads=1)))
    return _recognizers[0]


def _synthesizer(voice: str):
    """One Synthesizer per voice and process, on one thread."""
    from ..synthesizer import Synthesizer

    if voice not in _synthesizers:
        _synthesizers[voice] = Synthesizer(voice, recognizer=_recognizer(), threads=1)
    return _synthesizers[voice]


def _encode(audio: np.ndarray, rate_in: int, output: OutputSpec) -> tuple[bytes, float]:
    import soundfile as sf
    from scipy.signal import resample_poly

    if output.sample_rate != rate_in:
        g = math.gcd(output.sample_rate, rate_in)
        audio = resample_poly(audio, output.sample_rate // g, rate_in // g)
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), output.sample_rate, format=output.format.upper(), subtype="PCM_16")
    return buf.getvalue(), len(audio) / output.sample_rate


def render_clip(item: BatchItem, output: OutputSpec, gate: QualityGate, source_bytes: bytes | None = None) -> RenderedClip:
    """Speak (or, for a recording, augment) one item, score it and build its metadata row.
    ``source_bytes``: the recording's file, read by the caller (workers without its disk)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # numeric libraries on one thread everywhere, so every engine gives the same bits
        return _render_clip(item, output, gate, source_bytes)


def _render_clip(item: BatchItem, output: OutputSpec, gate: QualityGate, source_bytes: bytes | None) -> RenderedClip:
    if item.source:
        try:
            audio_in, rate, scores, similarity, track = _augmented(item, output, source_bytes)
        except EmosynthError as exc:  # one unusable recording must not stop the batch: reported in the card
            return RenderedClip(clip_id=item.clip_id, audio=b"", track=None,
                                row={"file_name": f"audio/{item.clip_id}.{output.format}", "error": str(exc),
                                     "source": item.source_name, "emotion": item.emotion.text})
    else:
        utt = _synthesizer(item.voice).say(item.text, emotion=item.emotion, score=True)
        audio_in, rate, scores, similarity, track = utt.audio, utt.sample_rate_hz, utt.scores, None, None
        if output.face:
            from ..face import animate_utterance

            track = animate_utterance(utt, seed=item.face_seed)
    audio, duration = _encode(audio_in, rate, output)
    spec, s = item.emotion, scores
    # Pure negations (-joy:0.5) ask for no particular emotion: they have no target and pass the gate.
    target = spec.dominant if (spec.dominant != "neutral" or spec.intensity == 0.0) else ""
    p_target = s.probabilities[target] if target else float("nan")
    row = {
        "file_name": f"audio/{item.clip_id}.{output.format}", "text": item.text, "voice": item.voice,
        "emotion": spec.text, "kind": spec.kind,
        **{f"w_{e}": round(w, 4) for e, w in zip(PRIMARY_EMOTIONS, spec.weights)},
        "intensity": round(spec.intensity, 4), "valence": round(spec.valence, 4), "arousal": round(spec.arousal, 4),
        "target": target, "label": s.label, "confidence": round(s.confidence, 4),
        "target_probability": round(p_target, 4) if target else None,
        "heard_valence": round(s.valence, 4), "heard_arousal": round(s.arousal, 4),
        "passed": (not target) or p_target >= gate.min_probability,
        "duration_s": round(duration, 4), "sample_rate": output.sample_rate, "source": item.source_name,
        "speaker_similarity": None if similarity is None else round(similarity, 4),
    }
    return RenderedClip(clip_id=item.clip_id, audio=audio, track=track, row=row)


def _speaker_similarity(a: np.ndarray, b: np.ndarray, rate: int) -> float | None:
    """Cosine of the two clips' speaker embeddings, or None without the speaker extra."""
    from ..audio import prepare_array
    from ..evaluation.speaker import cosine_similarity, shared_encoder

    try:
        enc = shared_encoder()
    except MissingExtraError:
        return None
    a16, b16 = (prepare_array(x, rate, target_rate_hz=16000).samples for x in (a, b))
    return cosine_similarity(enc.embed(a16), enc.embed(b16))


def _augmented(item: BatchItem, output: OutputSpec, source_bytes: bytes | None):
    """A recording moved toward the item's emotion, read against the recording itself."""
    from ..audio import load_audio
    from ..augment import WORK_RATE_HZ, augment

    source = load_audio(item.source, target_rate_hz=WORK_RATE_HZ, data=source_bytes)
    variant = augment(source.samples, WORK_RATE_HZ, item.emotion, keep_speaker=item.keep_speaker)
    audio = variant.audio
    recognizer = _recognizer()
    reference = recognizer.reference_from_arrays([(source.samples, WORK_RATE_HZ)])
    scores = recognizer.score_array(audio, WORK_RATE_HZ, reference=reference)
    track = None
    if output.face:
        from ..face import animate

        track = animate(audio, WORK_RATE_HZ, emotion=item.emotion, seed=item.face_seed)
    similarity = variant.speaker_similarity  # measured already where keep_speaker asked for it
    if similarity is None:
        similarity = _speaker_similarity(source.samples, audio, WORK_RATE_HZ)
    return audio, WORK_RATE_HZ, scores, similarity, track


# -- engines --------------------------------------------------------------------------------------
def _local(todo: list[BatchItem], recipe: Recipe, workers: int) -> Iterator[RenderedClip]:
    if workers == 1:
        for item in todo:
            yield render_clip(item, recipe.output, recipe.quality_gate)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: onnxruntime's thread pools do not survive a fork
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(render_clip, item, recipe.output, recipe.quality_gate) for item in todo]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            for f in futures:
                f.cancel()


def _connect_ray(address: str | None):
    """The ray module, connected to the cluster (a session already started by the caller is used)."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--engine ray", extra="ray") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address or "auto", include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EmosynthError(f"cannot reach the Ray cluster at {address or 'auto'} ({exc}); start one with "
                                "`ray start --head`, or give --ray-address ray://HOST:10001") from None
    return ray


def _ray(todo: list[BatchItem], recipe: Recipe, address: str | None) -> Iterator[RenderedClip]:
    """Clips rendered on the cluster. Recordings travel with their tasks (the nodes need not share
    the driver's disk), so only a window of tasks is in flight at a time, not the whole corpus."""
    ray = _connect_ray(address)
    remote = ray.remote(num_cpus=1)(render_clip)
    window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    queue = iter(todo)
    pending: list = []
    try:
        while True:
            for item in queue:
                source = _read_source(item) if item.source else None
                pending.append(remote.remote(item, recipe.output, recipe.quality_gate, source))
                if len(pending) >= window:
                    break
            if not pending:
                return
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _read_source(item: BatchItem) -> bytes | None:
    """The recording's bytes; None where it cannot be read (the worker then reports why)."""
    try:
        return Path(item.source).read_bytes()
    except OSError:
        return None


# -- the folder -----------------------------------------------------------------------------------
def _remove_leftovers(out_dir: Path) -> None:
    """Temporary files of writes a killed run did not finish."""
    for tmp in out_dir.rglob(".*.part"):
        tmp.unlink(missing_ok=True)


def _check_folder(out_dir: Path, fingerprint: str, recipe: Recipe) -> Path:
    state = out_dir / _STATE
    stamp = state / "plan.sha256"
    if stamp.exists():
        if stamp.read_text().strip() != fingerprint:
            raise RecipeError(f"{out_dir} holds a dataset made from a different recipe (or seed), or with other "
                              "voices, emotion tokens, profiles or models (another emosynth); give a new --out "
                              "folder, or delete this one to start again")
    elif out_dir.exists() and any(p.name != _STATE for p in out_dir.iterdir()):
        raise RecipeError(f"{out_dir} is not empty and is not an emosynth batch folder; give a new or empty --out folder")
    (state / "rows").mkdir(parents=True, exist_ok=True)
    write_text_atomic(stamp, fingerprint + "\n")
    write_text_atomic(state / "recipe.yaml", recipe.source_text)
    return state / "rows"


def _done_rows(rows_dir: Path, out_dir: Path, items: list[BatchItem]) -> dict[str, dict]:
    """Rows of clips that are complete: the row exists and, unless dropped, so does the audio."""
    done = {}
    for item in items:
        path = rows_dir / f"{item.clip_id}.json"
        if not path.exists():
            continue
        row = json.loads(path.read_text())
        if row.get("dropped") or (out_dir / row["file_name"]).exists():
            done[item.clip_id] = row
    return done


def _write_clip(clip: RenderedClip, out_dir: Path, rows_dir: Path, gate: QualityGate) -> dict:
    row = dict(clip.row)
    audio_path = out_dir / row["file_name"]
    if "error" in row or (not row["passed"] and gate.action == "drop"):
        audio_path.unlink(missing_ok=True)
        row["dropped"] = True
    else:
        write_bytes_atomic(audio_path, clip.audio)
        if clip.track is not None:
            for suffix in (".npy", ".csv"):
                clip.track.save(out_dir / "face" / f"{clip.clip_id}{suffix}")
    write_text_atomic(rows_dir / f"{clip.clip_id}.json", json.dumps(row) + "\n")  # last: the clip is done
    return row


def _write_tables(out_dir: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METADATA_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in METADATA_COLUMNS})
    write_text_atomic(out_dir / "metadata.csv", buf.getvalue())
    write_text_atomic(out_dir / "manifest.jsonl",
                      "".join(json.dumps({k: row[k] for k in METADATA_COLUMNS}) + "\n" for row in rows))


def run_batch(recipe: Recipe, out_dir: str | os.PathLike[str], *, engine: str = "local", workers: int | None = None,
              ray_address: str | None = None, progress: bool = True,
              on_clip: Callable[[dict], None] | None = None) -> BatchResult:
    """Make (or finish making) the recipe's dataset in ``out_dir``."""
    if engine not in ENGINES:
        raise RecipeError(f"unknown engine {engine!r}; accepted: {', '.join(ENGINES)}")
    workers = workers or usable_cpus()
    if workers < 1:
        raise RecipeError(f"workers must be at least 1, got {workers}")
    out = Path(out_dir)
    if engine == "ray":
        _connect_ray(ray_address)  # before anything is written: an unreachable cluster leaves no folder
    items = plan_items(recipe)
    rows_dir = _check_folder(out, plan_fingerprint(recipe, items), recipe)
    _remove_leftovers(out)
    rows = _done_rows(rows_dir, out, items)
    todo = [i for i in items if i.clip_id not in rows]
    clips: Iterable[RenderedClip] = (_ray(todo, recipe, ray_address) if engine == "ray"
                                     else _local(todo, recipe, min(workers, max(1, len(todo)))))
    if todo:
        from tqdm import tqdm

        clips = tqdm(clips, total=len(todo), unit="clip", desc=recipe.name, disable=not progress,
                     file=sys.stderr, smoothing=0.1)
    for clip in clips:
        rows[clip.clip_id] = _write_clip(clip, out, rows_dir, recipe.quality_gate)
        if on_clip is not None:
            on_clip(rows[clip.clip_id])
    ordered = [rows[i.clip_id] for i in items]
    failed = [r for r in ordered if "error" in r]
    made = [r for r in ordered if "error" not in r]
    kept = [r for r in made if not r.get("dropped")]
    _write_tables(out, kept)
    write_text_atomic(out / "dataset_card.md", dataset_card(recipe, made, failed))
    return BatchResult(out_dir=out, planned=len(items), rendered_now=len(todo), kept=len(kept),
                       flagged=sum(1 for r in kept if not r["passed"]), dropped=len(made) - len(kept),
                       failed=tuple(f"{r['source']}: {r['error']}" for r in failed))
