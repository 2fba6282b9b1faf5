"""Continuous targets: seed 004's arousal and valence per frame, or any values per item.

:class:`Regression` is a :class:`~serkit.training.tasks.Task` with an MSE or
CCC loss; its figures are CCC and RMSE per output and their means, and it
chooses by mean CCC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from serkit.errors import SerkitError
from serkit.evaluation import concordance_correlation, root_mean_squared_error
from serkit.training.tasks import LOSS_FIGURE, Targets, Task, _check_outputs, _crop_frames, _pad_sequences

REGRESSION_LOSSES = ("ccc", "mse")


@dataclasses.dataclass(frozen=True)
class Regression(Task):
    """Continuous targets, per frame (seed 004) or per item, with an MSE or CCC loss.

    ``names`` names the outputs (``("arousal", "valence")``).  The CCC loss is
    ``1 - CCC``, averaged over outputs, with the moments taken over every valid
    frame of the batch (seed 004 trains with one utterance per batch, where
    this is the utterance's CCC).  Metrics pool every frame of the set.
    """

    names: tuple[str, ...]
    loss_name: str = "ccc"
    frame_level: bool = True

    kind: ClassVar[str] = "regression"
    figure: ClassVar[str] = "ccc"
    lower_is_better: ClassVar[frozenset[str]] = frozenset({LOSS_FIGURE, "rmse"})

    def __post_init__(self) -> None:
        if not self.names or len(set(self.names)) != len(self.names):
            raise SerkitError(f"regression: needs distinct output names, got {self.names}")
        if self.loss_name not in REGRESSION_LOSSES:
            raise SerkitError(f"regression: loss must be one of {REGRESSION_LOSSES}, not {self.loss_name!r}")

    @property
    def n_outputs(self) -> int:
        return len(self.names)

    def higher_is_better(self, figure: str) -> bool:
        return figure not in self.lower_is_better and not figure.startswith("rmse")

    @property
    def frame_targets(self) -> bool:
        return self.frame_level

    def collate_targets(self, targets: Sequence[Any]) -> Targets:
        arrays = [self._as_frames(t) for t in targets]
        values, lengths = _pad_sequences(arrays, 0.0)
        return Targets(values, lengths if self.frame_level else None)

    def loss(self, outputs: Tensor, targets: Targets) -> Tensor:
        pred, true, mask = self._valid(outputs, targets)
        if self.loss_name == "mse":
            return (pred - true).square()[mask].mean()
        return 1.0 - concordance_loss_terms(pred, true, mask).mean()

    def scores(self, outputs: Tensor, targets: Targets) -> list[np.ndarray]:
        pred, _, mask = self._valid(outputs.detach().float(), targets)
        pred = pred.cpu().numpy()
        return [p[:n] if self.frame_level else p[0] for p, n in zip(pred, mask.sum(1).tolist())]

    def metrics(self, scores: Sequence[np.ndarray], targets: Sequence[Any]) -> dict[str, float]:
        pred = np.concatenate([np.reshape(s, (-1, self.n_outputs)) for s in scores])
        true = np.concatenate([self._as_frames(t) for t in targets])
        figures: dict[str, float] = {}
        for d, name in enumerate(self.names):
            figures[f"ccc_{name}"] = concordance_correlation(true[:, d], pred[:, d])
            figures[f"rmse_{name}"] = root_mean_squared_error(true[:, d], pred[:, d])
        figures["ccc"] = float(np.mean([figures[f"ccc_{n}"] for n in self.names]))
        figures["rmse"] = float(np.mean([figures[f"rmse_{n}"] for n in self.names]))
        return figures

    def decode(self, score: np.ndarray) -> np.ndarray:
        return score

    def combine(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        if self.frame_level and len(scores) != 1:
            raise SerkitError("regression: windows of one utterance cannot be averaged frame by frame")
        return super().combine(scores)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "names": list(self.names),
            "loss": self.loss_name,
            "frame_level": self.frame_level,
        }

    def _as_frames(self, target: Any) -> np.ndarray:
        """A target as ``(frames, outputs)`` float32 (one frame for a per-item target)."""
        array = np.asarray(target, dtype=np.float32)
        if self.frame_level:
            ok = (array.ndim == 2 and array.shape[1] == self.n_outputs) or (
                array.ndim == 1 and self.n_outputs == 1
            )
        else:
            ok = array.ndim <= 1 and array.size == self.n_outputs
        if not ok:
            raise SerkitError(f"regression: a target of shape {array.shape} for outputs {self.names}")
        return array.reshape(-1, self.n_outputs)

    def _valid(self, outputs: Tensor, targets: Targets) -> tuple[Tensor, Tensor, Tensor]:
        """Predictions and targets as ``(batch, frames, outputs)`` with the valid-frame mask."""
        if not self.frame_level:
            _check_outputs(outputs, 2, self.n_outputs, self.kind)
            outputs = outputs.unsqueeze(1)
        _check_outputs(outputs, 3, self.n_outputs, self.kind)
        true = targets.values.to(outputs.device)
        pred = _crop_frames(outputs, true.shape[1])
        if targets.lengths is None:
            mask = torch.ones(true.shape[:2], dtype=torch.bool, device=outputs.device)
        else:
            mask = torch.arange(true.shape[1], device=outputs.device)[None, :] < targets.lengths[:, None]
        return pred, true, mask


def concordance_loss_terms(pred: Tensor, true: Tensor, mask: Tensor) -> Tensor:
    """CCC of each output over the valid frames, shape ``(outputs,)``, differentiable.

    ``pred`` and ``true`` are ``(batch, frames, outputs)``, ``mask`` is
    ``(batch, frames)``.  Population moments, as
    :func:`serkit.evaluation.concordance_correlation`, which the tests check it
    against; a tiny constant keeps a constant prediction from dividing by zero.
    """
    weight = mask.unsqueeze(-1).to(pred.dtype)
    count = weight.sum((0, 1))
    mean_pred = (pred * weight).sum((0, 1)) / count
    mean_true = (true * weight).sum((0, 1)) / count
    dev_pred, dev_true = (pred - mean_pred) * weight, (true - mean_true) * weight
    var_pred = dev_pred.square().sum((0, 1)) / count
    var_true = dev_true.square().sum((0, 1)) / count
    covariance = (dev_pred * dev_true).sum((0, 1)) / count
    return 2 * covariance / (var_pred + var_true + (mean_pred - mean_true).square() + 1e-8)
