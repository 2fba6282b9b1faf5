"""Small probes of a pretrained speech recogniser's layers (seed 003, Lakomkin et al., section 3.1.3).

Seed 003 reuses the hidden representations of an ASR network's layers for
emotion: its "Fine-tuning MP-x" averages layer x's outputs over the
utterance and trains only a softmax layer on them, its "Fine-tuning RNN-x"
feeds them to a new GRU whose outputs are averaged and classified; both
apply dropout 0.25 to the averaged vector.  Here the representations are
the frames of any ``(batch, dims, frames)`` feature, typically the hidden
states of a Whisper encoder layer:

* ``linear``: Fine-tuning MP-x, the masked mean over the valid frames,
  dropout and one linear layer;
* ``layer_weighted``: the SUPERB benchmark's probe (Yang et al., 2021), a
  learned softmax-weighted sum of several layers stacked along ``dims``,
  then ``linear``'s head, so that the probe chooses its layers itself;
* ``gru``: Fine-tuning RNN-x, a bidirectional GRU over the frames, its
  outputs averaged over the valid frames, dropout and one linear layer.

None pools time before the average, so each takes inputs of one frame.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from serkit.models.base import UtteranceModel, check_common, check_option, check_positive
from serkit.models.blstm import MaskedBLSTM
from serkit.models.masking import length_mask, pool_time


class MeanPoolProbe(UtteranceModel):
    """A frame representation, its masked mean over the valid frames, dropout, a linear layer.

    Subclasses compute the ``(batch, features, frames)`` representation in
    :meth:`frames` (zero or not past each length: the mean is masked) and
    say its width in :meth:`pooled_dims`.
    """

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        self.dropout = nn.Dropout(self.config.dropout)
        self.classifier = nn.Linear(self.pooled_dims(), n_classes)

    def layers(self) -> list[tuple[str, nn.Module]]:
        # the classifier is built first (its width is known up front) but runs last
        return [(n, m) for n, m in super().layers() if n != "classifier"] + [("classifier", self.classifier)]

    def pooled_dims(self) -> int:
        return self.config.n_dims

    def frames(self, x: Tensor, lengths: Tensor) -> Tensor:
        return x

    def output_frames(self, frames: int) -> int:
        return frames

    def logits(self, x: Tensor, lengths: Tensor) -> Tensor:
        frames = self.frames(x, lengths)
        pooled = pool_time(frames, length_mask(lengths, frames.shape[-1]), "mean")
        return self.classifier(self.dropout(pooled))


@dataclasses.dataclass(frozen=True)
class LinearProbeConfig:
    n_dims: int
    n_classes: int
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_common(self, "linear", n_pools=0)


class LinearProbe(MeanPoolProbe):
    """Seed 003's Fine-tuning MP-x; options are the fields of :class:`LinearProbeConfig`."""

    name = "linear"
    Config = LinearProbeConfig


@dataclasses.dataclass(frozen=True)
class LayerWeightedConfig:
    n_dims: int
    n_classes: int
    n_layers: int
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_common(self, "layer_weighted", n_pools=0)
        check_positive({"n_layers": self.n_layers}, "layer_weighted")
        check_option(
            self.n_dims % self.n_layers == 0,
            "layer_weighted",
            f"n_dims ({self.n_dims}) must be n_layers ({self.n_layers}) blocks of equal width",
        )


class LayerWeightedProbe(MeanPoolProbe):
    """SUPERB's weighted sum of layers, then Fine-tuning MP's head.

    The input stacks ``n_layers`` layers' states along ``dims``: layer ``k``
    is rows ``k * width`` to ``(k + 1) * width``.  One learned score per
    layer, softmax-normalised, weighs them; the scores start at zero, an
    equal mix.  Options are the fields of :class:`LayerWeightedConfig`.
    """

    name = "layer_weighted"
    Config = LayerWeightedConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        # the dataclass would say only "missing argument": say what it means
        check_option("n_layers" in options, self.name, "needs n_layers, the layers stacked in dims")
        super().__init__(n_dims, n_classes, **options)
        self.layer_scores = nn.Parameter(torch.zeros(self.config.n_layers))

    def pooled_dims(self) -> int:
        return self.config.n_dims // self.config.n_layers

    def layer_weights(self) -> Tensor:
        """The weight of each layer in the sum, ``(n_layers,)``, summing to one."""
        return torch.softmax(self.layer_scores, dim=0)

    def frames(self, x: Tensor, lengths: Tensor) -> Tensor:
        layers = x.reshape(x.shape[0], self.config.n_layers, self.pooled_dims(), x.shape[-1])
        return (layers * self.layer_weights()[:, None, None]).sum(1)


@dataclasses.dataclass(frozen=True)
class GRUProbeConfig:
    n_dims: int
    n_classes: int
    hidden: int = 96
    num_layers: int = 1
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_common(self, "gru", n_pools=0)
        check_positive({"hidden": self.hidden, "num_layers": self.num_layers}, "gru")


class GRUProbe(MeanPoolProbe):
    """Seed 003's Fine-tuning RNN-x: a bidirectional GRU, then Fine-tuning MP's head.

    The GRU runs without packed sequences, as :class:`~serkit.models.blstm.MaskedBLSTM`
    runs its LSTMs, so that it exports to ONNX.  Options are the fields of
    :class:`GRUProbeConfig`.
    """

    name = "gru"
    Config = GRUProbeConfig

    def __init__(self, n_dims: int, n_classes: int, **options):
        super().__init__(n_dims, n_classes, **options)
        c = self.config
        self.rnn = MaskedBLSTM(c.n_dims, c.hidden, c.num_layers, cell=nn.GRU)

    def pooled_dims(self) -> int:
        return 2 * self.config.hidden

    def frames(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.rnn(x.transpose(1, 2), lengths).transpose(1, 2)
