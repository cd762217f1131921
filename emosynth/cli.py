"""The ``emosynth`` command: a thin shell over the Python API.

Each command parses its options, makes one API call and hands the result to a writer. Errors
a user can cause (``EmosynthError``) are printed as one line, never as a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib import resources
from pathlib import Path

import click

from .emotions import CIRCUMPLEX, PRIMARY_EMOTIONS
from .errors import EmosynthError
from .face.train import UTTERANCES_PER_VOICE
from .recognizer.channel import DEFAULT_COPIES as DEFAULT_TRAINING_COPIES
from .recognizer.features import DEFAULT_FEATURE_SET, FEATURE_SETS

__all__ = ["main", "cli"]


def _sample_files() -> list[Path]:
    folder = Path(str(resources.files("emosynth") / "data" / "samples"))
    return sorted(p for p in folder.iterdir() if p.suffix in {".flac", ".wav"})


def _show_progress() -> bool:
    return sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="emosynth")
def cli() -> None:
    """emosynth: emotional speech, judged by a speech-emotion recognizer trained on human speech.

    Start with: emosynth say --emotion joy:0.7 "The train leaves at ten."
    """


@cli.command()
@click.argument("text", required=False)
@click.option("--emotion", "-e", default="neutral", show_default=True,
              help="Target emotion: joy, joy:0.7, joy:0.5,surprise:0.3, -joy:0.5, delight, va:0.6,0.4 "
                   "(see `emosynth emotions`).")
@click.option("--voice", "-v", default=None, help="A voice (`emosynth voices`) or a blend kumo:0.6,alpha:0.4; default kumo.")
@click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=None,
              help="Audio file to write (.wav or .flac); default say.wav, inside the --face folder when one is given.")
@click.option("--json", "as_json", is_flag=True,
              help="Also write OUT with suffix .json: phoneme timings, F0 track, the resolved emotion, scores.")
@click.option("--no-score", is_flag=True, help="Skip the recognizer's verdict (faster).")
@click.option("--face", "face_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also animate the face: write its blendshape track into this folder as a Live Link Face "
                   "CSV, JSON curves, an EmoTalk-order .npy and a glTF avatar (.glb), and the rendered "
                   "avatar as MP4 (extra: emosynth[video]), named after --out.")
@click.option("--fps", type=click.Choice([str(f) for f in (24, 25, 30, 50, 60)]), default="30", show_default=True,
              help="Frame rate of the face track.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the face's blinks, gaze and head motion.")
@click.option("--portrait", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --face: the MP4 animates this photo (one face, seen from the front) instead of the "
                   "avatar (extras: emosynth[facecheck,video]).")
def say(text: str | None, emotion: str, voice: str | None, out_path: Path | None, as_json: bool, no_score: bool,
        face_dir: Path | None, fps: str, seed: int, portrait: Path | None) -> None:
    """Speak TEXT with an emotion and print the recognizer's verdict.

    With no TEXT, speaks a short demonstration sentence.
    """
    from .io import write_text_atomic
    from .synthesizer import AUDIO_FORMATS, Synthesizer

    if out_path is None:  # audio, curves and video together when a face folder is asked for
        out_path = (face_dir or Path()) / "say.wav"
    if out_path.suffix.lower() not in AUDIO_FORMATS:  # refuse before any work is done
        raise click.BadParameter(f"{out_path}: accepted suffixes are {', '.join(AUDIO_FORMATS)}", param_hint="--out")
    if portrait is not None and face_dir is None:
        raise click.BadParameter("animating a portrait needs --face DIR (where the video goes)", param_hint="--portrait")
    renderer = _portrait_renderer(portrait)
    # An explicit "" is a mistake (often an unset shell variable), not a request for the demo sentence:
    # the synthesizer refuses it with the same message as whitespace.
    utterance = Synthesizer(voice=voice).say(_DEMO_TEXT if text is None else text, emotion=emotion,
                                             score=not no_score)
    track = None
    if face_dir is not None:  # animate before writing anything, so an error leaves no partial output
        from .face import TRACK_FORMATS, animate_utterance

        track = animate_utterance(utterance, fps=int(fps), seed=seed)
    utterance.save(out_path)
    if as_json:
        write_text_atomic(out_path.with_suffix(".json"), json.dumps(utterance.to_dict(), indent=1) + "\n")
    click.echo(f"wrote {out_path} ({utterance.duration_s:.2f} s, voice {utterance.voice}, "
               f"emotion {utterance.emotion.text})")
    if track is not None:
        written = [track.save(face_dir / f"{out_path.stem}{suffix}") for suffix in TRACK_FORMATS]
        click.echo(f"wrote face track ({track.n_frames} frames at {track.fps} fps): "
                   + ", ".join(str(p) for p in written))
        _write_video(track, utterance.audio, utterance.sample_rate_hz, face_dir / f"{out_path.stem}.mp4", renderer)
    if utterance.scores is not None:
        s = utterance.scores
        top = ", ".join(f"{e} {p:.2f}" for e, p in sorted(s.probabilities.items(), key=lambda kv: -kv[1])[:3])
        click.echo(f"recognizer hears: {s.label} ({s.confidence:.2f}); {top}; "
                   f"valence {s.valence:+.2f}, arousal {s.arousal:+.2f}")


def _portrait_renderer(path: Path | None):
    """The frames of --portrait, its face found and checked before any work is done; None: the avatar."""
    if path is None:
        return None
    from .errors import MissingExtraError
    from .face.portrait import PortraitRenderer, load_portrait

    try:
        import imageio_ffmpeg  # noqa: F401  (the portrait is only ever shown as video)
    except ImportError:
        raise MissingExtraError("--portrait (an MP4 of the photo)", extra="facecheck,video") from None
    return PortraitRenderer(load_portrait(path))


def _write_video(track, audio, sample_rate_hz: int, path: Path, renderer=None) -> None:
    """The rendered avatar (or portrait) as MP4 when the video extra is installed; otherwise say how to get it."""
    from .errors import MissingExtraError
    from .face.render import render_video

    try:
        render_video(track, audio, sample_rate_hz, path, renderer=renderer)
    except MissingExtraError as exc:
        click.echo(f"no video written: {exc}", err=True)
        return
    click.echo(f"wrote video {path}")


_DEMO_TEXT = "The train to the coast leaves at ten, and we will be there by noon."


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def voices(as_json: bool) -> None:
    """List the voices, with their source and licence."""
    from .voice.voices import DEFAULT_VOICE, assets_dir, voice_catalog

    rows = [{"voice": v.name, "pack": v.pack, "gender": v.gender, "default": v.name == DEFAULT_VOICE,
             "note": v.note} for v in voice_catalog().values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['voice']:<11} {r['gender']:<7} pack {r['pack']:<14} {'(default) ' if r['default'] else ''}{r['note']}")
    catalog = json.loads((assets_dir() / "catalog.json").read_text())
    click.echo(f"\nsource: {catalog['source']}\nlicence: {catalog['licence']}")
    click.echo("blend voices with --voice kumo:0.6,alpha:0.4")


@cli.command()
@click.option("--level", type=click.Choice(["normal", "strong", "pooled"]), default="normal", show_default=True,
              help="RAVDESS intensity level to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole shipped profile document as JSON.")
def profiles(level: str, as_json: bool) -> None:
    """Show how human actors change their voice from neutral to each emotion (measured on RAVDESS).

    These profiles shape the voices' emotion tokens; see voices/HUMAN_PROFILES.md.
    """
    from .profiles import format_profiles, load_human_profiles, load_profiles_document

    if as_json:
        click.echo(json.dumps(load_profiles_document(), indent=1))
        return
    click.echo(format_profiles(load_human_profiles(), level=level))


@cli.command("fit-emotions")
@click.option("--data", "data_dirs", multiple=True,
              type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="RAVDESS and nEMO folders (repeat), e.g. ../shared/data/ravdess and ../shared/data/nemo.")
@click.option("--voice", "-v", "names", multiple=True, help="Voice to make tokens for (repeat); default: every voice.")
@click.option("--half", "halves", multiple=True, type=click.Choice(["prosody", "decoder"]),
              help="Fit only this half of the embeddings now (run one per process to use two cores; "
                   "the decoder half includes its listener stage); the voices are made once both are done.")
@click.option("--references-only", is_flag=True,
              help="Only rebuild each voice's neutral reference with the current recognizer (after "
                   "retraining it); tokens and embeddings stay. About a minute a voice.")
@click.option("--tokens-only", is_flag=True,
              help="Only fit each voice's tokens and reference on the shipped embeddings and emotion "
                   "contour (voices/emotions.json, voices/emotion_contour.npz), without refitting them: "
                   "no --data needed. 30-35 minutes a voice on one core.")
def fit_emotions(data_dirs: tuple[Path, ...], names: tuple[str, ...], halves: tuple[str, ...],
                 references_only: bool, tokens_only: bool) -> None:
    """Fit the emotion embeddings on human speech, then every voice's tokens and neutral reference.

    1. Embeddings (voices/emotions.json): one style offset per emotion, fitted by gradient
       through Kokoro on the fitting half of RAVDESS and nEMO's speakers, the decoder half
       then refitted with what a listener trained on those speakers hears (docs/voice.md).
       Hours on 2 cores; checkpointed in the cache, so running the command again resumes.
    2. The emotion contour (voices/emotion_contour.npz): each emotion's F0 contour on top of
       the embedding's prosody half, fitted on the same clips (minutes).
    3. Tokens (voices/tokens, voices/references): the embeddings and contour on each voice's own
       neutral style, with controls for what remains of the human profile after their own
       effect on that voice, scaled by what the recognizer hears within
       word-error-rate, speaker-similarity and quality constraints (extras asr, speaker, quality).

    With --references-only, only each voice's neutral reference is rebuilt (after retraining the
    recognizer, whose features the references hold); with --tokens-only, only step 3 runs, on the
    shipped embeddings and contour.
    """
    from tqdm import tqdm

    from .errors import MissingExtraError
    from .recognizer import Recognizer
    from .voice.fitting import ALPHA_GRID, FIT_SENTENCES, fit_voice, neutral_reference, save_fit
    from .voice.emotion_contour import EmotionContour
    from .voice.prosody import EmotionEmbeddings
    from .voice.references import write_reference
    from .voice.voices import assets_dir, load_voice, reference_path, voice_catalog

    catalog = voice_catalog()
    for name in names:
        if name not in catalog:
            raise click.BadParameter(f"unknown voice {name!r}; voices: {', '.join(catalog)}", param_hint="--voice")
    if references_only and tokens_only:
        raise click.UsageError("--references-only and --tokens-only exclude each other")
    if references_only:
        recognizer = Recognizer.load()
        for name in names or tuple(catalog):
            with tqdm(total=len(FIT_SENTENCES), desc=f"reference of {name}", unit="clip",
                      disable=not _show_progress()) as bar:
                reference = neutral_reference(load_voice(name), recognizer, FIT_SENTENCES, progress=bar.update)
            write_reference(reference_path(name), reference)
            click.echo(f"{name}: {reference_path(name)}")
        return
    out, contour_out = assets_dir() / "emotions.json", assets_dir() / "emotion_contour.npz"
    if not tokens_only:
        if not data_dirs:
            raise click.UsageError("--data is required (the RAVDESS and nEMO folders) unless --references-only "
                                   "or --tokens-only")
        try:
            from .voice.learning.emotion_fit import HALVES
            from .voice.learning.shipped import fit_shipped_contour, fit_shipped_embeddings
        except MissingExtraError as exc:
            raise click.ClickException(str(exc)) from None
        if not _show_progress():
            # no bar where nobody watches: a line per checkpoint and per voice in the log instead
            logging.basicConfig(format="%(asctime)s %(message)s")
            logging.getLogger("emosynth").setLevel(logging.INFO)  # ours only: not the ASR's line per clip
        states = fit_shipped_embeddings(list(data_dirs), out, halves=halves or HALVES, progress=_show_progress())
        waiting = [half for half, s in zip(HALVES, states) if s is None or not s.done]
        if waiting:
            click.echo(f"embeddings: waiting for the {' and '.join(waiting)} half; run again when it is done")
            return
        click.echo(f"embeddings: {out}")
        fit_shipped_contour(list(data_dirs), contour_out, progress=_show_progress())
        click.echo(f"emotion contour: {contour_out}")
    embeddings, contour, recognizer = EmotionEmbeddings.load(out), EmotionContour.load(contour_out), Recognizer.load()
    for name in names or tuple(catalog):
        total = len(FIT_SENTENCES) * (1 + 6 * (1 + len(ALPHA_GRID)))  # neutral, embedding alone, each alpha
        if not _show_progress():
            click.echo(f"fitting {name}: {total} renditions ({len(FIT_SENTENCES)} more for each fallback alpha tried)", err=True)
        with tqdm(total=total, desc=f"fitting {name}", unit="clip", disable=not _show_progress()) as bar:

            def tick() -> None:
                if bar.n >= bar.total:  # a fallback alpha's renditions, beyond the grid's
                    bar.total += len(FIT_SENTENCES)
                bar.update()

            try:
                result = fit_voice(catalog[name], recognizer=recognizer, embeddings=embeddings, contour=contour,
                                   sentences=FIT_SENTENCES, progress=tick)
            except MissingExtraError as exc:
                raise click.ClickException(str(exc)) from None
        save_fit(result, name)
        click.echo(f"{name}: alpha {result.tokens.info['alpha']}")
        sys.stdout.flush()


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--reference", "-r", "references", multiple=True, type=click.Path(path_type=Path),
              help="A neutral recording of the same speaker (repeat for several). Scores are then "
                   "read relative to that speaker's neutral, which is more accurate.")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="Recognizer weights (.npz) from `emosynth train-ser`; default: the shipped ones.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (a list, one object per file; with --timeline, the timeline).")
@click.option("--timeline", "timeline_path", type=click.Path(path_type=Path), default=None,
              help="Instead of one verdict per file: which emotion is heard when in this recording (any length, "
                   "streamed), as segments of emotion or silence.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --timeline: also write the segments as CSV (start_s, end_s, label, confidence).")
@click.option("--png", "png_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --timeline: also draw the timeline as a coloured strip (PNG).")
def score(files: tuple[Path, ...], references: tuple[Path, ...], weights: Path | None, as_json: bool,
          timeline_path: Path | None, csv_path: Path | None, png_path: Path | None) -> None:
    """Score the emotion of FILES (WAV, FLAC, MP3, OGG; any rate; mono or stereo).

    With no FILES, scores the sample clips that ship with emosynth. A file that cannot be
    scored is reported with its reason and the rest are still scored; the exit status is 1
    if any file failed.

    With --timeline FILE, reads one recording in overlapping windows and prints which emotion is
    heard when (start, end, label, confidence); long silences are marked silence. See docs/timeline.md.
    """
    from tqdm import tqdm

    from .recognizer import Recognizer
    from .reporting import format_scores_table

    if timeline_path is None and (csv_path or png_path):
        raise click.UsageError("--csv and --png write a timeline; give --timeline FILE too")
    if timeline_path is not None and files:
        raise click.UsageError("give either FILES (one verdict each) or --timeline FILE (one recording), not both")
    recognizer = Recognizer.load(weights)
    reference = recognizer.reference_from_files(references) if references else None
    if timeline_path is not None:
        _score_timeline(recognizer, timeline_path, reference, as_json, csv_path, png_path)
        return
    paths = list(files) or _sample_files()
    outcomes = list(tqdm(recognizer.score_files(paths, reference=reference), total=len(paths),
                         desc="scoring", unit="file", disable=len(paths) < 2 or not _show_progress()))
    if as_json:
        click.echo(json.dumps([_outcome_dict(o) for o in outcomes], indent=2))
    else:
        click.echo(format_scores_table(outcomes))
    for o in outcomes:
        if o.error:
            click.echo(f"error: {o.error}", err=True)
    if any(o.error for o in outcomes):
        sys.exit(1)


def _score_timeline(recognizer, path: Path, reference, as_json: bool, csv_path: Path | None,
                    png_path: Path | None) -> None:
    """The timeline of one recording, printed and written; nothing is written if it cannot be read."""
    timeline = recognizer.timeline(path, reference=reference, progress=_show_progress())
    if csv_path is not None:
        timeline.save_csv(csv_path)
    if png_path is not None:
        timeline.save_png(png_path)
    if as_json:
        click.echo(json.dumps(timeline.to_dict(), indent=2))
        return
    click.echo(timeline.format_table())
    for written in (csv_path, png_path):
        if written is not None:
            click.echo(f"wrote {written}")


def _outcome_dict(outcome) -> dict:
    row = {"file": str(outcome.path), "ok": outcome.error is None}
    if outcome.error:
        row["error"] = outcome.error
    else:
        row.update(outcome.scores.to_dict())
    return row


@cli.command("train-ser")
@click.option("--data", "data_dirs", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Folder of labelled clips: RAVDESS or CREMA-D file names, or nEMO's data.tsv and audio/. "
                   "Repeat for several corpora (folds then hold speakers of each).")
@click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=Path("ser_weights.npz"),
              show_default=True, help="Where to write the weights (.npz).")
@click.option("--features", "feature_set", type=click.Choice(FEATURE_SETS), default=DEFAULT_FEATURE_SET,
              show_default=True, help="The Whisper encoders whose states the classifier reads.")
@click.option("--copies", default=DEFAULT_TRAINING_COPIES, show_default=True, type=click.IntRange(0, 4),
              help="Perturbed copies of every clip added to training: odd ones through a channel (vocoder, "
                   "noise, reverberation, codec, bandwidth, loudness), even ones with the speaker's pitch, "
                   "formants and tempo moved; held-out figures are always on the clean recordings.")
@click.option("--folds", default=5, show_default=True, help="Speaker-independent cross-validation folds.")
@click.option("--seed", default=0, show_default=True, help="Seed of the speaker-to-fold assignment and the copies.")
@click.option("--workers", type=int, default=None, help="Feature-extraction processes (default: all cores).")
@click.option("--no-cv", is_flag=True, help="Skip cross-validation; only fit the weights.")
@click.option("--json", "as_json", is_flag=True, help="Print the training record as JSON.")
def train_ser(data_dirs: tuple[Path, ...], out_path: Path, feature_set: str, copies: int, folds: int, seed: int,
              workers: int | None, no_cv: bool, as_json: bool) -> None:
    """Train the speech-emotion recognizer and report speaker-independent accuracy.

    `emosynth train-ser --data ../shared/data/ravdess --data ../shared/data/nemo --out ser.npz`
    reproduces the shipped weights. Features are cached by file content under ~/.cache/emosynth.
    """
    from .recognizer.train import train_recognizer
    from .reporting import format_training_record

    result = train_recognizer(data_dirs, feature_set=feature_set, copies=copies, n_folds=folds, seed=seed,
                              workers=workers, cross_validation=not no_cv, progress=_show_progress())
    result.weights.save(out_path)
    if as_json:
        click.echo(json.dumps(result.weights.info, indent=2))
    else:
        click.echo(format_training_record(result.weights.info))
        click.echo(f"weights written to {out_path}")


@cli.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("face"),
              show_default=True, help="Folder for the track (Live Link Face CSV, JSON curves, EmoTalk-order .npy, glTF avatar .glb) "
                   "and the rendered MP4 (extra: emosynth[video]).")
@click.option("--emotion", "-e", default="auto", show_default=True,
              help="The face's emotion: a spec (joy:0.7, ...) or auto (the recognizer's reading of the audio).")
@click.option("--fps", type=click.Choice([str(f) for f in (24, 25, 30, 50, 60)]), default="30", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the blinks, gaze and head motion.")
@click.option("--portrait", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The MP4 animates this photo (one face, seen from the front) instead of the avatar "
                   "(extras: emosynth[facecheck,video]).")
@click.option("--text", default=None,
              help="The words spoken: the mouth then follows phoneme timings aligned to the recording (lips close "
                   "on p, b, m); 'auto': the words the ASR extra hears (emosynth[asr]).")
def animate(audio: Path, out_dir: Path, emotion: str, fps: str, seed: int, portrait: Path | None,
            text: str | None) -> None:
    """Animate a face from a recording (WAV, FLAC, MP3, OGG): the mouth from the audio-to-mouth model,
    or from the words when --text gives them, the expression from --emotion."""
    from .audio import load_audio
    from .face import TRACK_FORMATS, animate as animate_face
    from .face.animator import MAX_AUDIO_S

    renderer = _portrait_renderer(portrait)  # checked before anything is written
    clip = load_audio(audio)
    if clip.duration_s > MAX_AUDIO_S:
        raise click.BadParameter(f"{audio} lasts {clip.duration_s:.0f} s; animate at most {MAX_AUDIO_S:.0f} s "
                                 "at a time (split longer recordings)", param_hint="AUDIO")
    track = animate_face(clip.samples, clip.sample_rate_hz, text=text, emotion=emotion, fps=int(fps), seed=seed)
    written = [track.save(out_dir / f"{audio.stem}{suffix}") for suffix in TRACK_FORMATS]
    click.echo(f"emotion {track.info['emotion']['text']}; {track.n_frames} frames at {track.fps} fps: "
               + ", ".join(str(p) for p in written))
    if text is None:
        click.echo("mouth from the audio alone; give the words (--text \"...\", or --text auto) for lips that "
                   "close on every p, b and m")
    _write_video(track, clip.samples, clip.sample_rate_hz, out_dir / f"{audio.stem}.mp4", renderer)


@cli.command("train-face")
@click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=Path("audio_face.npz"),
              show_default=True, help="Where to write the model (.npz).")
@click.option("--utterances", default=UTTERANCES_PER_VOICE, show_default=True, help="Utterances each voice speaks for training.")
@click.option("--held-out", default="alpha", show_default=True, help="Voice held out for the reported evaluation.")
@click.option("--seed", default=0, show_default=True, help="Seed of the texts, emotions and network.")
def train_face(out_path: Path, utterances: int, held_out: str, seed: int) -> None:
    """Train the audio-to-mouth model on the voices' own speech and exact timings.

    `emosynth train-face --out emosynth/models/audio_face.npz` reproduces the shipped model
    (1000 utterances are synthesised: about an hour on 2 cores).
    """
    from tqdm import tqdm

    from .face.train import train_audio_face
    from .voice.voices import voice_catalog

    voices = list(voice_catalog())
    if held_out not in voices:
        raise click.BadParameter(f"{held_out!r} is not a voice; choose from {', '.join(voices)}", param_hint="--held-out")
    with tqdm(total=utterances * len(voices), desc="pairs", unit="utt", disable=not _show_progress()) as bar:
        model, info = train_audio_face(voices, n_per_voice=utterances, held_out=held_out, seed=seed,
                                       progress=bar.update)
    model.save(out_path)
    click.echo(json.dumps(info["held_out"], indent=1))
    click.echo(f"model written to {out_path}")


@cli.command()
@click.argument("audio_dir", type=click.Path(path_type=Path))
@click.option("--manifest", "-m", required=True, type=click.Path(path_type=Path),
              help="CSV or JSONL: file, emotion, and optionally intensity, text, speaker, valence, arousal.")
@click.option("--out", "-o", "out_path", type=click.Path(path_type=Path), default=Path("eval_report.json"),
              show_default=True, help="Where to write the report as JSON; the confusion plot goes beside it.")
@click.option("--asr/--no-asr", default=False, show_default=True,
              help="Word error rate with offline Whisper tiny.en (extra: emosynth[asr]).")
@click.option("--speaker/--no-speaker", "speaker_sim", default=False, show_default=True,
              help="Speaker similarity of emotional to neutral clips (extra: emosynth[speaker]).")
@click.option("--quality/--no-quality", default=False, show_default=True,
              help="Predicted speech quality, DNSMOS P.835 and P.808 (extra: emosynth[quality]).")
@click.option("--reference/--no-reference", "use_reference", default=True, show_default=True,
              help="Read each speaker's clips relative to that speaker's neutral-target clips.")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="Recognizer weights (.npz); default: the shipped ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of text.")
def eval(audio_dir: Path, manifest: Path, out_path: Path, asr: bool, speaker_sim: bool, quality: bool,
         use_reference: bool, weights: Path | None, as_json: bool) -> None:  # noqa: A001 - the command's name
    """Measure the audio in AUDIO_DIR against the targets in a manifest.

    Reports emotion accuracy (UA, WA, confusion matrix, also as a PNG), intensity
    monotonicity, valence/arousal correlation, and optionally word error rate, speaker
    similarity and predicted speech quality. Prints the report and writes it as JSON.
    """
    from .evaluation import evaluate, read_manifest, save_confusion_png
    from .recognizer import Recognizer

    rows = read_manifest(manifest, audio_dir)
    report = evaluate(rows, recognizer=Recognizer.load(weights), with_asr=asr, with_speaker=speaker_sim,
                      with_quality=quality, use_reference=use_reference, progress=_show_progress())
    report.save_json(out_path)
    plot_path = out_path.with_suffix(".confusion.png")
    acc = report.accuracy
    save_confusion_png(acc.confusion, acc.labels, plot_path, title=f"emotion confusion (UA {acc.ua:.2f})")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(report.format_text())
    click.echo(f"report written to {out_path}; confusion plot to {plot_path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with keys primaries, secondaries, aliases and grammar.")
def emotions(as_json: bool) -> None:
    """List what an emotion spec can name, and the grammar of specs such as joy:0.7.

    Primaries with their valence-arousal positions (Russell & Mehrabian 1977), Plutchik's
    secondary emotions with their two primaries, the aliases, and the grammar with examples.
    """
    from .emotions import vocabulary

    vocab = vocabulary()
    if as_json:
        click.echo(json.dumps(vocab, indent=2))
        return
    click.echo("primaries (valence, arousal: Russell & Mehrabian 1977)")
    click.echo(f"  {'emotion':<16} {'valence':>8} {'arousal':>8}")
    for e in PRIMARY_EMOTIONS:
        click.echo(f"  {e:<16} {CIRCUMPLEX[e].valence:>8.2f} {CIRCUMPLEX[e].arousal:>8.2f}")
    click.echo("\nsecondaries (Plutchik's dyads; NAME:x is its two primaries at x/2 each)")
    click.echo(f"  {'emotion':<16} {'valence':>8} {'arousal':>8}   {'components':<20} dyad")
    for r in vocab["secondaries"]:
        parts = " + ".join(r["components"])
        click.echo(f"  {r['emotion']:<16} {r['valence']:>8.2f} {r['arousal']:>8.2f}   {parts:<20} {r['dyad']}")
    click.echo("\naliases")
    targets = dict.fromkeys(vocab["aliases"].values())
    for target in targets:
        names = ", ".join(a for a, t in vocab["aliases"].items() if t == target)
        click.echo(f"  {names} -> {target}")
    click.echo("\ngrammar")
    for line in vocab["grammar"].splitlines():
        click.echo(f"  {line}")


def _engine_options(command):
    """Where batch and augment render their clips."""
    for option in reversed([
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: processes on this machine; ray: tasks on an existing Ray cluster "
                          "(extra: emosynth[ray])."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Local worker processes (default: every CPU)."),
        click.option("--ray-address", default="auto", show_default=True,
                     help="With --engine ray: the cluster, auto (the one `ray start` made here) or ray://HOST:10001."),
    ]):
        command = option(command)
    return command


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Dataset folder: audio/, metadata.csv, manifest.jsonl, dataset_card.md. Run again to finish "
                   "an interrupted batch.")
@_engine_options
def batch(recipe: Path, out_dir: Path, engine: str, workers: int | None, ray_address: str) -> None:
    """Make an emotional speech dataset from a RECIPE (YAML; see recipes/ and docs/batch.md).

    Deterministic (the same recipe and seed give the same files) and resumable: stopped at any
    moment, the same command finishes the rest.
    """
    from .batch import load_recipe, run_batch

    plan = load_recipe(recipe)
    click.echo(f"{plan.name}: {plan.n_clips} clips ({len(plan.voices)} voices x {len(plan.emotions)} emotions x "
               f"{plan.per_condition}) into {out_dir}")
    result = run_batch(plan, out_dir, engine=engine, workers=workers, ray_address=ray_address,
                       progress=_show_progress())
    click.echo(f"made {result.rendered_now} clips now ({result.planned - result.rendered_now} were done before); "
               f"kept {result.kept} ({result.flagged} flagged by the quality gate), dropped {result.dropped}; "
               f"see {out_dir / 'dataset_card.md'}")


@cli.command()
@click.argument("in_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--emotions", default="all", show_default=True,
              help="Space-separated emotion specs, e.g. 'joy anger:0.5 -joy:0.5'; all: every primary at 1.")
@click.option("--format", "audio_format", type=click.Choice(["flac", "wav"]), default="flac", show_default=True)
@click.option("--sample-rate", type=click.Choice(["16000", "22050", "24000", "44100", "48000"]), default="16000",
              show_default=True)
@click.option("--keep-speaker", type=float, default=None, metavar="SIMILARITY",
              help="Move pitch less where it would bring a variant's speaker similarity below this, e.g. 0.85 "
                   "(needs emosynth[speaker]).")
@_engine_options
def augment(in_dir: Path, out_dir: Path, emotions: str, audio_format: str, sample_rate: str,
            keep_speaker: float | None, engine: str, workers: int | None, ray_address: str) -> None:
    """Emotional variants of the recordings in IN_DIR (any speaker), written to OUT_DIR with the same
    metadata.csv, manifest.jsonl and dataset card as `emosynth batch`.

    Each recording's pitch level, range and contour, tempo, loudness, spectral tilt and voice quality move
    as human actors' do (`emosynth profiles`); the speaker of a file is its folder under IN_DIR.
    Resumable like batch, locally or on Ray. Needs the extra emosynth[profiles] (pyworld). With --keep-speaker the
    pitch change is scaled back, per recording, until the variant keeps that speaker similarity.
    """
    import yaml

    from .batch import parse_recipe, run_batch

    specs = [e for e in emotions.split() if e]
    grid = {"primaries": "all", "intensities": [1.0]} if specs == ["all"] else {"specs": specs}
    text = yaml.safe_dump({"name": f"augment-{in_dir.resolve().name}", "recordings": str(in_dir.resolve()),
                           "emotions": grid, "output": {"format": audio_format, "sample_rate": int(sample_rate)},
                           **({"keep_speaker": keep_speaker} if keep_speaker is not None else {})},
                          sort_keys=False)
    plan = parse_recipe(text, where="augment")
    click.echo(f"{plan.name}: {plan.n_clips} clips ({len(plan.recordings)} recordings x {len(plan.emotions)} emotions) "
               f"into {out_dir}")
    result = run_batch(plan, out_dir, engine=engine, workers=workers, ray_address=ray_address,
                       progress=_show_progress())
    for problem in result.failed:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"made {result.rendered_now} clips now ({result.planned - result.rendered_now} were done before); "
               f"{len(result.failed)} could not be made; see {out_dir / 'dataset_card.md'}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--voice", "-v", default="kumo", show_default=True, help="The voice when a request names none.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Syntheses (or scorings) running at once; default: one per CPU core.")
@click.option("--queue-size", type=click.IntRange(min=0), default=None,
              help="Requests waiting for a worker before the server answers 503; default: 2 per worker.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, help="Seconds a request may take, waiting included (504 past it).")
@click.option("--api-key", default=None, envvar="EMOSYNTH_API_KEY", show_envvar=True,
              help="Require this key on every endpoint but /healthz (Authorization: Bearer KEY).")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="A browser origin allowed to call the API, e.g. http://localhost:3000 (repeat); none by default.")
def serve(host: str, port: int, voice: str, workers: int | None, queue_size: int | None, timeout_s: float,
          api_key: str | None, cors_origins: tuple[str, ...]) -> None:
    """Serve speech, face frames and the recognizer over HTTP and WebSocket, with an avatar page at /.

    OpenAI-compatible POST /v1/audio/speech, /v1/say, /v1/score, /v1/animate and WS /v1/stream;
    API docs at /docs. Models load once, before the first request. Extra: emosynth[serve].
    See docs/serve.md.
    """
    from .serve import ServeSettings, require_extra, run
    from .serve.settings import default_workers
    from .voice.voices import load_voice

    require_extra()
    load_voice(voice)  # an unknown default voice is refused before anything loads
    settings = ServeSettings(host=host, port=port, voice=voice, workers=workers or default_workers(),
                             queue_size=queue_size, timeout_s=timeout_s, api_key=api_key, cors_origins=cors_origins)
    click.echo(f"loading models; then serving on http://{host}:{port}/ ({settings.workers} workers"
               f"{', API key required' if api_key else ''})")
    run(settings)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning emosynth errors into one-line messages."""
    try:
        cli.main(args=argv, prog_name="emosynth", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EmosynthError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
