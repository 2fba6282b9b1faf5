"""The state of one training run: what it returns, what a checkpoint carries, and the run's files.

**Resuming.**  :func:`save_checkpoint` writes (atomically, see
:mod:`~serkit.training.checkpoint`) everything a run needs to go on as if it
had never stopped: the weights, the best weights so far, the optimiser and
scheduler, early-stopping counters, the torch generator, the sampler's
position, the running figures of the epoch in progress and the history
(:class:`RunProgress`).  Augmentation needs no state of its own: its draws
are keyed by position.  :func:`restore_checkpoint` refuses a checkpoint of
other settings or other data.  Under several processes
(:mod:`~serkit.training.distributed`) rank 0 writes the checkpoint with every
rank's random generator, and a checkpoint resumes only with as many processes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from serkit.artifacts import ModelInfo
from serkit.errors import SerkitError
from serkit.training.checkpoint import latest_checkpoint, read_checkpoint, write_checkpoint
from serkit.training import distributed
from serkit.training.data import Dataset, collate, combine_groups
from serkit.training.sampler import EpochSampler
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
    ``earlier_seconds`` and ``earlier_cpu_seconds`` the wall and processor time of the calls it
    resumed, up to their last checkpoint (0 for a fresh run; processor time 0 too for a checkpoint
    written before it was kept, 2026-12-07).
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
    earlier_cpu_seconds: float = 0.0

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
    #: wall and processor seconds of training up to this checkpoint, over every call
    seconds: float = 0.0
    cpu_seconds: float = 0.0
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

    def improves(self, score: float, higher: bool, min_delta: float) -> bool:
        """Whether ``score`` beats the best so far by more than ``min_delta`` (NaN never does)."""
        if math.isnan(score):
            return False
        if self.best_score is None:
            return True
        return score > self.best_score + min_delta if higher else score < self.best_score - min_delta

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
    #: what trains: the model, or its DistributedDataParallel wrapper under several processes
    net: nn.Module | None = None
    #: when this call started (``time.perf_counter``, ``time.process_time``), and the wall and
    #: processor seconds of the calls it resumed
    started: float = 0.0
    cpu_started: float = 0.0
    earlier_seconds: float = 0.0
    earlier_cpu_seconds: float = 0.0


def save_checkpoint(run: Run, root: Path, model: nn.Module, info: ModelInfo, config: dict[str, Any],
                    device: torch.device, generators: list[dict[str, Tensor]] | None = None) -> None:
    """Write ``run``'s state under ``root`` (``config`` is the training settings as a dict;
    ``generators``: every rank's random generator states, under several processes)."""
    run.progress.seconds = run.earlier_seconds + time.perf_counter() - run.started
    run.progress.cpu_seconds = run.earlier_cpu_seconds + time.process_time() - run.cpu_started
    state = {
        "config": config,
        "data": fingerprints(run.train, run.validation),
        "sampler": run.sampler.state_dict(),
        "progress": run.progress.state_dict(),
        "optimiser": run.optimiser.state_dict(),
        "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
        "rng": rng_states(device),
    }
    if generators is not None:
        state["ranks_rng"] = generators
    checkpoint = {"step": run.progress.step, "position": run.sampler.state_dict()}
    write_checkpoint(root, weights=model.state_dict(), best_weights=run.best_weights,
                     info=dataclasses.replace(info, checkpoint=checkpoint), state=state)


def restore_checkpoint(run: Run, root: Path, model: nn.Module, config: dict[str, Any], device: torch.device,
                       world: distributed.World = distributed.SINGLE) -> int | None:
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
    written = len(state.get("ranks_rng", [None]))
    if written != world.size:
        raise SerkitError(f"{path}: written by {written} training process(es); resume it with {written}, "
                          f"not {world.size} (torchrun's --nnodes times --nproc_per_node)")
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
    set_rng_states(state["ranks_rng"][world.rank] if world.active else state["rng"], device)
    if run.progress.stop_reason is None:
        log.info("resumed from %s (epoch %d, step %d)", path, run.sampler.epoch + 1, run.progress.step)
    else:
        log.info("%s: this run had finished (%s)", path, run.progress.stop_reason)
    return run.progress.step


def score_items(model: nn.Module, task: Task, dataset: Dataset, batch_size: int, device: torch.device,
                autocast: Callable[[], Any]) -> tuple[list[str], list[np.ndarray], list[Any], float]:
    """Per-utterance ids, scores and targets of ``dataset`` (its windows' combined), and the mean
    loss over items, in evaluation mode, computing inside ``autocast()`` as training does."""
    model.eval()
    # shortest first, so batches carry little padding; a fixed order keeps it deterministic
    order = sorted(range(len(dataset)), key=dataset.size)
    item_scores: dict[int, np.ndarray] = {}
    loss_sum = 0.0
    with torch.inference_mode(), autocast():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = collate([dataset.example(i) for i in indices], task)
            targets = batch.targets.to(device)
            outputs = distributed.float32(model(batch.x.to(device), batch.lengths.to(device)))
            loss_sum += task.loss(outputs, targets).item() * len(indices)
            item_scores.update(zip(indices, task.scores(outputs, targets)))
    scores = [item_scores[i] for i in range(len(dataset))]
    ids, combined = combine_groups(dataset.groups, scores, task.combine)
    first: dict[str, Any] = {}
    for group, target in zip(dataset.groups, dataset.targets):
        first.setdefault(group, target)
    return ids, combined, [first[g] for g in ids], loss_sum / len(dataset)


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
