"""A recipe expanded into the clips it asks for, in a fixed order, with stable names.

Which texts each (voice, emotion) condition speaks is drawn from a generator seeded by the
recipe's seed and the condition itself, so adding a voice or an emotion to a recipe leaves the
other conditions' clips as they were. Clip names are readable and stable:
``kumo_joy1_000.flac``, ``alpha_joy0.5+surprise0.3_001.flac``, ``kumo_neg-joy0.5_000.flac``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emotions import EmotionSpec
from .recipe import Recipe

__all__ = ["BatchItem", "plan_items", "plan_fingerprint", "assets_digest"]


@dataclass(frozen=True)
class BatchItem:
    """One clip to make."""

    index: int  # position in the plan (the manifest's order)
    clip_id: str
    text: str
    voice: str  # a voice spec, or the speaker of a recording
    emotion: EmotionSpec
    face_seed: int
    source: str = ""  # augmenting: the recording (absolute path); speaking: empty
    source_name: str = ""  # the recording's path under the recordings folder, for the manifest
    keep_speaker: float | None = None  # augmenting: see emosynth.augment.augment


def _slug(text: str) -> str:
    s = text.replace(":", "").replace(",", "+")
    s = re.sub(r"(^|\+)-", r"\1neg-", s)
    return re.sub(r"[^A-Za-z0-9.+_-]", "", s)


def _condition_seed(seed: int, voice: str, emotion: EmotionSpec) -> int:
    digest = hashlib.sha256(f"{seed}|{voice}|{emotion.text}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _recording_items(recipe: Recipe) -> list[BatchItem]:
    """Every recording x every emotion; the speaker is the recording's folder under the root."""
    items: list[BatchItem] = []
    root = recipe.recordings_root
    for path in recipe.recordings:
        rel = path.relative_to(root)
        speaker = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        stem = _slug("+".join(rel.with_suffix("").parts))
        for emotion in recipe.emotions:
            items.append(BatchItem(index=len(items), clip_id=f"{stem}_{_slug(emotion.text)}", text="", voice=speaker,
                                   emotion=emotion, face_seed=_condition_seed(recipe.seed, stem, emotion) % 2**31,
                                   source=str(path), source_name=rel.as_posix(),
                                   keep_speaker=recipe.keep_speaker))
    return items


def plan_items(recipe: Recipe) -> list[BatchItem]:
    """Every clip of the recipe: voices x emotions x per_condition texts (or recordings x emotions)."""
    if recipe.recordings:
        return _recording_items(recipe)
    items: list[BatchItem] = []
    n = len(recipe.texts)
    for voice in recipe.voices:
        for emotion in recipe.emotions:
            seed = _condition_seed(recipe.seed, voice, emotion)
            order = np.random.default_rng(seed).permutation(n)
            for k in range(recipe.per_condition):
                text = recipe.texts[int(order[k % n])]  # more clips than texts: cycle through them again
                items.append(BatchItem(index=len(items), clip_id=f"{_slug(voice)}_{_slug(emotion.text)}_{k:03d}",
                                       text=text, voice=voice, emotion=emotion, face_seed=(seed + k) % 2**31))
    return items


def assets_digest() -> str:
    """A digest of the shipped data that shapes every clip: voice catalogue, emotion tokens and
    neutral references, the human prosody profiles, the recognizer and audio-to-mouth weights.
    Resuming a folder after any of them changed would mix clips made two ways."""
    from importlib import resources

    from .. import __version__
    from ..voice.voices import assets_dir

    package = Path(str(resources.files("emosynth")))
    files = sorted(p for p in assets_dir().rglob("*") if p.is_file() and p.suffix in (".json", ".flac", ".npy", ".npz"))
    files += [package / "data" / "human_prosody_profiles.json", *sorted((package / "models").glob("*.npz"))]
    digest = hashlib.sha256(__version__.encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def plan_fingerprint(recipe: Recipe, items: list[BatchItem]) -> str:
    """A digest of everything that decides the files: a folder made by one plan (with the same
    shipped voices, profiles and models) is only resumed by the same plan."""
    body = {"assets": assets_digest(),
            "output": [recipe.output.format, recipe.output.sample_rate, recipe.output.face],
            "gate": [recipe.quality_gate.min_probability, recipe.quality_gate.action],
            **({"keep_speaker": recipe.keep_speaker} if recipe.keep_speaker is not None else {}),
            "items": [[i.clip_id, i.text, i.voice, i.emotion.text, i.face_seed, i.source] for i in items]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
