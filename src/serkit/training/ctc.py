"""A character sequence per utterance without alignment: seed 003's CTC recogniser (Section 3.1).

:class:`CTCRecognition` (kind ``ctc``) takes a frame model's logits
``(batch, frames, classes)`` where class 0 is the CTC blank and the others
are :attr:`~CTCRecognition.labels`' characters.  Its loss is
:func:`torch.nn.functional.ctc_loss` over the log-softmax, with each item's
output frames as its input length and ``zero_infinity=True``: an item with
fewer frames than its target needs (CTC cannot emit it) adds nothing instead
of an infinite loss.  Its scores are the per-frame log-probabilities; an
item decodes greedily (best class per frame, repeats collapsed, blanks
dropped); the metrics are CER and WER over the decoded texts (lower is
better), and CER chooses.

A target is an int array of class indices (no blanks).  The batch's input
frames reach the loss through :meth:`CTCRecognition.attach_frames`, which
:func:`serkit.training.data.collate` calls with the padded features' lengths:
the output frames follow the input frames one to one for a frame model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from serkit.errors import SerkitError
from serkit.evaluation import character_error_rate, word_error_rate
from serkit.training.tasks import LOSS_FIGURE, Targets, Task, _check_outputs

BLANK_INDEX = 0


class CTCTargets(NamedTuple):
    """A CTC batch's padded character indices, their lengths, and each item's input frames."""

    values: Tensor
    lengths: Tensor
    frames: Tensor | None = None

    def to(self, device: torch.device | str) -> CTCTargets:
        frames = None if self.frames is None else self.frames.to(device)
        return CTCTargets(self.values.to(device), self.lengths.to(device), frames)


@dataclasses.dataclass(frozen=True)
class CTCRecognition(Task):
    """CTC over ``labels`` (index 0 the blank, which decoding drops); chooses by CER."""

    labels: tuple[str, ...]

    kind: ClassVar[str] = "ctc"
    figure: ClassVar[str] = "cer"
    lower_is_better: ClassVar[frozenset[str]] = frozenset({LOSS_FIGURE, "cer", "wer"})

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise SerkitError(f"ctc: needs the blank and at least one character, got {self.labels}")

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def collate_targets(self, targets: Sequence[Any]) -> CTCTargets:
        arrays = [np.asarray(t, dtype=np.int64).reshape(-1) for t in targets]
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        values = np.zeros((len(arrays), int(lengths.max(initial=0))), dtype=np.int64)
        for row, array in zip(values, arrays):
            row[: len(array)] = array
        return CTCTargets(torch.from_numpy(values), torch.from_numpy(lengths))

    def attach_frames(self, targets: Targets, frames: Tensor) -> CTCTargets:
        return CTCTargets(targets.values, targets.lengths, frames)

    def loss(self, outputs: Tensor, targets: Targets) -> Tensor:
        _check_outputs(outputs, 3, self.n_classes, self.kind)
        log_probs = F.log_softmax(outputs.float(), dim=-1)
        frames = self._output_frames(outputs, targets)
        # ctc_loss wants time first: (frames, batch, classes); "mean" divides by target lengths
        return F.ctc_loss(log_probs.transpose(0, 1), targets.values, frames, targets.lengths,
                          blank=BLANK_INDEX, reduction="mean", zero_infinity=True)

    def scores(self, outputs: Tensor, targets: Targets) -> list[np.ndarray]:
        log_probs = F.log_softmax(outputs.detach().float(), dim=-1).cpu().numpy()
        frames = self._output_frames(outputs, targets).tolist()
        return [p[:n] for p, n in zip(log_probs, frames)]

    def metrics(self, scores: Sequence[np.ndarray], targets: Sequence[Any]) -> dict[str, float]:
        references = [self.text(np.asarray(t, dtype=np.int64).reshape(-1)) for t in targets]
        hypotheses = [self.decode(s) for s in scores]
        if not sum(len(r) for r in references):  # an empty set of texts has no rate
            return {"cer": float("nan"), "wer": float("nan")}
        return {"cer": character_error_rate(references, hypotheses), "wer": word_error_rate(references, hypotheses)}

    def decode(self, score: np.ndarray) -> str:
        return greedy_decode(score, self.labels)

    def text(self, indices: np.ndarray) -> str:
        return "".join(self.labels[i] for i in indices.tolist() if i != BLANK_INDEX)

    def combine(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        if len(scores) != 1:
            raise SerkitError("ctc: windows of one utterance cannot be combined; a ctc model reads whole utterances")
        return scores[0]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "labels": list(self.labels), "blank": BLANK_INDEX}

    def _output_frames(self, outputs: Tensor, targets: Targets) -> Tensor:
        """Each item's valid output frames: its input frames, at most the outputs' padded frames."""
        frames = getattr(targets, "frames", None)
        if frames is None:
            return torch.full((outputs.shape[0],), outputs.shape[1], dtype=torch.int64, device=outputs.device)
        return frames.clamp(max=outputs.shape[1])


def greedy_decode(log_probs: np.ndarray, labels: Sequence[str]) -> str:
    """Best path: the best class per frame, runs of one class collapsed, blanks dropped."""
    best = np.argmax(log_probs, axis=-1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return "".join(labels[i] for i in best[keep].tolist() if i != BLANK_INDEX)
