"""Neutral references: the recognizer's view of a voice's neutral speech, shipped or built.

A clip is judged by how it departs from its speaker's neutral (:class:`SpeakerReference`: mean
and spread of the recognizer's features). Every shipped voice carries one in
``voices/references/NAME.npz``, written by ``emosynth fit-emotions`` from the voice's neutral
renditions of :data:`~emosynth.voice.fitting.FIT_SENTENCES`
(:func:`~emosynth.voice.fitting.neutral_reference`).

A blend such as ``kumo:0.6,alpha:0.4`` sounds like neither of its parts, so it gets its own
reference, built the same way: the same sentences read neutrally in the blended voice, the same
statistics. That takes about 20 s on two cores, so it is built once and cached in
``$XDG_CACHE_HOME/emosynth/references/`` (``~/.cache/emosynth/references/`` when the variable is
unset), written atomically. The file is named by a hash of everything the reference depends on
(:func:`reference_key`): the blend's normalised weights exactly, the voice packs' style vectors,
the Kokoro model, the sentences, the recognizer's feature version and corpus spread, and
:data:`REFERENCE_VERSION` with emosynth's version for the synthesis pipeline. Changing any of them
builds a new reference instead of reading a stale one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io import atomic_path, cache_dir
from ..recognizer.features import feature_version
from ..recognizer.model import SpeakerReference
from .assets import expected_model_sha256, voice_pack

if TYPE_CHECKING:
    from ..recognizer import Recognizer
    from .voices import Voice

__all__ = ["REFERENCE_VERSION", "built_reference", "read_reference", "reference_cache_dir", "reference_key",
           "voice_reference", "write_reference"]

log = logging.getLogger(__name__)

#: Bumped whenever the way neutral speech is synthesised changes, so cached references are rebuilt.
REFERENCE_VERSION = 1


def read_reference(path: Path) -> SpeakerReference:
    """A reference saved by :func:`write_reference` (arrays ``mean``, ``sd``, ``n_clips``)."""
    with np.load(path) as data:
        return SpeakerReference(mean=data["mean"], sd=data["sd"], n_clips=int(data["n_clips"]))


def write_reference(path: Path, reference: SpeakerReference) -> None:
    """Save ``reference`` as ``.npz``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, mean=reference.mean, sd=reference.sd, n_clips=reference.n_clips)


def reference_cache_dir() -> Path:
    """Where built references are cached: ``$XDG_CACHE_HOME/emosynth/references``."""
    return cache_dir() / "references"


def voice_reference(voice: Voice, recognizer: Recognizer) -> SpeakerReference:
    """The neutral reference to judge ``voice`` against: the shipped one where the voice has it,
    otherwise (a blend) one built from its own neutral speech and cached (see the module doc)."""
    if voice.reference is not None:
        return voice.reference
    return built_reference(voice, recognizer)


def built_reference(voice: Voice, recognizer: Recognizer, *, sentences: Sequence[str] | None = None,
                    cache_dir: Path | None = None) -> SpeakerReference:
    """``voice``'s neutral reference from the cache, built and cached on first use.

    ``sentences`` defaults to :data:`~emosynth.voice.fitting.FIT_SENTENCES`, the shipped
    references' sentences.
    """
    from . import fitting  # fitting imports the voices, which import this module

    sentences = tuple(fitting.FIT_SENTENCES if sentences is None else sentences)
    path = (cache_dir or reference_cache_dir()) / f"{reference_key(voice, recognizer, sentences)}.npz"
    if path.exists():
        try:
            return read_reference(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("rebuilding the unreadable cached reference %s (%s)", path, exc)
    log.info("building the neutral reference of %s from %d sentences (once; cached in %s)",
             voice.name, len(sentences), path.parent)
    reference = fitting.neutral_reference(voice, recognizer, sentences)
    write_reference(path, reference)
    return reference


def reference_key(voice: Voice, recognizer: Recognizer, sentences: Sequence[str]) -> str:
    """Hex digest naming the reference of ``voice`` read from ``sentences`` by ``recognizer``.

    Parts are sorted by pack, so ``kumo:0.6,alpha:0.4`` and ``alpha:2,kumo:3`` (the same blend
    once weights are normalised) share a reference; weights enter exactly (``repr`` of the float).
    """
    from .. import __version__

    parts = sorted((info.pack, repr(float(w))) for info, w in voice.parts)
    packs = hashlib.sha256()
    for pack, _ in parts:
        packs.update(np.ascontiguousarray(voice_pack(pack)).tobytes())
    record = {
        "reference_version": REFERENCE_VERSION,
        "emosynth": __version__,
        "parts": parts,
        "voice_packs_sha256": packs.hexdigest(),
        "model_sha256": expected_model_sha256(),
        "sentences": list(sentences),
        "feature_version": feature_version(recognizer.weights.feature_set),
        "pooled_sd_sha256": hashlib.sha256(np.ascontiguousarray(recognizer.weights.pooled_sd).tobytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]
