"""Exceptions shared by every stage of the pipeline.

Each error carries enough to tell a user what went wrong without a traceback:
an :class:`AudioError` names the file and the reason.
"""

from __future__ import annotations

from pathlib import Path


class SerkitError(Exception):
    """Base class of every error serkit raises on purpose."""


class AudioError(SerkitError):
    """A file that cannot be used as audio, with the reason why."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class CorpusError(SerkitError):
    """A corpus whose layout or labels do not match what its reader expects."""


class LeakageError(SerkitError):
    """A split that puts the same audio, speaker or sentence on two sides."""


class ConfigError(SerkitError, ValueError):
    """An inconsistent configuration (of a feature, a model, a recipe)."""
