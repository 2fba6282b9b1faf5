"""The training engine: fit any ``model(x, lengths)`` to a task, choosing on validation data only.

:class:`Trainer` takes a model (any ``nn.Module`` whose ``forward(x, lengths)``
maps ``(batch, dims, frames)`` features to outputs the task understands), a
:class:`~serkit.training.tasks.Task` and a
:class:`~serkit.training.config.TrainConfig`.  :meth:`Trainer.fit` sees a
training part and, optionally, a validation part, never a test part: early
stopping, annealing and the choice of weights (the best epoch by the
validation figure) use the validation part alone.  Without one, nothing
stops early and the last epoch's weights are kept, and the result says so.

**Determinism.**  The same configuration and data give the same weights and
the same log, bit for bit: batches and augmentation come from generators
keyed by the seed and the position in training, deterministic algorithms are
switched on for the run, dropout draws from torch's generator seeded with the
run's seed (inside ``torch.random.fork_rng``, so the caller's generator is
left as it was), and ``threads`` fixes the thread count.  :func:`build_seeded`
draws a model's initial weights from a seed the same way.

**Resuming.**  With an output folder, a checkpoint is written after every
epoch and every ``checkpoint_every`` steps, and ``fit`` on the same folder
resumes from the last one, to the same end (:mod:`~serkit.training.run`).

**Output folder.**  ``checkpoints/``; ``log.csv``, one row per epoch: the
learning rate, the training loss and figures (of the batches as they were
trained, with dropout and augmentation, as seed 000's curves show them), and
the validation loss (without class weights) and figures, in evaluation mode;
TensorBoard scalars under ``tensorboard/`` when tensorboard is installed;
``model/``, the chosen weights with ``model.json``.  Progress is reported
through ``progress(done, total)`` in optimiser steps, and by logging.

**Several processes** (``torchrun``, :mod:`~serkit.training.distributed`): in a
process group the model trains under DistributedDataParallel on each rank's
slice of every batch; rank 0 alone evaluates, logs and writes.  **Devices**:
``config.device`` unless ``device`` says otherwise, computing in ``config.precision``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from serkit.artifacts import ModelInfo, write_model
from serkit.errors import SerkitError
from serkit.outputs import atomic_write_text
from serkit.progress import Progress
from serkit.models.transfer import hold_frozen_norms
from serkit.training import distributed
from serkit.training.augment import augment_waveform, check_augmentation, spec_augment
from serkit.training.config import TrainConfig
from serkit.training.data import FRAME_STREAM, SPEC_STREAM, WAVEFORM_STREAM, Dataset, collate, keyed_rng
from serkit.training.optim import (build_optimiser, build_scheduler, parameter_groups, recalibrate_batch_norm,
                                   rng_states, run_scope, training_layout, warmed_up_step)
from serkit.training.sampler import EpochSampler
from serkit.training.run import (FitResult, Predictions, Run, RunProgress, copy_weights, describe, history_csv,
                                 restore_checkpoint, save_checkpoint, score_items, tensorboard_writer)
from serkit.training.tasks import LOSS_FIGURE, ClassificationTask, Task

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LOG_FILE = "log.csv"
MODEL_DIR = "model"

BEST_VALIDATION = "best-validation"
LAST_EPOCH = "last-epoch"


class Trainer:
    """Fits ``model`` to ``task`` under ``config``; see the module docstring.

    ``metadata`` (model, feature and normalisation settings) is written with
    every checkpoint and saved model, completed with the task (its label set),
    the training settings and how the weights were chosen.  ``out_dir`` None trains in memory only.
    ``threads`` fixes torch's thread count for the run (results can differ
    between thread counts, so a resumed run must use the same).
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        config: TrainConfig = TrainConfig(),
        *,
        out_dir: str | Path | None = None,
        metadata: ModelInfo | None = None,
        progress: Progress | None = None,
        device: str | torch.device | None = None,
        threads: int | None = None,
    ):
        self.world = distributed.current()
        self.device = distributed.placement(config.device, self.world) if device is None else torch.device(device)
        self.model = training_layout(model.to(self.device))
        self.autocast = distributed.autocast_for(self.device, config.precision)
        self.task = task
        self.config = config
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.metadata = metadata or ModelInfo()
        self.progress = progress
        self.threads = threads

    @property
    def monitor(self) -> str:
        return self.config.monitor or self.task.figure

    # -- fitting ------------------------------------------------------------

    def fit(self, train: Dataset, validation: Dataset | None = None) -> FitResult:
        """Train on ``train``, choosing on ``validation``; resume from ``out_dir`` if it has a checkpoint."""
        started, cpu_started = time.perf_counter(), time.process_time()
        self._check_data(train, validation)
        if self.out_dir is not None and self.world.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        with run_scope(self.threads, self.device), distributed.synchronised_norms(self.model, self.world, self.device):
            run = self._new_run(train, validation)
            run.started, run.cpu_started = started, cpu_started
            try:
                resumed = self._resume(run)
                if resumed is None:
                    torch.manual_seed(distributed.rank_seed(self.config.seed, self.world))
                run.net = distributed.parallel(self.model, self.world, self.device)
                run.earlier_seconds, run.earlier_cpu_seconds = run.progress.seconds, run.progress.cpu_seconds
                total = self.config.epochs * len(run.sampler)
                while run.progress.stop_reason is None:
                    self._train_epoch(run, total)
                    self._end_epoch(run)
            finally:
                if run.writer is not None:
                    run.writer.close()
            result = self._choose(run, resumed, time.perf_counter() - started)
        if self.out_dir is not None and self.world.main:
            write_model(self.out_dir / MODEL_DIR, self.model.state_dict(), self._info(run.task, result))
        return result

    def _check_data(self, train: Dataset, validation: Dataset | None) -> None:
        config = self.config
        distributed.check_batch_size(config.batch_size, self.world)
        check_augmentation(config.waveform_augment, train, self.task.frame_targets)
        if validation is None:
            if config.schedule.kind == "plateau":
                raise SerkitError("reduce-on-plateau annealing needs a validation part")
            if config.early_stopping.patience is not None:
                log.warning("no validation part: nothing stops early, the last epoch is kept")

    def _new_run(self, train: Dataset, validation: Dataset | None) -> Run:
        config = self.config
        task = self.task
        if config.class_weights:
            if not isinstance(task, ClassificationTask):
                raise SerkitError(f"class weights need a classification task, not {task.kind}")
            task = task.with_class_weights(train.targets)
            log.info("class weights %s", dict(zip(task.labels, task.class_weights)))
        # frozen layers (serkit.models.transfer.freeze) stay out of the optimiser
        optimiser = build_optimiser(parameter_groups(self.model.named_parameters(), config.optimiser),
                                    config.optimiser)
        sizes = [train.size(i) for i in range(len(train))]
        writer = tensorboard_writer(self.out_dir if self.world.main else None)
        return Run(
            task=task,
            train=train,
            validation=validation,
            sampler=EpochSampler(sizes, config.batch_size, config.seed, config.sort_first_epoch,
                                 strata=self._strata(train), by_length=config.batch_by_length),
            optimiser=optimiser,
            scheduler=build_scheduler(optimiser, config.schedule, self.task.higher_is_better(self.monitor)),
            progress=RunProgress(),
            writer=writer,
        )

    def _strata(self, train: Dataset) -> list[str] | None:
        """Each training item's corpus, which ``balance: corpus`` draws by (None: no balance)."""
        if self.config.balance is None:
            return None
        domains = train.domains
        if None in domains:
            raise SerkitError("train.balance corpus: the training items do not say which corpus they come from")
        if len(set(domains)) == 1:
            log.warning("train.balance corpus: every training item comes from %s; nothing to balance", domains[0])
        return domains

    def _train_epoch(self, run: Run, total: int) -> None:
        config, model, progress = self.config, self.model, run.progress
        model.train()
        hold_frozen_norms(model)
        epoch = run.sampler.epoch
        for whole in run.sampler:
            indices, weight = distributed.share(whole, self.world)  # weight 0: a stand-in, not trained on
            augment = [self._augmentation(run.train, epoch, int(i)) for i in indices]
            batch = collate([run.train.example(int(i), a) for i, a in zip(indices, augment)], run.task)
            x = batch.x
            if config.spec_augment.active:
                ranked = (self.world.rank,) if self.world.active else ()  # each rank's slice draws its own
                x = spec_augment(x, batch.lengths, config.spec_augment,
                                 keyed_rng(config.seed, SPEC_STREAM, epoch, run.sampler.batch, *ranked))
            run.optimiser.zero_grad(set_to_none=True)
            with self.autocast():
                outputs, targets = self._outputs(run, x, batch.lengths, batch.targets.to(self.device),
                                                 len(indices) if weight else 0)
                loss = run.task.loss(outputs, targets)
            if not torch.isfinite(loss):
                raise SerkitError(f"training diverged: the loss is {loss.item()} at step {progress.step + 1}")
            (loss * weight).backward()
            if config.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
            warmed_up_step(run.optimiser, progress.step + 1, config.warmup_steps)
            progress.step += 1
            if weight:
                progress.loss_sum += loss.item() * len(indices)
                progress.indices.extend(int(i) for i in indices)
                progress.scores.extend(run.task.scores(distributed.float32(outputs), targets))
            if self.progress is not None and self.world.main:
                self.progress(progress.step, total)
            if config.checkpoint_every and progress.step % config.checkpoint_every == 0:
                self._checkpoint(run)

    def _outputs(self, run: Run, x: torch.Tensor, lengths: torch.Tensor, targets: Any, n: int) -> tuple[Any, Any]:
        """A training batch's outputs and the targets they answer: with ``frame_step``, every k-th
        frame only, from an offset drawn for the batch."""
        step, x, lengths = self.config.frame_step, x.to(self.device), lengths.to(self.device)
        if step == 1:
            return run.net(x, lengths), targets
        offset = int(keyed_rng(self.config.seed, FRAME_STREAM, run.sampler.epoch, run.sampler.batch).integers(step))
        targets = run.task.select_frames(targets, step, offset)  # refuses a task without frame targets
        run.progress.offsets.extend([offset] * n)
        return run.net(x, lengths, every=(step, offset)), targets

    def _augmentation(self, train: Dataset, epoch: int, index: int) -> Callable[[np.ndarray], np.ndarray] | int | None:
        """A drawn perturbation of item ``index``'s signal, or its precomputed copy's number (0: the original)."""
        config = self.config
        if not config.waveform_augment.active:
            return None
        rng = keyed_rng(config.seed, WAVEFORM_STREAM, epoch, index)
        if config.waveform_augment.copies:
            return int(rng.integers(config.waveform_augment.copies + 1))
        return functools.partial(
            augment_waveform, sample_rate=train.sample_rate, config=config.waveform_augment, rng=rng
        )

    def _end_epoch(self, run: Run) -> None:
        config, progress, world = self.config, run.progress, self.world
        epoch = run.sampler.epoch + 1  # 1-based, as logs and papers count
        if config.recalibrate_batch_norm:
            size, items = config.batch_size, len(run.train)
            batches = (collate([run.train.example(i) for i in range(s, min(s + size, items))], run.task)
                       for s in range(0, items, size))
            with self.autocast():
                recalibrate_batch_norm(self.model, batches, self.device)
        distributed.gather_figures(progress, world)
        # rank 0 scores the epoch; every rank takes the same decisions from its row
        row, score = distributed.broadcast(self._epoch_row(run, epoch) if world.main else None, world)
        if run.validation is not None:
            row["improved"] = self._record_score(run, score, epoch)
        if config.schedule.kind in ("step", "exponential"):
            run.scheduler.step()
        elif config.schedule.kind == "plateau" and epoch > config.schedule.grace:
            run.scheduler.step(score)
        progress.history.append(row)
        progress.reset_epoch()
        progress.stop_reason = self._stop_reason(run, epoch)
        run.sampler.next_epoch()
        if world.main:
            log.info("epoch %d/%d: %s", epoch, config.epochs, describe(row))
        if self.out_dir is not None:
            if world.main:
                atomic_write_text(self.out_dir / LOG_FILE, history_csv(progress.history))
            if run.writer is not None:
                for key, value in row.items():
                    if isinstance(value, (int, float)) and key != "epoch":
                        run.writer.add_scalar(key, value, epoch)
            self._checkpoint(run)

    def _epoch_row(self, run: Run, epoch: int) -> tuple[dict[str, Any], float | None]:
        """The epoch's log row (training figures of the batches as trained, validation figures)
        and the monitored validation figure (None without a validation part)."""
        progress = run.progress
        train_targets = run.train.targets
        targets = [train_targets[i] for i in progress.indices]
        if progress.offsets:  # trained on every frame_step-th frame: score those
            targets = [np.asarray(t)[o::self.config.frame_step] for t, o in zip(targets, progress.offsets)]
        row: dict[str, Any] = {
            "epoch": epoch,
            "lr": run.optimiser.param_groups[0]["lr"],
            "train_loss": progress.loss_sum / max(len(progress.indices), 1),
            **{f"train_{k}": v for k, v in run.task.metrics(progress.scores, targets).items()},
        }
        if run.validation is None:
            return row, None
        figures = self._figures(self.task, run.validation)
        if self.monitor not in figures:
            raise SerkitError(f"no validation figure {self.monitor!r}; the task gives {sorted(figures)}")
        row.update({f"validation_{k}": v for k, v in figures.items()})
        return row, figures[self.monitor]

    def _record_score(self, run: Run, score: float, epoch: int) -> bool:
        """Update the best score and early-stopping counter; True when ``score`` improved."""
        progress = run.progress
        improved = progress.improves(score, self.task.higher_is_better(self.monitor), self.config.early_stopping.min_delta)
        if improved:
            progress.best_score, progress.best_epoch, progress.bad_epochs = score, epoch, 0
            run.best_weights = copy_weights(self.model)
        else:
            progress.bad_epochs += 1
        return improved

    def _stop_reason(self, run: Run, epoch: int) -> str | None:
        config = self.config
        patience = config.early_stopping.patience
        if run.validation is not None and patience is not None and run.progress.bad_epochs >= patience:
            return "early-stopping"
        floor = config.schedule.stop_below
        if floor is not None and all(g["lr"] <= floor * (1 + 1e-9) for g in run.optimiser.param_groups):
            return "learning-rate-floor"
        if epoch >= config.epochs:
            return "epochs"
        return None

    def _choose(self, run: Run, resumed: int | None, seconds: float) -> FitResult:
        progress = run.progress
        if run.validation is not None and run.best_weights is not None:
            self.model.load_state_dict(run.best_weights)
            selection, chosen = BEST_VALIDATION, progress.best_epoch
            log.info("kept epoch %d, best validation %s %.4f", chosen, self.monitor, progress.best_score)
        else:
            selection, chosen = LAST_EPOCH, len(progress.history)
            why = "no validation part" if run.validation is None else "no finite validation figure"
            log.info("%s: kept the last epoch, %d", why, chosen)
        return FitResult(
            history=tuple(progress.history),
            selection=selection,
            chosen_epoch=chosen,
            monitor=self.monitor if run.validation is not None else None,
            best_score=progress.best_score,
            stop_reason=progress.stop_reason,
            steps=progress.step,
            resumed_from_step=resumed,
            seconds=seconds,
            earlier_seconds=run.earlier_seconds, earlier_cpu_seconds=run.earlier_cpu_seconds,
        )

    def _checkpoint(self, run: Run) -> None:
        # every rank's running figures and random generators go into rank 0's checkpoint
        distributed.gather_figures(run.progress, self.world)
        generators = distributed.gather(rng_states(self.device), self.world) if self.world.active else None
        if self.out_dir is not None and self.world.main:
            save_checkpoint(run, self.out_dir / CHECKPOINTS, self.model, self._info(run.task, None),
                            self.config.to_dict(), self.device, generators)

    def _resume(self, run: Run) -> int | None:
        """Restore ``run`` from the latest checkpoint; its step, or None when starting afresh."""
        if self.out_dir is None:
            return None
        step = restore_checkpoint(run, self.out_dir / CHECKPOINTS, self.model, self.config.to_dict(), self.device,
                                  self.world)
        if distributed.broadcast(step, self.world) != step:
            raise SerkitError(f"rank {self.world.rank} found another checkpoint than rank 0 under {self.out_dir}: "
                              "every process must see the same output folder (a shared one across machines)")
        return step

    def _info(self, task: Task, result: FitResult | None) -> ModelInfo:
        selection = None if result is None else {
            "rule": result.selection,
            "epoch": result.chosen_epoch,
            "monitor": result.monitor,
            "score": result.best_score,
            "stop_reason": result.stop_reason,
            "epochs_run": result.epochs_run,
        }
        return dataclasses.replace(self.metadata, task=task.to_dict(), training=self.config.to_dict(),
                                   selection=selection)

    # -- scoring --------------------------------------------------------------

    def predict(self, dataset: Dataset) -> Predictions:
        """Scores and predictions of every utterance of ``dataset`` (its windows' scores combined)."""
        ids, scores, targets, _ = score_items(self.model, self.task, dataset, self.config.eval_batch_size,
                                              self.device, self.autocast)
        return Predictions(
            ids=tuple(ids),
            scores=tuple(scores),
            predictions=tuple(self.task.decode(s) for s in scores),
            targets=tuple(targets),
        )

    def evaluate(self, dataset: Dataset) -> dict[str, float]:
        """The task's figures on ``dataset`` (per utterance), with its mean loss as ``"loss"``."""
        return self._figures(self.task, dataset)

    def _figures(self, task: Task, dataset: Dataset) -> dict[str, float]:
        _, scores, targets, loss = score_items(self.model, task, dataset, self.config.eval_batch_size,
                                               self.device, self.autocast)
        return {LOSS_FIGURE: loss, **task.metrics(scores, targets)}
