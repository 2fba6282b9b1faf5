"""Validation strategies: where a fold's validation part comes from.

The test part never chooses anything, so the part that stops training early
and picks a model comes from elsewhere, by one of three named strategies:

* ``speakers`` (the default): whole speakers held out of the training side —
  a fraction of them (10 %, at least one) or ``speakers:N`` of them, chosen
  with the seed and balanced by gender where the table knows it.  A protocol
  grouped by something else holds that out whole too: sessions under
  ``loso-session``, speakers *and* sentences under the crossed protocol
  (training then drops the rows that share only one of them).
  ``speakers-only:N`` holds out speakers alone even there: validation then
  shares its sentences with training (the test part still shares neither),
  which keeps a part large enough to stop on where the crossed protocol's
  training side is small (seed 001 on EMO-DB).  A training side of several
  corpora gives each corpus's share separately (``speakers:N``: N from each),
  so that validation mirrors the training mix rather than the corpus with
  the most speakers.
* ``predefined``: a fixed development set taken out of every fold — the rows
  whose ``partition`` is ``dev`` (RECOLA), or ``predefined:COLUMN=VALUE`` such
  as IEMOCAP's session 5 as seed 001 uses it.
* ``none``: no validation part; the fold says so, and nothing may stop early
  or choose a model on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serkit.errors import CorpusError, SerkitError
from serkit.protocols.base import EMPTY, Protocol, Split, column_values, optional_values
from serkit.protocols.predefined import DEV_VALUES


class ValidationStrategy(ABC):
    @property
    @abstractmethod
    def name(self) -> str:
        """The strategy as the CLI names it."""

    def reserved(self, table: pd.DataFrame) -> np.ndarray:
        """Rows set aside from every fold before the protocol splits (a fixed dev set)."""
        return EMPTY

    @abstractmethod
    def carve(
        self, table: pd.DataFrame, split: Split, protocol: Protocol, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(train, validation, dropped)`` taken from ``split.training``."""


@dataclass(frozen=True)
class HeldOutSpeakers(ValidationStrategy):
    """Whole speakers (or the protocol's groups) held out of the training side."""

    fraction: float = 0.1
    #: A fixed number of groups to hold out; overrides ``fraction``.
    count: int | None = None
    #: Hold out speakers only, whatever else the protocol holds out (``speakers-only:N``).
    speakers_only: bool = False

    def __post_init__(self) -> None:
        if self.count is None and not 0 < self.fraction < 1:
            raise SerkitError(f"validation fraction must be between 0 and 1, not {self.fraction}")
        if self.count is not None and self.count < 1:
            raise SerkitError(f"validation needs at least one speaker, not {self.count}")

    @property
    def name(self) -> str:
        name = "speakers-only" if self.speakers_only else "speakers"
        if self.count is not None:
            return f"{name}:{self.count}"
        return name if self.fraction == 0.1 else f"{name}:{self.fraction:g}"

    def carve(
        self, table: pd.DataFrame, split: Split, protocol: Protocol, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = split.training
        in_validation = np.ones(len(rows), dtype=bool)
        in_train = np.ones(len(rows), dtype=bool)
        for column in ("speaker",) if self.speakers_only else protocol.held_out_by:
            values = column_values(table, column, rows, f"validation on held-out {column}s")
            chosen = self._choose(table, rows, column, values, rng)
            held = np.isin(values, chosen)
            in_validation &= held
            in_train &= ~held
        dropped = ~in_validation & ~in_train
        return rows[in_train], rows[in_validation], rows[dropped]

    def _choose(self, table: pd.DataFrame, rows: np.ndarray, column: str, values: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        corpora = optional_values(table, "corpus", rows)
        if corpora is None or len(set(corpora)) == 1:
            return self._choose_within(table, rows, column, values, rng)
        return np.concatenate([self._choose_within(table, rows[corpora == c], column, values[corpora == c], rng,
                                                   f"{c}'s ") for c in np.unique(corpora)])

    def _choose_within(
        self,
        table: pd.DataFrame,
        rows: np.ndarray,
        column: str,
        values: np.ndarray,
        rng: np.random.Generator,
        whose: str = "",
    ) -> np.ndarray:
        distinct = np.unique(values)
        n = self.count if self.count is not None else max(1, round(self.fraction * len(distinct)))
        if n >= len(distinct):
            raise CorpusError(
                f"cannot hold out {n} of {whose or 'the '}{len(distinct)} training {column}s for validation "
                "and keep one to train on; choose fewer or --validation none"
            )
        genders = optional_values(table, "gender", rows) if column == "speaker" else None
        if genders is None:
            return rng.choice(distinct, size=n, replace=False)
        strata = {v: g for v, g in zip(values, genders, strict=True)}
        return _stratified_choice(distinct, np.array([strata[v] for v in distinct]), n, rng)


@dataclass(frozen=True)
class PredefinedDev(ValidationStrategy):
    """A fixed development set: the rows whose ``column`` holds one of ``values``."""

    column: str = "partition"
    values: tuple[str, ...] = DEV_VALUES

    @property
    def name(self) -> str:
        if (self.column, self.values) == ("partition", DEV_VALUES):
            return "predefined"
        return f"predefined:{self.column}={','.join(self.values)}"

    def reserved(self, table: pd.DataFrame) -> np.ndarray:
        everything = np.arange(len(table))
        values = optional_values(table, self.column, everything)
        if values is None:
            raise CorpusError(
                f"validation {self.name} needs a {self.column!r} column, which this table lacks"
            )
        dev = everything[np.isin(values, self.values)]
        if dev.size == 0:
            raise CorpusError(
                f"validation {self.name}: no rows have {self.column} in {list(self.values)} "
                f"(values present: {sorted(set(values))[:10]})"
            )
        return dev

    def carve(
        self, table: pd.DataFrame, split: Split, protocol: Protocol, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return split.training, self.reserved(table), EMPTY


@dataclass(frozen=True)
class NoValidation(ValidationStrategy):
    """No validation part: train for a fixed budget, choose nothing."""

    @property
    def name(self) -> str:
        return "none"

    def carve(
        self, table: pd.DataFrame, split: Split, protocol: Protocol, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return split.training, EMPTY, EMPTY


def validation_from_spec(spec: str) -> ValidationStrategy:
    """``speakers``, ``speakers:2``, ``speakers:0.2``, ``predefined``,
    ``predefined:COLUMN=VALUE[,VALUE]`` or ``none``."""
    name, _, arg = spec.strip().partition(":")
    if name == "none" and not arg:
        return NoValidation()
    if name in ("speakers", "speakers-only"):
        only = name == "speakers-only"
        if not arg:
            return HeldOutSpeakers(speakers_only=only)
        try:
            number = float(arg)
        except ValueError:
            raise SerkitError(
                f"validation {spec!r}: expected {name}:N or {name}:FRACTION"
            ) from None
        if number >= 1:
            if number != int(number):
                raise SerkitError(f"validation {spec!r}: a number of speakers must be whole")
            return HeldOutSpeakers(count=int(number), speakers_only=only)
        return HeldOutSpeakers(fraction=number, speakers_only=only)
    if name == "predefined":
        if not arg:
            return PredefinedDev()
        column, sep, values = arg.partition("=")
        if not sep or not column or not values:
            raise SerkitError(f"validation {spec!r}: expected predefined:COLUMN=VALUE[,VALUE]")
        return PredefinedDev(column, tuple(v.strip() for v in values.split(",")))
    raise SerkitError(
        f"unknown validation strategy {spec!r}; known: speakers[:N|:FRACTION], speakers-only[:N|:FRACTION], "
        "predefined[:COLUMN=VALUE], none"
    )


def _stratified_choice(
    values: np.ndarray, strata: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` of ``values``, spread over ``strata`` in proportion (largest remainder)."""
    names, sizes = np.unique(strata, return_counts=True)
    quota = n * sizes / sizes.sum()
    take = np.floor(quota).astype(int)
    # Seats left after flooring go to the largest remainders, ties broken by the seed.
    order = rng.permutation(len(names))
    order = order[np.argsort(-(quota - take)[order], kind="stable")]
    take[order[: n - take.sum()]] += 1
    chosen = [rng.choice(values[strata == s], size=k, replace=False) for s, k in zip(names, take)]
    return np.concatenate(chosen)
