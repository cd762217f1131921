"""One exception tree for emosynth: every error a user can cause is an ``EmosynthError``.

Messages say what was wrong and what is accepted, so the CLI can print them as they are.
"""

from __future__ import annotations

__all__ = [
    "EmosynthError",
    "AudioError",
    "CorpusError",
    "ModelError",
    "ManifestError",
    "MissingExtraError",
    "EmotionSpecError",
    "FaceError",
    "RecipeError",
]


class EmosynthError(Exception):
    """Base class of every error emosynth raises on purpose."""


class AudioError(EmosynthError):
    """An audio file or array that cannot be used (missing, not audio, empty, silent, corrupt)."""


class CorpusError(EmosynthError):
    """A training corpus folder that holds no usable, labelled clips."""


class ModelError(EmosynthError):
    """A model file that is missing, corrupt or of an incompatible version."""


class ManifestError(EmosynthError):
    """An evaluation manifest that cannot be read or names unknown emotions or files."""


class EmotionSpecError(EmosynthError):
    """An emotion spec (``joy:0.7``, ``va:0.6,0.4``, ...) that does not follow the grammar."""


class FaceError(EmosynthError):
    """Face animation input or output that cannot be used (no timings, bad frame rate, bad track file)."""


class RecipeError(EmosynthError):
    """A batch recipe (or output folder) that cannot be used: bad YAML, unknown keys, bad values."""


class MissingExtraError(EmosynthError):
    """A dependency is not installed; the message names the extra that brings it, if any."""

    def __init__(self, what: str, extra: str | None = None) -> None:
        if extra is None:  # a core dependency: the installation itself is broken
            fix = "emosynth installs it; reinstall with: pip install --force-reinstall emosynth"
        else:
            fix = f"install it with: pip install 'emosynth[{extra}]'"
        super().__init__(f"{what} needs a dependency that is not installed; {fix}")
        self.extra = extra
