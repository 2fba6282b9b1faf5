"""What makes a training run reproducible and fast: seeded models, optimisers and schedules,
a deterministic scope with a fixed thread count, generator states, and the memory layout."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from serkit.devices import reuse_freed_memory
from serkit.errors import SerkitError
from serkit.models.transfer import hold_frozen_norms, is_frozen
from serkit.training.config import OptimiserConfig, ScheduleConfig

Model = TypeVar("Model", bound=nn.Module)


def build_seeded(factory: Callable[[], Model], seed: int) -> Model:
    """``factory()`` with torch's generator seeded by ``seed``, and left as it was afterwards.

    Makes a model's initial weights a function of the seed, so the same
    command twice trains from the same weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def parameter_groups(named: Iterable[tuple[str, nn.Parameter]], config: OptimiserConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups of a model's ``named_parameters()``, frozen ones left out:
    one group, or with ``decay_only`` the decayed parameters and the others (weight decay 0).
    Refuses a prefix that names no parameter of the model (a typo would silently decay nothing)."""
    named = list(named)
    for prefix in config.decay_only:
        if not any(name.startswith(prefix) for name, _ in named):
            raise SerkitError(f"optimiser.decay_only: {prefix!r} names no parameter of the model")
    trained = [(name, p) for name, p in named if p.requires_grad]
    if not config.decay_only:
        return [{"params": [p for _, p in trained]}]
    decayed = [p for name, p in trained if name.startswith(config.decay_only)]
    rest = [p for name, p in trained if not name.startswith(config.decay_only)]
    return [group for group in ({"params": decayed}, {"params": rest, "weight_decay": 0.0}) if group["params"]]


def build_optimiser(parameters: Any, config: OptimiserConfig) -> torch.optim.Optimizer:
    if config.name == "adam":
        return torch.optim.Adam(
            parameters, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    if config.name == "rmsprop":
        return torch.optim.RMSprop(
            parameters,
            lr=config.lr,
            alpha=config.alpha,
            eps=config.eps,
            weight_decay=config.weight_decay,
            momentum=config.resolved_momentum,
        )
    return torch.optim.SGD(
        parameters,
        lr=config.lr,
        momentum=config.resolved_momentum,
        nesterov=config.resolved_momentum > 0,
        weight_decay=config.weight_decay,
    )


def build_scheduler(optimiser: torch.optim.Optimizer, config: ScheduleConfig, higher_is_better: bool) -> Any:
    """A per-epoch schedule, or None.

    Milestones are 1-based epochs where the new rate starts; PyTorch counts
    completed epochs, hence the ``- 1``.
    """
    if config.kind == "step":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimiser, milestones=[m - 1 for m in config.milestones], gamma=config.gamma
        )
    if config.kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=config.gamma)
    if config.kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser,
            mode="max" if higher_is_better else "min",
            factor=config.factor,
            patience=config.patience,
            min_lr=config.min_lr,
        )
    return None


def warmed_up_step(optimiser: torch.optim.Optimizer, step: int, warmup_steps: int) -> None:
    """One optimiser step, the ``step``-th (from 1): within the first ``warmup_steps`` at
    ``step / warmup_steps`` of each group's scheduled rate, which is then restored, so that the
    schedule's own state never sees the warm-up."""
    if step > warmup_steps:
        optimiser.step()
        return
    scheduled = [group["lr"] for group in optimiser.param_groups]
    for group, lr in zip(optimiser.param_groups, scheduled):
        group["lr"] = lr * step / warmup_steps
    optimiser.step()
    for group, lr in zip(optimiser.param_groups, scheduled):
        group["lr"] = lr


@contextlib.contextmanager
def run_scope(threads: int | None, device: torch.device) -> Iterator[None]:
    """Deterministic algorithms, a fixed thread count, a private torch generator and freed memory
    kept for reuse (:func:`~serkit.devices.reuse_freed_memory`), undone on exit."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), reuse_freed_memory():
        # on CUDA some kernels have no deterministic version; warn rather than fail there
        torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
            torch.set_num_threads(previous_threads)


def rng_states(device: torch.device) -> dict[str, Tensor]:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict[str, Tensor], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], device)


def training_layout(model: nn.Module) -> nn.Module:
    """A model with 2-D convolutions in channels-last memory layout, any other as it is.

    oneDNN's convolutions, batch norm and pooling run several times faster on
    CPU in channels-last than in PyTorch's default layout (about 2x for a
    whole training step of cnn_tf).  Weights are saved contiguous whatever the
    layout, so saved models do not depend on it.
    """
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return model.to(memory_format=torch.channels_last)
    return model


def recalibrate_batch_norm(model: nn.Module, batches: Iterable[Any], device: torch.device) -> None:
    """Running statistics of every batch-norm layer of ``model`` from one pass over ``batches``
    (see ``TrainConfig.recalibrate_batch_norm``): their batches' average."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    norms = [m for m in norms if m.track_running_stats and not is_frozen(m)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over this pass
    model.train()
    hold_frozen_norms(model)
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch.x.to(device), batch.lengths.to(device))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
