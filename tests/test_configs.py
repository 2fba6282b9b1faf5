"""One way from plain data to a configuration dataclass, and one for fields added later."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import pytest

from serkit.configs import added_later, from_dict, to_dict
from serkit.errors import ConfigError


class _Kind(enum.StrEnum):
    A = "a"
    B = "b"


@dataclasses.dataclass(frozen=True)
class _Inner:
    sizes: tuple[int, ...] = ()
    pair: tuple[float, float] | None = None


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Inner = _Inner()
    kind: _Kind = _Kind.A
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    later: int | None = added_later(None)
    table: dict[str, list[int]] = added_later({})


def test_lists_become_tuples_where_the_field_is_a_tuple_and_nested_dataclasses_are_built():
    built = from_dict(_Outer, {"inner": {"sizes": [1, 2], "pair": [0, 1.5]}, "kind": "b",
                               "options": {"x": [1]}})
    assert built.inner == _Inner(sizes=(1, 2), pair=(0, 1.5))
    assert built.kind is _Kind.B
    assert built.options == {"x": [1]}  # an untyped value is left as it came


@pytest.mark.parametrize("data, message", [
    ({"inner": {"sizes": [1, "x"]}}, r"inner.sizes\[1\] must be an integer, got 'x'"),
    ({"kind": "c"}, "kind must be one of 'a', 'b', got 'c'"),
    ({"inner": {"size": [1]}}, r"inner: unknown settings \['size'\]; known: sizes, pair"),
    ({"colour": 1}, r"unknown settings \['colour'\]"),
])
def test_errors_name_the_key_path_and_what_it_takes(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(_Outer, data)


def test_a_field_added_later_is_left_out_while_unset_and_kept_once_set():
    assert to_dict(_Outer()) == {"inner": {"sizes": (), "pair": None}, "kind": "a", "options": {}}
    assert to_dict(_Outer(later=3, table={"a": [1]}))["later"] == 3
    assert to_dict(_Outer(table={"a": [1]}))["table"] == {"a": [1]}
    assert _Outer().table is not _Outer().table  # a mutable default is never shared


def test_to_dict_reads_back_to_an_equal_configuration():
    config = _Outer(inner=_Inner((3,), (1.0, 2.0)), kind=_Kind.B, later=2)
    assert from_dict(_Outer, to_dict(config)) == config

