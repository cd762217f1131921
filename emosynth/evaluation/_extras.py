"""Importing optional dependencies, turning their absence into :class:`MissingExtraError`."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingExtraError

__all__ = ["require"]


def require(module: str, *, what: str, extra: str) -> ModuleType:
    """Import ``module``, or raise ``MissingExtraError(what, extra)`` when it cannot be imported.

    When ``module`` is installed but one of *its* imports fails (a broken install), the message
    names that failure too, since reinstalling the extra alone may not mend it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = MissingExtraError(what, extra)
        if getattr(exc, "name", None) not in (module, None) and not module.startswith(f"{exc.name}."):
            error.args = (f"{error} (importing {module} failed: {exc})",)
        raise error from None
