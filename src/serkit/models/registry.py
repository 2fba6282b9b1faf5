"""Models by name: build one, write its configuration as JSON, rebuild it from that.

``build_model("cnn_blstm", n_dims=39, n_classes=4)`` builds seed 000's
CNN+BLSTM for 39-dimensional MFCC+deltas; ``cnn_tf_attention`` (and
``cnn_tf_gap``, ``cnn_tf_bilinear``) name ``cnn_tf`` with its ``head`` set.
:func:`model_config` gives a JSON-ready dict (the family name and every
field of its configuration) and :func:`model_from_config` rebuilds an equal,
freshly initialised model from it, into which saved weights load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from serkit.configs import field_values
from serkit.errors import ConfigError, SerkitError
from serkit.models.base import UtteranceModel
from serkit.models.blstm import BLSTM
from serkit.models.cnn import CNN
from serkit.models.cnn_blstm import CNNBLSTM
from serkit.models.cnn_tf import CNNTF
from serkit.models.dilated import DilatedCNN
from serkit.models.ds2 import DS2
from serkit.models.frame_blstm import FrameBLSTM
from serkit.models.frame_cnn import FrameCNN
from serkit.models.pooling import HEADS
from serkit.models.probes import GRUProbe, LayerWeightedProbe, LinearProbe
from serkit.models.progressive import Progressive
from serkit.models.receptive_probe import ReceptiveProbe
from serkit.models.updown import UpDownCNN

FAMILIES: dict[str, type[UtteranceModel]] = {
    cls.name: cls
    for cls in (CNN, BLSTM, CNNBLSTM, CNNTF, LinearProbe, LayerWeightedProbe, GRUProbe, FrameBLSTM,
                FrameCNN, DS2, DilatedCNN, UpDownCNN, ReceptiveProbe, Progressive)
}

#: Largest model (parameters and buffers) built from a configuration: 400 MB of float32, forty
#: times the largest recipe's (seed 000's cnn_blstm on spectrograms, 2.4 M), so that a mistyped
#: width is refused before it allocates gigabytes.
MAX_PARAMETERS = 100_000_000

ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    f"cnn_tf_{head}": ("cnn_tf", {"head": head}) for head in HEADS
}
"""Names that stand for a family with some options fixed."""


def list_models() -> list[str]:
    """Every name :func:`build_model` accepts, families and aliases."""
    return sorted([*FAMILIES, *ALIASES])


def build_model(name: str, n_dims: int, n_classes: int, **options: Any) -> UtteranceModel:
    """A freshly initialised model ``name`` for ``n_dims``-dimensional input and ``n_classes``.

    ``options`` are fields of the family's configuration (its widths,
    pooling, head...); anything else raises :class:`SerkitError` naming the
    fields it takes.
    """
    family, fixed = _resolve(name)
    for key, value in fixed.items():
        if key in options and options[key] != value:
            raise SerkitError(
                f"model {name} means {key}={value!r}, but {key}={options[key]!r} was given"
            )
    values = _checked(family, {**fixed, **options, "n_dims": n_dims, "n_classes": n_classes})
    return _sized(family, lambda: family(**values))


def is_frame_model(name: str) -> bool:
    """Whether model ``name`` gives logits per frame ``(batch, frames, classes)`` rather than per
    utterance (False for a name that is not a model: building it says so)."""
    try:
        return _resolve(name)[0].frame_level
    except SerkitError:
        return False


def frame_models() -> list[str]:
    """The names of the frame-level families."""
    return sorted(name for name, family in FAMILIES.items() if family.frame_level)


def config_class(name: str) -> type:
    """The configuration dataclass of model ``name`` (a family or an alias)."""
    return _resolve(name)[0].Config


def model_config(model: UtteranceModel) -> dict[str, Any]:
    """``{"name": family, "config": {field: value}}``, ready for ``json.dumps``."""
    fields = dataclasses.fields(model.config)
    config = {f.name: _lists(getattr(model.config, f.name)) for f in fields}
    return {"name": model.name, "config": config}


def model_from_config(data: dict[str, Any]) -> UtteranceModel:
    """Rebuild a model (freshly initialised) from :func:`model_config` output."""
    family, config = _family_config(data)
    return _sized(family, lambda: family.from_config(config))


def frames_of_context(data: dict[str, Any]) -> int | None:
    """Input frames on each side that one output frame of model ``data`` (:func:`model_config`'s
    form) depends on, where that is finite (its config's ``context_each_side``); None for a model
    whose every output may depend on its whole input (a recurrent one, or one that pools it)."""
    _, config = _family_config(data)
    return getattr(config, "context_each_side", None)


def check_model_config(data: dict[str, Any]) -> None:
    """Raise what :func:`model_from_config` would for ``data``, without building the model."""
    family, config = _family_config(data)
    _check_size(family, lambda: family.from_config(config))


def _family_config(data: dict[str, Any]) -> tuple[type[UtteranceModel], Any]:
    family, fixed = _resolve(data.get("name"))
    values = {**fixed, **dict(data.get("config", {}))}
    missing = {"n_dims", "n_classes"} - set(values)
    if missing:
        raise SerkitError(f"model {family.name}: configuration lacks {', '.join(sorted(missing))}")
    values = _checked(family, values)
    try:
        return family, family.Config(**values)
    except (TypeError, ValueError) as error:  # what the configuration's own checks refuse
        raise ConfigError(f"model {family.name}: unusable configuration ({error})") from None


def _checked(family: type[UtteranceModel], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against ``family.Config``'s fields, lists made tuples (the error names
    the model); the family's own checks come when it is built."""
    try:
        return field_values(family.Config, values, what="option(s)")
    except ConfigError as error:
        raise ConfigError(f"model {family.name}: {error}") from None


def parameter_count(build: Callable[[], UtteranceModel]) -> int:
    """Parameters and buffers of the model ``build()`` makes, counted without allocating them
    (built on PyTorch's ``meta`` device, which records shapes only and draws no random numbers)."""
    with torch.device("meta"):
        model = build()
    return sum(t.numel() for t in (*model.parameters(), *model.buffers()))


def _sized(family: type[UtteranceModel], build: Callable[[], UtteranceModel]) -> UtteranceModel:
    """``build()``, once the model's size is known to be within :data:`MAX_PARAMETERS`."""
    _check_size(family, build)
    return build()


def _check_size(family: type[UtteranceModel], build: Callable[[], UtteranceModel]) -> None:
    try:
        count = parameter_count(build)
    except (TypeError, ValueError, OverflowError, RuntimeError) as error:  # what torch's layers refuse
        raise ConfigError(f"model {family.name}: cannot be built from its configuration ({error})") from None
    if count > MAX_PARAMETERS:
        raise ConfigError(
            f"model {family.name}: {count:,} parameters, more than the {MAX_PARAMETERS:,} serkit builds "
            "(a width or size in its configuration is far too large)"
        )


def _resolve(name: Any) -> tuple[type[UtteranceModel], dict[str, Any]]:
    if name in ALIASES:
        family, fixed = ALIASES[name]
        return FAMILIES[family], fixed
    if name in FAMILIES:
        return FAMILIES[name], {}
    raise SerkitError(f"unknown model {name!r}; known: {', '.join(list_models())}")


def _lists(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
