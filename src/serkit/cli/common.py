"""What every command shares: the consoles, one-line errors, and progress bars.

Command modules import these from here (not from ``main``), so that ``main``
can register them without an import cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bars

from serkit.errors import SerkitError
from serkit.progress import Progress, StageProgress

# Piped output is not cut to 80 columns: tables stay whole in logs and files.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a SerkitError into a one-line message and exit status 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SerkitError as e:
            # escaped: a message is text, and "[...]" in it (serkit[cluster]) is no markup
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return run


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A rich progress bar, handed to the library as a ``progress(done, total)`` callback."""
    with Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def stage_progress() -> Iterator[StageProgress]:
    """One bar per stage (features, each fold), for ``progress(stage, done, total)`` callbacks."""
    with Bars(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
