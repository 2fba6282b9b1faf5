"""Checkpoints and saved models, written atomically.

A saved model is a folder with ``model.safetensors`` (weights and buffers)
and ``model.json`` (model, feature and normalisation settings, the task with
its label set, the training settings and how the weights were chosen).

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
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from serkit.errors import SerkitError

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best.safetensors"
INFO = "model.json"
STATE = "state.pt"
LATEST = "latest.json"
PREFIX = "ckpt-"
TEMPORARY_PREFIX = ".tmp-"
FORMAT = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """A checkpoint read back: weights, best weights (or None), settings and training state."""

    path: Path
    weights: dict[str, Tensor]
    best_weights: dict[str, Tensor] | None
    info: dict[str, Any]
    state: dict[str, Any]


def write_checkpoint(
    root: str | Path,
    *,
    weights: dict[str, Tensor],
    best_weights: dict[str, Tensor] | None,
    info: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    """Write a checkpoint under ``root`` atomically and make it the latest; returns its folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _sweep_temporaries(root)
    numbers = [int(p.name.removeprefix(PREFIX)) for p in root.glob(f"{PREFIX}*") if p.is_dir()]
    name = f"{PREFIX}{max(numbers, default=-1) + 1:06d}"
    staging = root / f"{TEMPORARY_PREFIX}{name}-{os.getpid()}"
    staging.mkdir()
    _write_file(staging / WEIGHTS, weights_bytes(weights))
    if best_weights is not None:
        _write_file(staging / BEST_WEIGHTS, weights_bytes(best_weights))
    _write_file(staging / INFO, _json_bytes(info))
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    _write_file(staging / STATE, buffer.getvalue())
    final = root / name
    os.replace(staging, final)
    _fsync_directory(root)
    atomic_write_bytes(root / LATEST, _json_bytes({"name": name}))
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
            info=json.loads((path / INFO).read_text()),
            state=state,
        )
    except (OSError, RuntimeError, ValueError, pickle.UnpicklingError) as error:
        raise SerkitError(f"{path}: unreadable checkpoint ({error})") from None


def save_model(directory: str | Path, weights: dict[str, Tensor], info: dict[str, Any]) -> None:
    """Write a model folder: ``model.safetensors`` and ``model.json``, each atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / WEIGHTS, weights_bytes(weights))
    atomic_write_bytes(directory / INFO, _json_bytes(info))


def read_model_info(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / INFO
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SerkitError(f"{path}: unreadable model settings ({error})") from None


def load_weights(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a safetensors file (a model folder's ``model.safetensors``)."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    try:
        return load_safetensors(path.read_bytes())
    except (OSError, SafetensorError) as error:
        raise SerkitError(f"{path}: unreadable weights ({error})") from None


def weights_bytes(weights: dict[str, Tensor]) -> bytes:
    """safetensors bytes of a state dict (copied to contiguous CPU tensors, so shared ones save)."""
    return save_safetensors({k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()})


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, and move it into place."""
    path = Path(path)
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{path.name}-{os.getpid()}")
    _write_file(temporary, data)
    os.replace(temporary, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    # a rename is durable only once its directory is flushed
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sweep_temporaries(root: Path) -> None:
    for leftover in root.glob(f"{TEMPORARY_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
