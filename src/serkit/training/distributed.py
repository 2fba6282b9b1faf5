"""Training on several processes: torchrun, DistributedDataParallel, one seeded order.

Launched by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``), ``serkit train`` joins the process group for the run
(:func:`process_group`: gloo on the CPU, NCCL on CUDA), and the
:class:`~serkit.training.engine.Trainer`:

* trains the model wrapped in ``DistributedDataParallel``, with batch norm
  synchronised (:func:`synchronised_norms`): serkit's masked batch norm takes
  its statistics over every rank's valid frames (:class:`SyncMaskedBatchNorm2d`,
  on any device), torch's batch norm becomes ``SyncBatchNorm`` on CUDA (torch's
  needs a GPU);
* draws each epoch's batches exactly as one process does (the
  :class:`~serkit.training.sampler.EpochSampler`: the seed, SortaGrad, corpus
  balance) and gives rank ``r`` the ``r``-th of ``N`` slices of each
  (:func:`share`).  ``batch_size`` is the *global* batch: each rank trains on
  ``batch_size / N`` items, and a batch size that ``N`` does not divide is
  refused;
* weights each rank's loss by its share of the batch, so that the gradient
  DDP averages is that of the loss over the whole batch;
* gathers the epoch's training figures on rank 0, which alone evaluates the
  validation part and broadcasts the epoch's row: early stopping, annealing
  and the kept epoch are one decision, taken once;
* writes checkpoints, the log and the model on rank 0 only.  Every rank reads
  the latest checkpoint to resume (on several machines the output folder must
  be shared), and a checkpoint carries every rank's random generator.

**One process or N.**  With the same seed and global batch the weights are
those of one process up to float rounding, for a loss that is a plain mean
over items (an utterance task): the all-reduce adds gradients in another
order, synchronised batch norm adds per-rank sums and always takes the masked
path (one process takes a fused kernel when a batch has no padding), and the
epoch's last batch, when smaller, splits into slices differing by one item (a
rank left with none trains on a copy of the batch's first item at weight 0,
which adds no loss but is counted in that batch's batch-norm statistics).  A
loss that averages over frames, or weights classes, is weighted by items, as
DDP always does.  Dropout draws from a generator seeded per rank, and SpecAugment's
masks are drawn per rank slice: both are equal in distribution to one
process's draws, not draw for draw.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import gc
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from serkit.errors import SerkitError
from serkit.models.layers import MaskedBatchNorm2d
from serkit.models.masking import fill_padding
from serkit.training.data import keyed_rng

log = logging.getLogger(__name__)

#: How long a rank waits for the others at a collective: rank 0 extracts the
#: features and evaluates validation while the others wait.
TIMEOUT = datetime.timedelta(hours=2)
#: The stream of :func:`~serkit.training.data.keyed_rng` that seeds ranks other than 0.
RANK_STREAM = 4


@dataclasses.dataclass(frozen=True)
class World:
    """This process's place among the training processes: one process unless launched by torchrun."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process logs and writes (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


SINGLE = World()


def launched() -> World:
    """The world ``torchrun`` describes in the environment (one process when it does not)."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    try:
        world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError) as error:
        raise SerkitError(f"torchrun's environment is incomplete or wrong: {error}") from None
    if not 0 <= world.rank < world.size:
        raise SerkitError(f"RANK {world.rank} is not in 0..{world.size - 1}")
    return world


def current() -> World:
    """The world of the process group this process has joined (one process when none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return World(dist.get_rank(), dist.get_world_size(), launched().local_rank)


@contextlib.contextmanager
def process_group(device: str) -> Iterator[World]:
    """Join torchrun's process group for the block (gloo on ``cpu``, NCCL on ``cuda``) and
    leave it after; one process, or a group already joined, is used as it is."""
    world = launched()
    if not world.active or dist.is_initialized():
        yield current()
        return
    if device == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", timeout=TIMEOUT)
    if world.main:
        log.info("training on %d processes (%s)", world.size, dist.get_backend())
    # Only rank 0 tells what happens; the other ranks still warn and fail aloud.
    quiet = [] if world.main else list(logging.getLogger().handlers)  # where serkit's records end up
    for handler in quiet:
        handler.addFilter(loud_enough)
    try:
        yield current()
        # Leave together: gloo can abort a rank that tears its pairs down while another
        # rank is still writing its checkpoint (not after a failure, which a barrier would hang).
        dist.barrier()
    finally:
        for handler in quiet:
            handler.removeFilter(loud_enough)
        # Release whatever in a reference cycle still holds the group while the interpreter is whole:
        # gloo work first freed at interpreter exit can abort the process (pytorch PR 179291).
        gc.collect()
        dist.destroy_process_group()


def loud_enough(record: logging.LogRecord) -> bool:
    """What a rank other than 0 logs: serkit's warnings and errors, and other libraries' records."""
    return record.levelno >= logging.WARNING or not record.name.startswith("serkit")


def placement(device: str, world: World) -> torch.device:
    """The torch device of this rank: its own GPU on CUDA (``LOCAL_RANK``), else ``device``."""
    if device == "cuda" and world.active:
        return torch.device("cuda", world.local_rank)
    return torch.device(device)


def check_batch_size(batch_size: int, world: World) -> None:
    if batch_size % world.size:
        raise SerkitError(f"train.batch_size {batch_size} is the global batch, shared by {world.size} "
                          f"processes: it must divide by {world.size}")


def rank_seed(seed: int, world: World) -> int:
    """The seed of this rank's torch generator (dropout): the run's own on rank 0."""
    return seed if world.main else int(keyed_rng(seed, RANK_STREAM, world.rank).integers(2**62))


def share(batch: np.ndarray, world: World) -> tuple[np.ndarray, float]:
    """This rank's slice of one global batch, and the weight of its loss: its items times ranks
    over the batch's items, so that DDP's average of the ranks' gradients is the batch mean's."""
    if not world.active:
        return batch, 1.0
    mine = np.array_split(batch, world.size)[world.rank]
    if len(mine) == 0:  # fewer items than ranks: take part in the all-reduce, adding nothing
        return batch[:1], 0.0
    return mine, len(mine) * world.size / len(batch)


def parallel(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``model`` as it trains: itself in one process, wrapped in DDP in several (a collective:
    rank 0's weights and buffers are copied to every rank)."""
    if not world.active:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


class _Sum(torch.autograd.Function):
    """A tensor summed over the ranks; its gradient, the ranks' gradients of the sum, summed."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class SyncMaskedBatchNorm2d(MaskedBatchNorm2d):
    """:class:`~serkit.models.layers.MaskedBatchNorm2d` whose training statistics are taken over
    the valid frames of every rank's items (sums over ranks that carry gradients, on any backend).

    It adds no parameter or buffer, so :func:`synchronised_norms` swaps a layer's class in place.
    """

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        if not self.training:
            return super().forward(x, mask)
        # Always the masked path: every rank must join both all-reduces, padded batch or not.
        # Statistics in float32, as MaskedBatchNorm2d's (bf16 under autocast counts frames too coarsely).
        dtype, x = x.dtype, x.float()
        count = (mask.sum() * x.shape[2]).float()
        totals = _Sum.apply(torch.cat([fill_padding(x, mask, 0.0).sum((0, 2, 3)), count[None]]))
        count = totals[-1].detach()
        mean = totals[:-1] / count
        centred = x - mean[None, :, None, None]
        var = _Sum.apply(fill_padding(centred.square(), mask, 0.0).sum((0, 2, 3))) / count
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count)
        out = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            out = out * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return out.to(dtype)


def _synchronised(module: nn.Module, device: torch.device) -> type | None:
    if type(module) is MaskedBatchNorm2d:
        return SyncMaskedBatchNorm2d
    if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        if device.type == "cuda":
            return nn.SyncBatchNorm
        log.warning("%s: torch's SyncBatchNorm needs a GPU; its statistics stay per rank", type(module).__name__)
    return None


@contextlib.contextmanager
def synchronised_norms(model: nn.Module, world: World, device: torch.device) -> Iterator[None]:
    """``model``'s batch norm synchronised across ranks for the block, swapped back after (the
    synchronised classes add no state: the caller's model keeps its layers and weights)."""
    swapped = []
    if world.active:
        for module in model.modules():
            synchronised = _synchronised(module, device)
            if synchronised is not None:
                swapped.append((module, type(module)))
                module.__class__ = synchronised
                if synchronised is nn.SyncBatchNorm:
                    module.process_group = None  # the default group, as convert_sync_batchnorm sets it
    try:
        yield
    finally:
        for module, original in swapped:
            module.__class__ = original


def broadcast(value: Any, world: World) -> Any:
    """Rank 0's ``value`` on every rank."""
    if not world.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any, world: World) -> list[Any] | None:
    """Every rank's ``value``, in rank order, on rank 0; None on the others."""
    if not world.active:
        return [value]
    values = [None] * world.size if world.main else None
    dist.gather_object(value, values, dst=0)
    return values


def gather_figures(progress: Any, world: World) -> None:
    """Move the epoch's running training figures (loss, items, scores, frame offsets) of every
    rank into rank 0's :class:`~serkit.training.run.RunProgress`; the other ranks start afresh."""
    if not world.active:
        return
    parts = gather((progress.loss_sum, progress.indices, progress.scores, progress.offsets), world)
    if parts is None:
        progress.reset_epoch()
        return
    progress.loss_sum = sum(part[0] for part in parts)
    progress.indices, progress.scores, progress.offsets = ([x for part in parts for x in part[k]] for k in (1, 2, 3))


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def autocast(device: torch.device, precision: str | None = None) -> Any:
    """The context a step computes in (``TrainConfig.precision``): bf16 autocast on CUDA unless
    ``precision`` is float32, and on the CPU where it is bfloat16."""
    if (precision or ("bfloat16" if device.type == "cuda" else "float32")) == "bfloat16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def autocast_for(device: torch.device, precision: str | None) -> Callable[[], Any]:
    """:func:`autocast` for ``device`` and ``precision``, made afresh for each block; warns where
    bfloat16 is asked of a CPU that can only emulate it (slower than float32)."""
    native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    if device.type == "cpu" and precision == "bfloat16" and not native():
        log.warning("precision bfloat16: this processor has no native bf16 (AVX512-BF16 or AMX); "
                    "emulated, it trains slower than float32")
    return functools.partial(autocast, device, precision)


def float32(outputs: Any) -> Any:
    """A model's outputs in float32 (bf16 under autocast), for scores and figures."""
    return outputs.float() if isinstance(outputs, Tensor) and outputs.is_floating_point() else outputs
