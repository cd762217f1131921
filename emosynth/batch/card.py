"""The dataset card written beside a batch: what is in it, how well the recognizer agrees, licences."""

from __future__ import annotations

from collections import Counter, defaultdict

from .. import __version__
from ..emotions import PRIMARY_EMOTIONS
from ..voice.voices import load_voice
from .recipe import Recipe

__all__ = ["dataset_card"]


def _agreement_table(rows: list[dict]) -> list[str]:
    by_target: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["target"]:
            by_target[r["target"]].append(r)
    sims = any(r.get("speaker_similarity") is not None for r in rows)
    lines = ["| target | clips | heard as target | mean probability of target |" + (" speaker similarity |" if sims else ""),
             "|---|---|---|---|" + ("---|" if sims else "")]
    for emotion in PRIMARY_EMOTIONS:
        group = by_target.get(emotion)
        if group:
            hits = sum(r["label"] == emotion for r in group)
            mean_p = sum(r["target_probability"] for r in group) / len(group)
            sim = ""
            if sims:
                values = [r["speaker_similarity"] for r in group if r.get("speaker_similarity") is not None]
                sim = f" {sum(values) / len(values):.2f} |" if values else " - |"
            lines.append(f"| {emotion} | {len(group)} | {hits / len(group):.2f} | {mean_p:.2f} |{sim}")
    untargeted = sum(1 for r in rows if not r["target"])
    if untargeted:
        lines.append(f"\n{untargeted} clips are pure negations (e.g. -joy:0.5): they ask for no particular "
                     "emotion, so they have no target and are not gated.")
    return lines


_RAVDESS = "CC BY-NC-SA 4.0, derived from RAVDESS (Livingstone & Russo 2018): non-commercial, share-alike"


def _licences(recipe: Recipe, rows: list[dict]) -> list[str]:
    """Every source whose terms reach the clips or the labels. The RAVDESS-derived parts (tokens,
    profiles, recognizer, audio-to-mouth model) make the dataset non-commercial as a whole."""
    if recipe.recordings:
        lines = [f"- recordings: {len(recipe.recordings)} files under {recipe.recordings_root}, under their own licence",
                 "- the emotional change (emosynth's human prosody profiles, applied with WORLD via pyworld, MIT): "
                 + _RAVDESS]
    else:
        voices = "; ".join(sorted({load_voice(v).licence for v in recipe.voices}))
        lines = ["- speech model: Kokoro-82M (hexgrad), Apache-2.0",
                 f"- voices: {voices} (Kokoro-82M voice packs)",
                 f"- emotion tokens (voices/tokens/, fitted to human prosody profiles): {_RAVDESS}",
                 f"- texts: {recipe.text_source}"]
    lines += ["- recognizer labels: emosynth's recognizer weights, CC BY-NC-SA 4.0, derived from RAVDESS "
              "(Livingstone & Russo 2018) and nEMO (Christop 2024): non-commercial, share-alike; its features "
              "come from Whisper base's encoder (OpenAI, MIT)"]
    if any(r.get("speaker_similarity") is not None for r in rows):
        lines.append("- speaker similarity: resemblyzer's speaker encoder, Apache-2.0")
    if recipe.output.face:
        lines.append("- face curves: emosynth's animator (Apache-2.0)" + (
            "; the mouth from emosynth's audio-to-mouth model (emosynth/models/audio_face.npz), " + _RAVDESS
            if recipe.recordings else ", the mouth from the voice's exact phoneme timings"))
    lines.append("- emosynth code: Apache-2.0. Taken together the dataset is for non-commercial use only.")
    return lines


def dataset_card(recipe: Recipe, rows: list[dict], failed: list[dict] = ()) -> str:
    """Markdown card for a finished (or partly finished) batch: ``rows`` of the clips made (kept
    or dropped), ``failed`` those of recordings that could not be used."""
    kept = [r for r in rows if not r.get("dropped")]
    dropped = len(rows) - len(kept)
    flagged = sum(1 for r in kept if not r["passed"])
    hours = sum(r["duration_s"] for r in kept) / 3600
    gate = recipe.quality_gate
    against = "the original recording" if recipe.recordings else "the voice's own neutral speech"
    per_voice = Counter(r["voice"] for r in kept)
    per_emotion = Counter(r["emotion"] for r in kept)
    licence_lines = _licences(recipe, rows)
    lines = [
        f"# {recipe.name}", "",
        recipe.description or "Emotional speech made with emosynth.", "",
        f"Made with emosynth {__version__}. Layout: Hugging Face `audiofolder` "
        "(`metadata.csv`, `file_name` first; the same rows in `manifest.jsonl`).", "",
        "## Contents", "",
        f"- clips: {len(kept)} ({hours * 60:.1f} minutes of speech) of {recipe.n_clips} planned",
        f"- {'speakers' if recipe.recordings else 'voices'}: {', '.join(f'{v} ({n})' for v, n in per_voice.items())}",
        f"- emotions: {', '.join(f'{e} ({n})' for e, n in per_emotion.items())}",
        (f"- words: {recipe.text_source}" if recipe.recordings
         else f"- texts: {len(recipe.texts)} sentences, {recipe.text_source}"),
        f"- audio: {recipe.output.format.upper()}, {recipe.output.sample_rate} Hz, 16-bit mono"
        + ("; face curves in face/ (EmoTalk-order .npy, Live Link Face .csv)" if recipe.output.face else ""),
        "",
        "## Quality gate", "",
        f"The speech-emotion recognizer (emosynth's, trained on human speech only: RAVDESS and nEMO) scored every "
        f"clip against {against}. Threshold: probability of the target emotion "
        f">= {gate.min_probability:g}; action: {gate.action}.", "",
        f"- passed: {len(kept) - flagged}", f"- flagged (kept, `passed` false): {flagged}",
        f"- dropped (no file): {dropped}", "",
        *([f"{len(failed)} clips could not be made (no file, not in the manifest):", "",
           *(f"- {r['source']} as {r['emotion']}: {r['error']}" for r in failed), ""] if failed else []),
        "### Recognizer agreement per target emotion (before the gate)", "",
        *_agreement_table(rows), "",
        "The recognizer often hears emosynth's emotional speech as neutral (docs/voice.md, docs/batch.md): "
        "treat `emotion` as what was requested and `label` as one judge's reading.", "",
        "## Licences", "",
        *licence_lines, "",
        "## Recipe", "", "```yaml", recipe.source_text.rstrip(), "```", "",
    ]
    return "\n".join(lines)
