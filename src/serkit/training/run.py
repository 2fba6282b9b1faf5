"""The state of one training run: what it returns, what a checkpoint carries, and the run's files.

**Resuming.**  :func:`save_checkpoint` writes (atomically, see
:mod:`~serkit.training.checkpoint`) everything a run needs to go on as if it
had never stopped: the weights, the best weights so far, the optimiser and
scheduler, early-stopping counters, the torch generator, the sampler's
position, the running figures of the epoch in progress and the history
(:class:`RunProgress`).  Augmentation needs no state of its own: its draws
are keyed by position.  :func:`restore_checkpoint` refuses a checkpoint of
other settings or other data.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from serkit.artifacts import ModelInfo
from serkit.errors import SerkitError
from serkit.training.checkpoint import latest_checkpoint, read_checkpoint, write_checkpoint
from serkit.training.data import Dataset, EpochSampler
from serkit.training.optim import rng_states, set_rng_states
from serkit.training.tasks import Task

log = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What a fit did: its history and how the kept weights were chosen.

    ``selection`` is ``"best-validation"`` (the epoch with the best
    ``monitor`` figure on the validation part) or ``"last-epoch"`` (no
    validation part).  ``stop_reason`` is ``"epochs"``, ``"early-stopping"``
    or ``"learning-rate-floor"``.  ``seconds`` is this call's wall time;
    ``earlier_seconds`` that of the calls it resumed, up to their last checkpoint (0 for
    a fresh run).
    """

    history: tuple[dict[str, Any], ...]
    selection: str
    chosen_epoch: int
    monitor: str | None
    best_score: float | None
    stop_reason: str
    steps: int
    resumed_from_step: int | None
    seconds: float
    earlier_seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def total_seconds(self) -> float:
        """Wall time of the whole fit, over every call that worked on it."""
        return self.seconds + self.earlier_seconds


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Per utterance (windows combined): ids, scores, decoded predictions and targets."""

    ids: tuple[str, ...]
    scores: tuple[np.ndarray, ...]
    predictions: tuple[Any, ...]
    targets: tuple[Any, ...]


@dataclasses.dataclass
class RunProgress:
    """The mutable part of a run that a checkpoint must carry, besides torch objects."""

    step: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stop_reason: str | None = None
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: wall seconds of training up to this checkpoint, over every call
    seconds: float = 0.0
    # running figures of the epoch in progress: loss, and every item trained on so far
    loss_sum: float = 0.0
    indices: list[int] = dataclasses.field(default_factory=list)
    scores: list[np.ndarray] = dataclasses.field(default_factory=list)
    #: with ``frame_step``: the first frame trained on of each item in ``indices``
    offsets: list[int] = dataclasses.field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["scores"] = [torch.from_numpy(np.ascontiguousarray(s)) for s in self.scores]
        return fields

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> RunProgress:
        return cls(**{**state, "scores": [s.numpy() for s in state["scores"]]})

    def reset_epoch(self) -> None:
        self.loss_sum, self.indices, self.scores, self.offsets = 0.0, [], [], []


@dataclasses.dataclass(eq=False)
class Run:
    """Everything one call of :meth:`Trainer.fit` works on."""

    task: Task
    train: Dataset
    validation: Dataset | None
    sampler: EpochSampler
    optimiser: torch.optim.Optimizer
    scheduler: Any
    progress: RunProgress
    best_weights: dict[str, Tensor] | None = None
    writer: Any = None
    #: when this call started (``time.perf_counter``), and the seconds of the calls it resumed
    started: float = 0.0
    earlier_seconds: float = 0.0


def save_checkpoint(run: Run, root: Path, model: nn.Module, info: ModelInfo, config: dict[str, Any],
                    device: torch.device) -> None:
    """Write ``run``'s state under ``root`` (``config`` is the training settings as a dict)."""
    run.progress.seconds = run.earlier_seconds + time.perf_counter() - run.started
    state = {
        "config": config,
        "data": fingerprints(run.train, run.validation),
        "sampler": run.sampler.state_dict(),
        "progress": run.progress.state_dict(),
        "optimiser": run.optimiser.state_dict(),
        "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
        "rng": rng_states(device),
    }
    checkpoint = {"step": run.progress.step, "position": run.sampler.state_dict()}
    write_checkpoint(root, weights=model.state_dict(), best_weights=run.best_weights,
                     info=dataclasses.replace(info, checkpoint=checkpoint), state=state)


def restore_checkpoint(run: Run, root: Path, model: nn.Module, config: dict[str, Any],
                       device: torch.device) -> int | None:
    """Restore ``run`` and ``model`` from the latest checkpoint under ``root``; its step, or None
    when there is none."""
    path = latest_checkpoint(root)
    if path is None:
        return None
    checkpoint = read_checkpoint(path)
    state = checkpoint.state
    if state["config"] != config:
        raise SerkitError(f"{path}: written with other training settings; use a new output folder")
    if state["data"] != fingerprints(run.train, run.validation):
        raise SerkitError(f"{path}: written for other training or validation data")
    try:
        model.load_state_dict(checkpoint.weights)
    except RuntimeError as error:
        raise SerkitError(f"{path}: the weights do not fit this model ({error})") from None
    run.optimiser.load_state_dict(state["optimiser"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(state["scheduler"])
    run.sampler.load_state_dict(state["sampler"])
    run.progress = RunProgress.from_state_dict(state["progress"])
    run.best_weights = checkpoint.best_weights
    set_rng_states(state["rng"], device)
    if run.progress.stop_reason is None:
        log.info("resumed from %s (epoch %d, step %d)", path, run.sampler.epoch + 1, run.progress.step)
    else:
        log.info("%s: this run had finished (%s)", path, run.progress.stop_reason)
    return run.progress.step


def history_csv(history: Sequence[dict[str, Any]]) -> str:
    """The per-epoch log as CSV text; columns in order of first appearance."""
    columns: dict[str, None] = {}
    for row in history:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def copy_weights(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fingerprints(train: Dataset, validation: Dataset | None) -> dict[str, str | None]:
    """Hashes of the ids of each part, so a checkpoint is never resumed on other data."""

    def digest(dataset: Dataset | None) -> str | None:
        if dataset is None:
            return None
        return hashlib.sha256("\n".join(dataset.ids).encode()).hexdigest()[:16]

    return {"train": digest(train), "validation": digest(validation)}


def tensorboard_writer(out_dir: Path | None) -> Any:
    """A TensorBoard writer under ``out_dir`` when tensorboard is installed, else None."""
    if out_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out_dir / TENSORBOARD_DIR))


def describe(row: dict[str, Any]) -> str:
    items = (f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items() if k != "epoch")
    return ", ".join(items)
