"""Where torch work runs: ``--device auto|cpu|cuda``, resolved once.

serkit never needs a GPU: ``cpu`` is the default everywhere and behaves as if
this module did not exist.  ``auto`` is ``cuda`` where torch sees a GPU, else
``cpu``; ``cuda`` without one is refused, never silently run on the CPU.

Training records the device it resolved to in its settings
(``TrainConfig.device``), since bf16 autocast on CUDA gives other numbers.
Features that run torch models (the Whisper encoder) read ``$SERKIT_DEVICE``,
which ``--device`` sets, so that spawned extraction workers see it too; it is
no part of a feature's cache key: the encoder runs in float32 (no TF32) on
either device, the same numbers up to rounding.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import logging
import os
import platform
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from serkit.errors import SerkitError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
#: The device features' torch models run on (a name of :data:`DEVICES`; unset: cpu).
DEVICE_VARIABLE = "SERKIT_DEVICE"


def resolve_device(name: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a name of :data:`DEVICES`; refuses cuda where there is no GPU."""
    if name not in DEVICES:
        raise SerkitError(f"device {name!r}: choose one of {', '.join(DEVICES)}")
    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise SerkitError("--device cuda: torch sees no GPU here (torch.cuda.is_available() is False); "
                          "use --device cpu, or auto")
    if name == "auto":
        return "cuda" if available else "cpu"
    return name


def use_device(recipe: Any, name: str) -> Any:
    """``recipe`` (a recipe: ``train`` holds a ``TrainConfig``) training on device ``name``
    resolved, which features' torch models run on too: the command line's ``--device``.
    It sets ``$SERKIT_DEVICE`` for this process and the workers it starts."""
    device = resolve_device(name)
    os.environ[DEVICE_VARIABLE] = device
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, device=device))


def feature_device() -> torch.device:
    """The device of features' torch models: ``$SERKIT_DEVICE`` resolved, the CPU when it is unset."""
    return torch.device(resolve_device(os.environ.get(DEVICE_VARIABLE) or "cpu"))


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """On CUDA, float32 matrix products and convolutions without TF32 for the block (cuDNN uses
    TF32 by default, about 1e-3 off); elsewhere nothing."""
    if device.type != "cuda":
        yield
        return
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


#: How :func:`machine_name` marks a GPU (a processor name never starts so).
GPU_MACHINE = "GPU: "


def machine_name(device: str = "cpu") -> str:
    """What a figure was computed on, as results record it: the processor (or the GPU, on
    ``cuda``) and torch's version.  Training on another processor type gives other weights by
    float rounding (its kernels add in another order), which early stopping can turn into other
    figures, so a rerun's figures are comparable bit for bit only on the same kind of machine."""
    if device == "cuda" and torch.cuda.is_available():
        return f"{GPU_MACHINE}{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{processor_name()} (torch {torch.__version__})"


def gpu_machines(machines: list[str] | None) -> list[str]:
    """The GPUs among a run's recorded machines (:func:`machine_name`), for tables that must name them."""
    return [m.removeprefix(GPU_MACHINE) for m in machines or () if m.startswith(GPU_MACHINE)]


def processor_name() -> str:
    """The processor's model name, as /proc/cpuinfo gives it (else what the platform says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown processor"


# glibc's mallopt parameters (malloc.h) and defaults
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
# The allocator's settings belong to the process, so blocks open at once (nested, or in threads) share
# them: the last one to close restores the defaults.
_open_blocks = [0]
_blocks_lock = threading.Lock()


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Large freed blocks kept for reuse inside the block instead of handed back to the system.

    glibc serves every allocation over at most 32 MB (a batch's activations) with a fresh mmap
    and unmaps it when freed, so each training step has the kernel map and zero its activations
    again, page by page: for seed 002's CNN nearly half a step went to the kernel, and a step
    took 1.7 to 2.9 times as long as with the memory kept (docs/benchmarks.md, "CPU training steps").
    Inside the block they come from the heap and stay there, so the process holds its peak
    memory until the block ends, when the heap is trimmed.  The numbers computed do not change.
    Nothing happens without glibc, or where the user set glibc's ``MALLOC_*`` variables.  Only the
    main thread gains: another thread's arena holds heaps of at most 64 MB, so its large blocks
    are still mapped afresh (the CLI trains on the main thread)."""
    libc = _glibc()
    if libc is None or any(name.startswith("MALLOC_") for name in os.environ):
        yield
        return
    with _blocks_lock:
        _open_blocks[0] += 1
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    try:
        yield
    finally:
        with _blocks_lock:
            _open_blocks[0] -= 1
            if not _open_blocks[0]:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError as error:
        log.debug("glibc not loaded (%s): freed memory is handed back as ever", error)
        return None
