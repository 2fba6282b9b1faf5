"""Checkpoints, written atomically (a saved model folder is :mod:`serkit.artifacts`'s).

A run's ``checkpoints/`` folder holds::

    latest.json             {"name": "ckpt-000042"}: the complete checkpoint to resume from
    ckpt-000042/
        model.safetensors   the weights after that step
        best.safetensors    the best weights so far by the validation figure, if any
        model.json          as in a saved model
        state.pt            optimiser, scheduler, early-stopping counters, random
                            generator states, sampler position, epoch history

**Atomicity.**  A checkpoint is written into a temporary folder, flushed to
disk and renamed to its final name; then ``latest.json`` is replaced (a
temporary file and ``os.replace``), and only then are older checkpoints
removed.  Checkpoints are numbered in sequence and a number is never
reused, so no complete checkpoint is ever overwritten in place.  Killed at
any instant, the folder holds either the previous complete checkpoint or the
new one, never a mixture; leftovers are swept on the next write.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from serkit.artifacts import INFO, WEIGHTS, ModelInfo, json_text, load_weights, weights_bytes
from serkit.errors import SerkitError
from serkit.outputs import TEMPORARY_PREFIX, atomic_write_bytes, fsync_path, sweep_temporaries, write_flushed

log = logging.getLogger(__name__)

BEST_WEIGHTS = "best.safetensors"
STATE = "state.pt"
LATEST = "latest.json"
PREFIX = "ckpt-"
FORMAT = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """A checkpoint read back: weights, best weights (or None), settings and training state."""

    path: Path
    weights: dict[str, Tensor]
    best_weights: dict[str, Tensor] | None
    info: ModelInfo
    state: dict[str, Any]


def write_checkpoint(
    root: str | Path,
    *,
    weights: dict[str, Tensor],
    best_weights: dict[str, Tensor] | None,
    info: ModelInfo,
    state: dict[str, Any],
) -> Path:
    """Write a checkpoint under ``root`` atomically and make it the latest; returns its folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(root)
    numbers = [int(p.name.removeprefix(PREFIX)) for p in root.glob(f"{PREFIX}*") if p.is_dir()]
    name = f"{PREFIX}{max(numbers, default=-1) + 1:06d}"
    staging = root / f"{TEMPORARY_PREFIX}{name}-{os.getpid()}"
    staging.mkdir()
    write_flushed(staging / WEIGHTS, weights_bytes(weights))
    if best_weights is not None:
        write_flushed(staging / BEST_WEIGHTS, weights_bytes(best_weights))
    write_flushed(staging / INFO, json_text(info.to_dict()).encode())
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_flushed(staging / STATE, buffer.getvalue())
    final = root / name
    os.replace(staging, final)
    fsync_path(root)  # a rename is durable only once its directory is flushed
    atomic_write_bytes(root / LATEST, json_text({"name": name}).encode())
    for old in root.glob(f"{PREFIX}*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    log.debug("checkpoint %s written", final)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    """The folder ``latest.json`` names under ``root``, or None when there is no checkpoint."""
    pointer = Path(root) / LATEST
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text())["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise SerkitError(f"{pointer}: unreadable checkpoint pointer ({error})") from None
    path = Path(root) / name
    if not path.is_dir():
        raise SerkitError(f"{pointer}: names {name}, which does not exist")
    return path


def read_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    try:
        state = torch.load(path / STATE, map_location="cpu", weights_only=True)
        best = path / BEST_WEIGHTS
        return Checkpoint(
            path=path,
            weights=load_weights(path / WEIGHTS),
            best_weights=load_weights(best) if best.is_file() else None,
            info=ModelInfo.from_dict(json.loads((path / INFO).read_text()), path / INFO),
            state=state,
        )
    except (OSError, RuntimeError, ValueError, pickle.UnpicklingError) as error:
        raise SerkitError(f"{path}: unreadable checkpoint ({error})") from None
