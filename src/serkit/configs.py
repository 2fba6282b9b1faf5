"""Configuration dataclasses to and from plain data (JSON, YAML), checked against their fields.

Every stage keeps its settings in frozen dataclasses (a feature's, a model's,
training's, a recipe) and reads them back from JSON or YAML, which say
nothing of types.  :func:`from_dict` is the one way back: it checks each
value against its field's annotation (so that ``epochs: ten`` fails naming
``train.epochs``, what it takes and what it got, instead of deep in a
comparison of str with int), refuses unknown keys naming them, builds nested
dataclasses from mappings, tuples from lists (JSON has no tuples; frozen
configurations keep them hashable) and enums from their values.

:func:`to_dict` is the one way out.  A field added after runs were recorded is
declared with :func:`added_later`: while it holds its unset value it is left
out, so that older configurations keep their hashes (cache keys, recorded
runs) and older files still compare equal.

This module sits beside :mod:`serkit.errors` and imports no pipeline stage.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from serkit.errors import ConfigError

T = TypeVar("T")

_ADDED_LATER = "serkit.added_later"


def added_later(default: Any = None, **field_options: Any) -> Any:
    """A dataclass field added after configurations were recorded, unset at ``default``.

    :func:`to_dict` leaves it out while it equals ``default``: an older
    configuration's dictionary, and so its hash, stays what it was.  A mutable
    default (a dict, a list) is copied for each instance.
    """
    metadata = {**field_options.pop("metadata", {}), _ADDED_LATER: True}
    if isinstance(default, (dict, list, set)):
        return dataclasses.field(default_factory=lambda: copy.copy(default), metadata=metadata,
                                 **field_options)
    return dataclasses.field(default=default, metadata=metadata, **field_options)


def is_added_later(field: dataclasses.Field) -> bool:
    return bool(field.metadata.get(_ADDED_LATER))


def to_dict(config: Any, *, complete: bool = False) -> dict[str, Any]:
    """``dataclasses.asdict(config)``, less every :func:`added_later` field at its unset value
    (nested dataclasses likewise), enums as their values.

    ``complete`` keeps every added-later field whatever it holds, nested ones too (a recipe's
    search sets them by path: ``train.warmup_steps``).
    """
    data = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if not complete and is_added_later(field) and value == _default(field):
            continue
        data[field.name] = _plain(value, complete)
    return data


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _plain(value: Any, complete: bool = False) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value, complete=complete)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return copy.deepcopy(value)


def from_dict(cls: type[T], data: Any, where: str = "", what: str = "settings") -> T:
    """A ``cls`` built from ``data`` (a mapping of field names to plain values), checked.

    ``where`` is the key path of ``data`` in its file (``"train."``), for messages;
    ``what`` names its keys in the message for an unknown one (``"recipe keys"``).
    Raises :class:`ConfigError` naming the key path, the expected type and the
    value, or the unknown keys and the known ones.  A missing key takes the
    field's default.
    """
    return cls(**field_values(cls, data, where, what))


def field_values(cls: type, data: Any, where: str = "", what: str = "settings") -> dict[str, Any]:
    """The keyword arguments :func:`from_dict` builds ``cls`` from: ``data`` checked and converted
    (for a class that checks its arguments itself before building its configuration)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where[:-1] or cls.__name__} must be {describe_type(cls)}, got {data!r}")
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(known))
    if unknown:
        label = f"{where[:-1]}: " if where else ""
        raise ConfigError(f"{label}unknown {what} {unknown}; known: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        key = f"{where}{name}"
        try:
            _check_value(hints[name], value, key)
        except _Mismatch as mismatch:
            raise ConfigError(str(mismatch)) from None
        values[name] = _build(hints[name], value, key)
    return values


def _build(hint: Any, value: Any, key: str) -> Any:
    """``value`` (already checked against ``hint``) as ``hint`` holds it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        option = next(a for a in args if a is not type(None) and _fits(a, value, key))
        return _build(option, value, key)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, f"{key}.")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if origin is tuple:
        items = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        return tuple(_build(h, v, f"{key}[{i}]") for i, (h, v) in enumerate(zip(items, value)))
    if origin is list:
        return [_build(args[0] if args else Any, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        return {k: _build(args[1] if args else Any, v, f"{key}.{k}") for k, v in value.items()}
    return value


def _fits(hint: Any, value: Any, key: str) -> bool:
    try:
        _check_value(hint, value, key)
    except _Mismatch:
        return False
    return True


# -- types ------------------------------------------------------------------------------
# YAML and JSON say nothing of types: ``epochs: ten`` would reach ``__post_init__`` as a string
# and fail there as a comparison of str with int.  Each value is checked against its field's
# annotation first, so that the error names the setting, what it takes and what it got.


class _Mismatch(Exception):
    def __init__(self, key: str, expected: str, value: Any):
        super().__init__(f"{key} must be {expected}, got {value!r}")
        self.key = key


def check_types(cls: type, data: Mapping[str, Any], where: str = "") -> None:
    """Raise :class:`ConfigError` for the first value of ``data`` that does not fit the annotation
    of ``cls``'s field of that name (``where`` prefixes the key in the message: ``"train."``).

    Checks ``int`` (not ``bool``), ``float`` (``int`` too), ``bool``, ``str``, ``Literal``, enums
    (by value), tuples and lists (YAML and JSON lists), dicts, unions and ``None``, and nested
    dataclasses (given as mappings); unknown keys are left to the caller (:func:`from_dict`
    refuses them).
    """
    try:
        _check_fields(cls, data, where)
    except _Mismatch as mismatch:
        raise ConfigError(str(mismatch)) from None


def _check_fields(cls: type, data: Mapping[str, Any], where: str) -> None:
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        if name in hints:
            _check_value(hints[name], value, f"{where}{name}")


def _check_value(hint: Any, value: Any, key: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        _check_union(hint, args, value, key)
    elif dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return
        if not isinstance(value, Mapping):
            raise _Mismatch(key, describe_type(hint), value)
        _check_fields(hint, value, f"{key}.")
    elif origin in (tuple, list):
        _check_sequence(hint, args, value, key)
    elif origin is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch(key, describe_type(hint), value)
        for item_key, item in value.items():
            _check_value(args[1] if args else Any, item, f"{key}.{item_key}")
    elif not _fits_scalar(hint, args, value):
        raise _Mismatch(key, describe_type(hint), value)


def _check_union(hint: Any, args: tuple[Any, ...], value: Any, key: str) -> None:
    options = [a for a in args if a is not type(None)]
    if value is None and len(options) < len(args):
        return
    mismatches = []
    for option in options:
        try:
            _check_value(option, value, key)
            return
        except _Mismatch as mismatch:
            mismatches.append(mismatch)
    if len(options) == 1 and mismatches[0].key != key:
        raise mismatches[0]  # a nested value is wrong: its own message names it
    raise _Mismatch(key, describe_type(hint), value)


def _check_sequence(hint: Any, args: tuple[Any, ...], value: Any, key: str) -> None:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch(key, describe_type(hint), value)
    if typing.get_origin(hint) is list or (len(args) == 2 and args[1] is Ellipsis):
        items = [args[0] if args else Any] * len(value)
    elif len(value) != len(args):
        raise _Mismatch(key, describe_type(hint), value)
    else:
        items = list(args)
    for index, (item_hint, item) in enumerate(zip(items, value)):
        _check_value(item_hint, item, f"{key}[{index}]")


def _fits_scalar(hint: Any, args: tuple[Any, ...], value: Any) -> bool:
    if hint is Any:
        return True
    if typing.get_origin(hint) is Literal:
        return any(value == choice and type(value) is type(choice) for choice in args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):  # YAML gives the value, code the member
        return isinstance(value, hint) or any(value == m.value and type(value) is type(m.value) for m in hint)
    if hint is float:  # YAML reads 1 as an int; a float setting takes it
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:  # bool is an int to Python, never to a configuration
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def describe_type(hint: Any) -> str:
    """What ``hint`` takes, in words: ``an integer``, ``one of 'adam', 'sgd'``, ``a list of 2 numbers``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(options + (["null"] if type(None) in args else []))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in hint)
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {hint.__name__} settings"
    if origin in (tuple, list):
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return f"a list of {_plural(args[0])}" if args and args[0] is not Any else "a list"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin is dict:
        return "a mapping"
    return _NAMES.get(hint, f"a {getattr(hint, '__name__', hint)}")


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", Any: "anything"}


def _plural(hint: Any) -> str:
    return {int: "integers", float: "numbers", bool: "booleans", str: "strings"}.get(hint, "values")
