"""Seed 003's progressive network (Lakomkin et al. 2017, section 3.1.4, Figure 3d).

Two branches meet before the softmax layer: an emotion branch trained from
scratch, identical to the paper's baseline (a two-layer bidirectional GRU over
MFCC, deltas and pitch, its outputs mean-pooled over the valid frames), and
the frozen recognizer's layer x, mean-pooled over the same frames.  The two
pooled vectors are concatenated, dropout (0.25) applied, and one linear layer
gives the logits.

**Two streams in one input.**  The engine feeds a model one ``(batch, dims,
frames)`` array, so the streams come stacked on one frame grid by a combined
feature, the branch's features first:
``mfcc-seed003+pitch-seed003+recognizer-seed003:layer=2,hop=160`` (or
``...+whisper-base:layer=3,hop=160``).  ``branch_dims`` says where they part:
rows ``0 .. branch_dims - 1`` go to the GRU branch, the rest is the
recognizer's layer.  The recognizer's layer runs at 20 ms; ``hop=160`` puts it
on the 10 ms grid (its odd frames are the mean of their neighbours), so its
mean over an utterance is its own up to the two ends.

**Frozen.**  The recognizer branch has no parameters: the recognizer ran once,
frozen, when the feature was computed (and cached), and here its layer is only
pooled.  Only the GRU branch and the output layer learn.

**Normalisation.**  The paper normalises each feature per utterance.  Applied
to the whole stacked input that would make every recognizer unit's mean over
the utterance zero, and so its pooled vector too.  ``branch_norm="utterance"``
(the default) normalises the branch's rows per utterance here, over each
item's valid frames, as ``normalisation: utterance`` does for the baseline;
recipes normalise the stacked input globally, which leaves the branch's
per-utterance normalisation unchanged (it cancels any per-dimension scale and
offset) and scales the recognizer's units by training statistics.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_choice, check_common, check_option, check_positive
from serkit.models.blstm import MaskedBLSTM
from serkit.models.masking import fill_padding, length_mask, masked_mean

BRANCH_NORMS = ("utterance", "none")
#: A dimension whose standard deviation over an utterance is below this is only centred (as
#: serkit.features.normalise does).
EPS = 1e-8


@dataclasses.dataclass(frozen=True)
class ProgressiveConfig:
    n_dims: int
    n_classes: int
    #: Rows of the input that the from-scratch branch reads (the first ones); the rest are the
    #: recognizer's layer.
    branch_dims: int
    #: The branch's GRU cells per direction and layers (the paper's baseline: 96, two).
    hidden: int = 96
    num_layers: int = 2
    dropout: float = 0.25
    branch_norm: str = "utterance"

    def __post_init__(self) -> None:
        check_common(self, "progressive", n_pools=0)
        check_positive({"branch_dims": self.branch_dims, "hidden": self.hidden, "num_layers": self.num_layers},
                       "progressive")
        check_option(self.branch_dims < self.n_dims, "progressive",
                     f"branch_dims ({self.branch_dims}) must leave rows of n_dims ({self.n_dims}) to the recognizer")
        check_choice(self.branch_norm, BRANCH_NORMS, "progressive", "branch_norm")


class Progressive(UtteranceModel):
    """Progressive net-x; options are the fields of :class:`ProgressiveConfig`."""

    name = "progressive"
    Config = ProgressiveConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        # the dataclass would say only "missing argument": say what it means
        check_option("branch_dims" in options, self.name, "needs branch_dims, the rows of the emotion branch")
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.rnn = MaskedBLSTM(c.branch_dims, c.hidden, c.num_layers, cell=nn.GRU)
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(2 * c.hidden + c.n_dims - c.branch_dims, c.n_classes)

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = length_mask(lengths, x.shape[-1])
        branch, recognizer = x[:, :self.config.branch_dims], x[:, self.config.branch_dims:]
        if self.config.branch_norm == "utterance":
            branch = normalise_utterances(branch, mask)
        frames = self.rnn(branch.transpose(1, 2), lengths)  # (batch, frames, 2 * hidden), zero past lengths
        pooled = torch.cat([masked_mean(frames, mask, dim=1), masked_mean(recognizer, mask)], dim=-1)
        return self.classifier(self.dropout(pooled))


def normalise_utterances(x: Tensor, mask: Tensor) -> Tensor:
    """``(batch, dims, frames)`` with each item's dimensions at zero mean and unit variance over
    its valid frames (zero past them)."""
    mean = masked_mean(x, mask)[..., None]
    centred = fill_padding(x - mean, mask, 0.0)
    std = (masked_mean(centred.square(), mask)[..., None]).sqrt()
    return centred / torch.where(std < EPS, torch.ones_like(std), std)
