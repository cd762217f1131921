"""The voices users pick: names, blends, and each voice's emotion tokens and neutral reference.

The catalogue is ``voices/catalog.json`` (installed as ``emosynth.voice_assets``): a short name
per Kokoro voice pack, with gender, source and licence. Per voice, ``voices/tokens/NAME.json``
holds its emotion tokens (:class:`~emosynth.voice.prosody.EmotionTokenBank`) and
``voices/references/NAME.npz`` the recognizer's statistics of its neutral speech, so a clip of
that voice can be judged against its own neutral (see docs/recognizer.md). A blend's reference
is built from its own neutral speech on first use and cached (:mod:`emosynth.voice.references`).

A voice may be a blend, ``kumo:0.6,alpha:0.4``: the style vectors and the emotion tokens mix
linearly with the same weights (weights are normalised to sum to 1).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..recognizer.model import SpeakerReference
from .assets import style_for
from .emotion_contour import EmotionContour
from .errors import VoiceError
from .prosody import EmotionToken, EmotionTokenBank, ProsodyControls
from .references import read_reference

__all__ = ["Voice", "VoiceInfo", "voice_catalog", "load_voice", "assets_dir", "DEFAULT_VOICE"]


def assets_dir() -> Path:
    """The voices/ folder (inside the installed package as ``emosynth.voice_assets``)."""
    return Path(str(resources.files("emosynth.voice_assets")))


@dataclass(frozen=True)
class VoiceInfo:
    """One catalogued voice."""

    name: str
    pack: str  # Kokoro voice pack name
    gender: str
    note: str


@lru_cache(maxsize=1)
def _catalog() -> dict:
    return json.loads((assets_dir() / "catalog.json").read_text())


def voice_catalog() -> dict[str, VoiceInfo]:
    """Every shipped voice by name."""
    return {name: VoiceInfo(name=name, **v) for name, v in _catalog()["voices"].items()}


DEFAULT_VOICE: str = "kumo"


@dataclass(frozen=True)
class Voice:
    """A voice or a blend of voices, ready to speak: packs, weights, tokens, reference."""

    name: str  # canonical spec, e.g. "kumo" or "kumo:0.60,alpha:0.40"
    parts: tuple[tuple[VoiceInfo, float], ...]
    tokens: EmotionTokenBank
    reference: SpeakerReference | None  # the recognizer's view of its neutral speech

    def style(self, n_tokens: int) -> np.ndarray:
        """The neutral style vector (256,) for an input of ``n_tokens`` phoneme tokens."""
        return sum(w * style_for(info.pack, n_tokens) for info, w in self.parts).astype(np.float32)

    @property
    def licence(self) -> str:
        return _catalog()["licence"]

    def to_dict(self) -> dict:
        return {"name": self.name, "parts": [{"voice": i.name, "pack": i.pack, "weight": round(w, 4)}
                                             for i, w in self.parts],
                "licence": self.licence, "tokens": self.tokens.info.get("method", "")}


def _parse_voice_spec(spec: str) -> list[tuple[str, float]]:
    catalog = voice_catalog()
    parts = []
    for term in (t.strip() for t in spec.split(",")):
        name, _, weight = term.partition(":")
        name = name.strip().lower()
        if name not in catalog:
            close = difflib.get_close_matches(name, list(catalog), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise VoiceError(f"unknown voice {name!r}{hint}; voices: {', '.join(catalog)}; "
                             "a blend is written kumo:0.6,alpha:0.4")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise VoiceError(f"voice weight {weight!r} in {spec!r} is not a number") from None
        if not (np.isfinite(w) and w > 0):
            raise VoiceError(f"voice weight of {name!r} must be a number above 0, got {weight}")
        parts.append((name, w))
    return parts


def load_tokens(name: str) -> EmotionTokenBank:
    path = assets_dir() / "tokens" / f"{name}.json"
    return EmotionTokenBank.load(path)


@lru_cache(maxsize=1)
def emotion_contour() -> EmotionContour:
    """The shipped emotion contour model (voices/emotion_contour.npz), read once."""
    return EmotionContour.load(assets_dir() / "emotion_contour.npz")


def reference_path(name: str) -> Path:
    """Where a catalogued voice's shipped neutral reference lives: voices/references/NAME.npz."""
    return assets_dir() / "references" / f"{name}.npz"


def load_reference(name: str) -> SpeakerReference | None:
    """The shipped neutral reference of a catalogued voice, None if it has none."""
    path = reference_path(name)
    return read_reference(path) if path.exists() else None


def _blend_tokens(banks: list[tuple[EmotionTokenBank, float]]) -> EmotionTokenBank:
    emotions = banks[0][0].tokens.keys()
    tokens = {}
    for e in emotions:
        style = sum(w * b.tokens[e].style for b, w in banks)
        controls = ProsodyControls()
        for b, w in banks:
            controls = controls + w * b.tokens[e].controls
        # a contour only where every part has one (a voice fitted before contours existed has none)
        contours = [b.tokens[e].contour for b, _ in banks]
        contour = (sum(w * b.tokens[e].contour for b, w in banks) if len({c.shape for c in contours}) == 1
                   and contours[0].size else np.zeros(0))
        tokens[e] = EmotionToken(style=style, controls=controls, contour=contour)
    return EmotionTokenBank(tokens=tokens, info={"method": "blend of " + ", ".join(
        f"{b.info.get('voice', '?')}:{w:.2f}" for b, w in banks)})


def load_voice(spec: str | None = None) -> Voice:
    """A voice by name (``kumo``) or blend (``kumo:0.6,alpha:0.4``); None gives the default."""
    parts = _parse_voice_spec(spec or DEFAULT_VOICE)
    total = sum(w for _, w in parts)
    catalog = voice_catalog()
    weighted = [(catalog[n], w / total) for n, w in parts]
    if len(weighted) == 1:
        name = weighted[0][0].name
        return Voice(name=name, parts=tuple(weighted), tokens=load_tokens(name), reference=load_reference(name))
    name = ",".join(f"{info.name}:{w:.2f}" for info, w in weighted)
    tokens = _blend_tokens([(load_tokens(info.name), w) for info, w in weighted])
    # A blend ships no reference: the synthesizer builds its own on first use and caches it on
    # disk (emosynth.voice.references), so loading a blend stays cheap.
    return Voice(name=name, parts=tuple(weighted), tokens=tokens, reference=None)
