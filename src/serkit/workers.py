"""Worker processes that end with their parent.

A pool's workers are separate processes: killed with ``kill -9``, the parent
cannot stop them, and a fold worker would go on training for minutes and write
into a run folder that a rerun may already own.  Each worker therefore calls
:func:`exit_with_parent` when it starts: a daemon thread notices that the
parent has gone (the worker is re-parented, so ``os.getppid()`` changes) and
ends the worker at once.  Polling works under ``fork`` and ``spawn`` alike and
on every POSIX system, where ``prctl(PR_SET_PDEATHSIG)`` is Linux-only and
fires when the parent's *thread* that started the worker ends.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

#: Seconds between two looks at the parent: how long an orphan may outlive it.
POLL_SECONDS = 0.5
#: Exit status of a worker that ended because its parent had gone.
ORPHANED = 70


def exit_with_parent(parent: int | None = None, poll: float = POLL_SECONDS) -> threading.Thread:
    """Start the watch in this (worker) process; returns its thread.

    ``parent`` is the pid the pool's owner passed down (``os.getpid()`` there):
    a worker whose parent died before it got here stops at once.
    """
    parent = os.getppid() if parent is None else parent
    thread = threading.Thread(target=_watch, args=(parent, poll), name="serkit-exit-with-parent", daemon=True)
    thread.start()
    return thread


def _watch(parent: int, poll: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll)
    log.warning("parent process %d is gone: this worker (%d) stops", parent, os.getpid())
    # Not sys.exit: that would only end this thread. Nothing half-written survives a
    # hard exit, because every file serkit writes is written atomically.
    os._exit(ORPHANED)
