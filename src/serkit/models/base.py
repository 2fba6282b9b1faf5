"""What every utterance-level model shares: its input contract and its configuration.

**Input.**  ``model(x, lengths)`` takes a batch ``x`` of shape
``(batch, dims, frames)`` (any frequency-by-time feature: a 129-bin
spectrogram, 40 log-mel bands, 39 MFCC with deltas...) and ``lengths``, the
valid frames of each item (``(batch,)`` int64); frames past an item's length
are padding, whatever they hold.  It returns logits ``(batch, n_classes)``:
softmax belongs to the loss and to inference.

**Padding.**  A padded batch gives the same logits as each item alone (in
evaluation mode, up to float rounding): padding is zeroed on entry and after
every layer that could spread it, and every pooling over time is masked.  In
training mode batch normalisation uses batch statistics, which by nature mix
the items of a batch; :class:`~serkit.models.layers.MaskedBatchNorm2d` at
least keeps padding out of them.

**Short inputs.**  Pooling shrinks time, so a model needs at least
:attr:`UtteranceModel.min_frames` frames.  A shorter item is not an error: it
is zero-padded to ``min_frames`` (inside the model, identically in a batch or
alone), because refusing it would need a data-dependent check that cannot be
exported.

**Configuration.**  Each family has a frozen dataclass ``Config`` whose
fields are its constructor's keyword arguments, defaulting to the papers'
settings; :mod:`serkit.models.registry` writes it to JSON and back.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from serkit.errors import SerkitError
from serkit.models.layers import pooled_size
from serkit.models.masking import pad_to_min_frames, smallest_valid_input, zero_padding


def check_option(ok: bool, family: str, message: str) -> None:
    """Raise :class:`SerkitError` naming the family unless ``ok`` (for config validation)."""
    if not ok:
        raise SerkitError(f"model {family}: {message}")


def check_choice(value: str, choices: tuple[str, ...], family: str, field: str) -> None:
    message = f"{field} must be one of {', '.join(choices)}, not {value!r}"
    check_option(value in choices, family, message)


def check_positive(values: dict[str, Any], family: str) -> None:
    for field, value in values.items():
        items = value if isinstance(value, tuple) else (value,)
        check_option(
            len(items) > 0 and all(isinstance(v, int) and v >= 1 for v in items),
            family,
            f"{field} must be positive integers, not {value!r}",
        )


class UtteranceModel(nn.Module, ABC):
    """A classifier of ``(batch, dims, frames)`` features with ``lengths`` into logits.

    Subclasses set ``name`` (the registry name) and ``Config`` (a frozen
    dataclass with ``n_dims`` and ``n_classes`` first), build their layers
    from ``self.config`` and implement :meth:`output_frames` and
    :meth:`logits`.
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    #: True for a model that keeps time: logits ``(batch, frames, n_classes)`` (task: frame).
    frame_level: ClassVar[bool] = False

    def __init__(self, n_dims: int, n_classes: int, **options: Any):
        super().__init__()
        self.config = self.Config(n_dims=n_dims, n_classes=n_classes, **options)

    @classmethod
    def from_config(cls, config: Any) -> UtteranceModel:
        if not isinstance(config, cls.Config):
            raise TypeError(f"{cls.__name__} needs a {cls.Config.__name__}")
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})

    @property
    def n_dims(self) -> int:
        return self.config.n_dims

    @property
    def n_classes(self) -> int:
        return self.config.n_classes

    @functools.cached_property
    def min_frames(self) -> int:
        """Fewest frames an item needs to keep one frame through the pooling stack."""
        return smallest_valid_input(self.output_frames)

    @abstractmethod
    def output_frames(self, frames: int) -> int:
        """Frames left, of an input of ``frames`` frames, where the model pools over time."""

    @abstractmethod
    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits of a batch that is zero past each length, every length >= ``min_frames``."""

    def logits_at(self, x: Tensor, lengths: Tensor, step: int, offset: int) -> Tensor:
        """A frame model's logits at frames ``offset, offset + step, ...`` only (training on every
        k-th frame).  By default every frame is computed and those are kept; a model that can skip
        the others' work overrides this."""
        return self.logits(x, lengths)[:, offset::step]

    def forward(self, x: Tensor, lengths: Tensor, every: tuple[int, int] | None = None) -> Tensor:
        """Logits of a batch; ``every`` (a frame model's ``(step, offset)``): only at those frames."""
        if not torch.jit.is_tracing():  # shape checks would be frozen into a trace
            self._check_input(x, lengths)
            if every is not None and not self.frame_level:
                raise ValueError(f"{self.name} gives one output per utterance, not frames to select")
        logits = self.logits if every is None else functools.partial(self.logits_at, step=every[0],
                                                                        offset=every[1])
        if self.training and _unpadded(x, lengths, self.min_frames):
            # Training on equal windows (segments): nothing to zero or pad, and the
            # masked layers take their unmasked fast paths.  Only in training, which
            # is never traced, so an exported model keeps no data-dependent branch.
            return logits(x, lengths)
        x = zero_padding(x, lengths)
        x, lengths = pad_to_min_frames(x, lengths, self.min_frames)
        return logits(x, lengths)

    def _check_input(self, x: Tensor, lengths: Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != self.n_dims:
            raise ValueError(
                f"{self.name} expects input of shape (batch, {self.n_dims}, frames), "
                f"got {tuple(x.shape)}"
            )
        if lengths.shape != (x.shape[0],) or lengths.dtype.is_floating_point:
            raise ValueError(
                f"{self.name} expects integer lengths of shape ({x.shape[0]},), "
                f"got {lengths.dtype} {tuple(lengths.shape)}"
            )

    def layers(self) -> list[tuple[str, nn.Module]]:
        """The model's layers in order from input to output; the last is the output layer.

        What ``freeze: N`` counts and what transfer leaves out (the output
        layer is always new).  By default: each child module with parameters,
        in the order it was built, a stack (``ModuleList``, ``Sequential``)
        counting each of its members with parameters, e.g. ``cnn``:
        ``convs.0, convs.1, convs.2, head.1, head.3``.  A model whose children
        are built in another order than they run overrides this.
        """
        found = []
        for name, child in self.named_children():
            stack = isinstance(child, (nn.ModuleList, nn.Sequential))
            for member, module in child.named_children() if stack else [("", child)]:
                if any(True for _ in module.parameters()):
                    found.append((f"{name}.{member}" if member else name, module))
        return found

    def frozen_split(self, n_frozen: int) -> tuple[Callable[[Tensor, Tensor], Tensor], UtteranceModel] | None:
        """``(stem, head)`` where the first ``n_frozen`` layers being frozen fixes an inner output:
        ``stem(x, lengths)`` computes it ``(batch, dims, frames)`` once per input (in evaluation
        mode), and ``head``, built from this model's own upper modules, trains on it.  None (the
        default): no such cut, the model trains on its input."""
        return None

    def extra_repr(self) -> str:
        return f"min_frames={self.min_frames}"


def _unpadded(x: Tensor, lengths: Tensor, min_frames: int) -> bool:
    """Every item fills the batch's whole time axis, and that axis is long enough."""
    return x.shape[-1] >= min_frames and bool((lengths == x.shape[-1]).all())


def check_common(config: Any, family: str, n_pools: int) -> None:
    """Checks every family's config needs: class count, and dims that survive the pooling."""
    check_positive({"n_dims": config.n_dims, "n_classes": config.n_classes}, family)
    check_option(0.0 <= getattr(config, "dropout", 0.0) < 1.0, family, "dropout must be in [0, 1)")
    smallest = smallest_valid_input(lambda n: pooled_size(n, n_pools))
    check_option(
        config.n_dims >= smallest,
        family,
        f"its {n_pools} poolings need at least {smallest} input dims, got {config.n_dims}",
    )
