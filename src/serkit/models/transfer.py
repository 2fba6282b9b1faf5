"""Starting a model from another's weights, and freezing its first layers.

Tensors only (the weights come in as a state dict; reading a model folder is
the caller's business).  Layers are counted as :meth:`UtteranceModel.layers`
lists them, from input to output.

- :func:`copy_matching` copies every layer whose parameters and buffers all
  match in name and shape, except the output layer, which is always new;
- :func:`freeze` takes the first N layers out of training: their parameters
  no longer require gradients (so the optimiser leaves them out), and
  :func:`hold_frozen_norms` keeps their batch-norm layers in evaluation mode,
  so that neither weights nor running statistics move.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from serkit.errors import SerkitError
from serkit.models.base import UtteranceModel


def output_layer(model: UtteranceModel) -> str:
    return model.layers()[-1][0]


def copy_matching(model: UtteranceModel, source: Mapping[str, Tensor]) -> list[str]:
    """Copy every layer of ``model`` (the output layer excepted) whose tensors -- parameters and
    buffers -- all have a match of name and shape in ``source``; returns the names of the
    tensors copied (raises when no layer matches).  A layer matches whole or not at all."""
    own = model.state_dict()
    copied = []
    for name, _ in model.layers()[:-1]:
        tensors = [key for key in own if key.startswith(name + ".")]
        if tensors and all(key in source and source[key].shape == own[key].shape for key in tensors):
            copied += tensors
    if not copied:
        raise SerkitError("no layer of the initial model matches this model (names and shapes differ)")
    model.load_state_dict({name: source[name] for name in copied}, strict=False)
    return copied


def freeze(model: UtteranceModel, n_layers: int) -> list[str]:
    """Freeze the first ``n_layers`` layers; returns their names."""
    layers = model.layers()
    if not 0 <= n_layers < len(layers):
        names = ", ".join(name for name, _ in layers)
        raise SerkitError(f"freeze: {n_layers} of {len(layers)} layers ({names}); the output layer stays trainable")
    for _, layer in layers[:n_layers]:
        for parameter in layer.parameters():
            parameter.requires_grad_(False)
    return [name for name, _ in layers[:n_layers]]


def freeze_all_but_output(model: UtteranceModel) -> list[str]:
    """Freeze every layer but the output layer (a first phase that trains the new head alone)."""
    return freeze(model, len(model.layers()) - 1)


def hold_frozen_norms(model: nn.Module) -> None:
    """Put every batch-norm layer whose parameters are frozen in evaluation mode (call after
    ``model.train()``): its running statistics then stay as they were."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and is_frozen(module):
            module.eval()


def is_frozen(module: nn.Module) -> bool:
    parameters = list(module.parameters())
    return bool(parameters) and not any(p.requires_grad for p in parameters)
