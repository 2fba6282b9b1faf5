"""How library code reports progress without printing: a ``progress(done, total)`` callback.

Nothing below the command line knows about terminals (``DEVELOPERS.md``): a
long call takes an optional :data:`Progress` and calls it as work gets done;
the command line turns it into a bar.  A call with several stages (features,
then each fold) takes a :data:`StageProgress`, ``progress(stage, done,
total)``, and hands each stage :func:`for_stage` of it.

This module sits beside :mod:`serkit.errors` and imports no pipeline stage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

Progress = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` of ``total`` items finished."""

StageProgress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: the same, for one named stage of several."""


def for_stage(progress: StageProgress | None, stage: str) -> Progress | None:
    """``progress`` as one stage's ``(done, total)`` callback (None stays None)."""
    return None if progress is None else functools.partial(progress, stage)
