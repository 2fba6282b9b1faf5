"""Training settings as typed, frozen dataclasses, defaulting to seed 000's recipe.

:class:`TrainConfig` gathers everything that decides a run's numbers: epochs,
batch size, seed, optimiser, learning-rate schedule, early stopping, gradient
clipping, class weights, SortaGrad and augmentation.  It is written to JSON
with every checkpoint, and a run resumes only under the same settings.

The papers' recipes, as far as they state them:

* seed 000: Adam (beta1 0.9, beta2 0.999, learning rate 0.001), batch size 10
  on EMO-DB, 20 epochs: the defaults here, :data:`SEED000`;
* seed 002: SGD with Nesterov momentum 0.9, weight decay 0.0001, batch size
  64, 50 epochs, learning rate 0.05 divided by 10 at epochs 21, 31 and 41:
  :data:`SEED002`;
* seed 003: Adam at 0.0001, gradient norm clipped at 15, batch size 64,
  annealing when the validation figure has not improved for two epochs and
  stopping once the rate reaches 1e-6, SortaGrad in the first epoch, tempo
  0.85-1.15 and gain -3 to +6 dB: :data:`SEED003`.  The paper gives no
  annealing factor; 0.1 (PyTorch's default) is used.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Literal

from serkit.configs import added_later, from_dict, to_dict
from serkit.configs import check_types, describe_type  # noqa: F401  (moved there; still imported from here)
from serkit.errors import SerkitError

Optimiser = Literal["adam", "rmsprop", "sgd"]
Schedule = Literal["none", "step", "plateau", "exponential"]
OPTIMISERS: tuple[str, ...] = typing.get_args(Optimiser)
SCHEDULES: tuple[str, ...] = typing.get_args(Schedule)


def _check(ok: bool, message: str) -> None:
    # defined first: the default configs below are built, and checked, at import
    if not ok:
        raise SerkitError(f"training configuration: {message}")


@dataclasses.dataclass(frozen=True)
class OptimiserConfig:
    """Which optimiser, and its settings.

    ``momentum`` is SGD's Nesterov momentum and RMSProp's momentum; None means
    each one's usual value (0.9 for SGD, as seed 002; 0 for RMSProp).
    ``weight_decay`` is the L2 penalty as PyTorch's optimisers apply it (``weight_decay * w``
    added to the gradient: the gradient of ``weight_decay / 2 * |w|^2``).  ``decay_only`` limits
    it to the parameters whose names start with one of its prefixes (seed 001 decays its
    convolution weights only); empty, every parameter is decayed.
    """

    name: Optimiser = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float | None = None
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    decay_only: tuple[str, ...] = added_later(())

    def __post_init__(self) -> None:
        object.__setattr__(self, "decay_only", tuple(self.decay_only))
        _check(self.name in OPTIMISERS, f"optimiser must be one of {OPTIMISERS}, not {self.name!r}")
        _check(self.lr > 0, f"learning rate must be positive, not {self.lr}")
        _check(self.weight_decay >= 0, f"weight decay must not be negative, not {self.weight_decay}")
        _check(self.momentum is None or self.momentum >= 0, f"bad momentum {self.momentum}")

    @property
    def resolved_momentum(self) -> float:
        if self.momentum is not None:
            return self.momentum
        return 0.9 if self.name == "sgd" else 0.0


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule, applied once per epoch.

    * ``step``: multiply the rate by ``gamma`` when each epoch of
      ``milestones`` begins (1-based, as the papers count: seed 002's
      ``(21, 31, 41)`` trains epochs 21-30 at a tenth of the initial rate);
    * ``plateau``: multiply it by ``factor`` when the validation figure has
      not improved for ``patience`` epochs, down to ``min_lr``; the first
      ``grace`` epochs are not counted (a small corpus gives a few steps per
      epoch, and a model still leaving its first plateau, predicting the
      training prior, would otherwise have its rate cut before it learns);
    * ``exponential``: multiply it by ``gamma`` after every epoch (seed 003's
      recognizer: SGD at 3e-4 divided by 1.1 each epoch, ``gamma: 0.90909``).

    With ``stop_below`` set, training ends once the rate has fallen to it
    (seed 003 stops at 1e-6).
    """

    kind: Schedule = "none"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    patience: int = 2
    factor: float = 0.1
    min_lr: float = 0.0
    stop_below: float | None = None
    grace: int = added_later(0)

    def __post_init__(self) -> None:
        _check(self.grace >= 0, f"grace must not be negative, not {self.grace}")
        _check(self.grace == 0 or self.kind == "plateau", "grace counts epochs of the plateau rule: it needs kind plateau")
        _check(self.kind in SCHEDULES, f"schedule must be one of {SCHEDULES}, not {self.kind!r}")
        _check(all(m >= 2 for m in self.milestones), f"milestones are epochs from 2 on: {self.milestones}")
        _check(list(self.milestones) == sorted(set(self.milestones)), "milestones must increase")
        _check(0 < self.gamma <= 1 and 0 < self.factor < 1, "gamma and factor must lie in (0, 1]")
        _check(self.patience >= 0, f"patience must not be negative, not {self.patience}")


@dataclasses.dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop after ``patience`` epochs without improvement of the validation figure.

    None never stops early.  An improvement must exceed ``min_delta``.
    Without a validation part nothing stops early, whatever is set here.
    """

    patience: int | None = None
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _check(self.patience is None or self.patience >= 1, f"patience must be >= 1, not {self.patience}")
        _check(self.min_delta >= 0, f"min_delta must not be negative, not {self.min_delta}")


@dataclasses.dataclass(frozen=True)
class WaveformAugmentConfig:
    """Waveform augmentation, applied before feature extraction.

    Each range is ``(low, high)`` for a uniform draw, or None for off.  Tempo
    is a speed factor that keeps the pitch (above 1 is faster).  A gain may
    push samples past full scale; they are not clipped, since features are
    computed from floats.  Without ``copies`` each utterance is perturbed
    afresh every epoch and its features computed again; with ``copies`` (seed
    003 over a recognizer's layers) that many perturbed copies of each
    training utterance are drawn once and their features cached
    (:mod:`serkit.features.augmented`), and every epoch takes, for each
    utterance, the original or one of its copies with equal chance.
    """

    gain_db: tuple[float, float] | None = None
    tempo: tuple[float, float] | None = None
    #: Perturbed copies per training utterance computed once (None: fresh draws every epoch).
    copies: int | None = added_later(None)

    def __post_init__(self) -> None:
        for name, span in (("gain_db", self.gain_db), ("tempo", self.tempo)):
            _check(span is None or (len(span) == 2 and span[0] <= span[1]), f"{name} must be (low, high)")
        _check(self.tempo is None or self.tempo[0] > 0, f"tempo factors must be positive, not {self.tempo}")
        _check(self.copies is None or (isinstance(self.copies, int) and self.copies >= 1),
               f"copies must be a number of copies from 1, not {self.copies!r}")
        _check(self.copies is None or self.gain_db is not None or self.tempo is not None,
               "copies need a gain span, a tempo span or both")

    @property
    def active(self) -> bool:
        return self.gain_db is not None or self.tempo is not None

    @property
    def fresh(self) -> bool:
        """Whether each epoch perturbs the signals afresh (no precomputed copies)."""
        return self.active and self.copies is None


@dataclasses.dataclass(frozen=True)
class SpecAugmentConfig:
    """SpecAugment-style masks on a batch of features (Park et al., 2019).

    Each item gets ``time_masks`` spans of up to ``time_width`` frames (and at
    most ``max_time_fraction`` of its length) and ``freq_masks`` bands of up to
    ``freq_width`` dimensions, set to ``fill`` (0, the mean of normalised
    features).  Masks stay within each item's valid frames.
    """

    time_masks: int = 0
    time_width: int = 0
    freq_masks: int = 0
    freq_width: int = 0
    max_time_fraction: float = 0.2
    fill: float = 0.0

    def __post_init__(self) -> None:
        counts = (self.time_masks, self.time_width, self.freq_masks, self.freq_width)
        _check(all(c >= 0 for c in counts), "mask counts and widths must not be negative")
        _check(0 < self.max_time_fraction <= 1, "max_time_fraction must lie in (0, 1]")

    @property
    def active(self) -> bool:
        return (self.time_masks > 0 and self.time_width > 0) or (
            self.freq_masks > 0 and self.freq_width > 0
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the numbers of a training run.

    ``monitor`` names the validation figure that early stopping, the plateau
    schedule and model choice use (None: the task's own, e.g. UA; ``"loss"``:
    the validation loss, as seed 003 chooses its model).  ``checkpoint_every``
    writes a checkpoint every that many optimiser steps as well as after each
    epoch (when the trainer has an output folder).

    ``recalibrate_batch_norm`` re-estimates every batch-norm layer's running
    statistics at the end of each epoch, from one pass over the training
    items in training mode (no gradients, no augmentation), as the average of
    their batches' statistics.  Running averages with momentum 0.1 lag far
    behind the weights when an epoch has few batches and the learning rate is
    high, and evaluation, which uses them, then predicts one class while the
    training figures climb.  It costs a forward pass over the training part
    per epoch.
    """

    epochs: int = 20
    batch_size: int = 10
    seed: int = 0
    optimiser: OptimiserConfig = OptimiserConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    clip_grad_norm: float | None = None
    class_weights: bool = False
    sort_first_epoch: bool = False
    waveform_augment: WaveformAugmentConfig = WaveformAugmentConfig()
    spec_augment: SpecAugmentConfig = SpecAugmentConfig()
    monitor: str | None = None
    eval_batch_size: int = 32
    checkpoint_every: int | None = None
    #: Added after runs and checkpoints were recorded: unset, it stays out of ``to_dict``, so that
    #: older recipes keep their hashes and older checkpoints resume.
    recalibrate_batch_norm: bool = added_later(False)
    #: Train on every k-th frame of each item only (frame targets), from an offset drawn afresh for
    #: every batch; every frame is still evaluated.  A model with ``logits_at`` (seed 001's
    #: ``frame_cnn``) then skips the work of the other frames.
    frame_step: int = added_later(1)
    #: ``corpus``: every epoch draws as many items from each training corpus (a corpus's items
    #: repeated or left out as its share needs; :class:`~serkit.training.sampler.EpochSampler`), so that
    #: a corpus of many speakers does not drown one of few.  None: each item once per epoch.
    balance: Literal["corpus"] | None = added_later(None)
    #: Where the run trains (:func:`serkit.devices.resolve_device` resolves ``--device``): on
    #: ``cuda`` with bf16 autocast, which gives other numbers than the CPU, hence a setting.
    device: Literal["cpu", "cuda"] = added_later("cpu")
    #: A linear warm-up: optimiser step ``k`` (from 1) of the first ``warmup_steps`` takes
    #: ``k / warmup_steps`` of the rate the schedule gives, so that a high initial rate (seed 002's
    #: SGD at 0.05) does not throw freshly initialised heads off at their first steps.
    warmup_steps: int = added_later(0)
    #: Batches of items of about one length, in a random order each epoch (their items' sizes
    #: jittered by 10%): a recurrent model runs over every padded frame, so random batches of
    #: EMO-DB's utterances cost 2.4 times their frames, these 1.3.
    batch_by_length: bool = added_later(False)
    #: The numbers training and evaluation compute in: ``bfloat16`` autocasts matrix products and
    #: convolutions to bf16 (a step of seed 002's CNN 1.3-1.7 times as fast on a CPU with native
    #: bf16, AVX512-BF16 or AMX: docs/benchmarks.md, "CPU training steps"; elsewhere emulated and
    #: slower), ``float32`` does not; None: the device's own, bf16 on CUDA and float32 on the CPU.
    #: Weights and optimiser stay float32.
    precision: Literal["float32", "bfloat16"] | None = added_later(None)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"epochs must be at least 1, not {self.epochs}")
        _check(self.warmup_steps >= 0, f"warmup_steps must not be negative, not {self.warmup_steps}")
        _check(self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be positive")
        _check(self.seed >= 0, f"seed must not be negative, not {self.seed}")
        _check(self.clip_grad_norm is None or self.clip_grad_norm > 0, "clip_grad_norm must be positive")
        _check(self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        _check(self.frame_step >= 1, f"frame_step must be at least 1, not {self.frame_step}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> TrainConfig:
        return from_dict(cls, data, where)

SEED000 = TrainConfig()
SEED002 = TrainConfig(
    epochs=50,
    batch_size=64,
    optimiser=OptimiserConfig(name="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4),
    schedule=ScheduleConfig(kind="step", milestones=(21, 31, 41), gamma=0.1),
)
SEED003 = TrainConfig(
    epochs=100,  # an upper bound: the learning-rate floor ends training
    batch_size=64,
    optimiser=OptimiserConfig(name="adam", lr=1e-4),
    schedule=ScheduleConfig(kind="plateau", patience=2, factor=0.1, stop_below=1e-6),
    clip_grad_norm=15.0,
    sort_first_epoch=True,
    waveform_augment=WaveformAugmentConfig(gain_db=(-3.0, 6.0), tempo=(0.85, 1.15)),
    monitor="loss",
)
