"""Phone decoding for PER (seed 001): frame posteriors to a phone sequence, by Viterbi search
over a phone bigram.

Seed 001's recogniser is a hybrid: a ConvNet gives frame posteriors and an HMM with a bigram
language model trained on the training set decodes them.  This module is that decoder, in numpy:

* :class:`PhoneBigram`: P(next | previous) over the training part's phone sequences, with a
  start symbol :data:`START` and an end symbol :data:`END`, add-k smoothed (every history's row
  sums to 1 over the phones and :data:`END`).  Its counts go to and from JSON, so it is saved
  with a model.
* :func:`viterbi_frames` / :func:`viterbi_decode`: the best frame labelling and its phones.
  Scores are hybrid scaled likelihoods, log posterior - log prior (the priors, if given, are
  the training part's frame class frequencies: :func:`class_log_priors`).  Each phone is a
  left-to-right HMM of ``min_frames`` states, the last with a self-loop, so a phone lasts at
  least ``min_frames`` frames (an utterance shorter than that lowers it to its length).
  Entering a phone adds ``lm_weight * log P(phone | history) + insertion_penalty`` to the log
  score (HTK's convention: a negative penalty means fewer phones); ending the utterance adds
  ``lm_weight * log P(END | history)``.  A phone never follows itself directly, since the PER
  references are runs of frames, where it cannot.
* The pause class is a unit like a phone (same ``min_frames``) but free to enter and leave and
  transparent to the language model: ``a <p> b`` scores P(b | a), as if the pause were not there,
  since the references drop pauses (and the bigram is fitted without them).  To remember that
  history, there is one pause unit per history (START and each phone); a pause never follows a
  pause.  Classes in ``ignore`` (``<unk>``, which the model never predicts) are never entered.
* :func:`choose_decoder`: ``lm_weight``, ``insertion_penalty`` and ``min_frames`` from a small
  grid, by PER on the validation posteriors and references it is given (never the test part's).

Any per-frame constant added to the log posteriors (logits instead of log-softmax) leaves the
path unchanged.  The search is vectorised over units: each frame costs one (U x U) max, U = 2P+1
units for P phones, so O(T * U^2): 300 frames of 45 classes (43 phones, pause, ``<unk>``) with
``min_frames=3`` decode in 5 to 10 ms on one (shared) core.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from serkit.errors import ConfigError
from serkit.evaluation.sequence import phone_error_rate

log = logging.getLogger(__name__)

START = "<s>"
END = "</s>"


@dataclasses.dataclass(frozen=True, eq=False)
class PhoneBigram:
    """Phone bigram counts and their add-k smoothed log probabilities.

    ``counts[h, n]``: row 0 is :data:`START`, row ``1 + i`` follows ``symbols[i]``; column ``i``
    is ``symbols[i]`` and the last column is :data:`END`.
    """

    symbols: tuple[str, ...]
    counts: np.ndarray
    k: float = 1.0

    def __post_init__(self) -> None:
        size = len(self.symbols) + 1
        if np.shape(self.counts) != (size, size):
            raise ConfigError(f"phone bigram: counts must be {size}x{size} for {size - 1} symbols, "
                              f"got shape {np.shape(self.counts)}")
        if len(set(self.symbols)) != len(self.symbols) or {START, END} & set(self.symbols):
            raise ConfigError(f"phone bigram: symbols must be distinct and not {START} or {END}")
        if not self.k > 0 or np.any(np.asarray(self.counts) < 0):
            raise ConfigError(f"phone bigram: k must be positive and counts non-negative, k={self.k}")

    @classmethod
    def fit(cls, sequences: Iterable[Sequence[str]], *, k: float = 1.0, symbols: Sequence[str] | None = None,
            exclude: Sequence[str] = ("<p>",)) -> PhoneBigram:
        """Count a training part's phone sequences (one per utterance; ``exclude``, the pause, is
        dropped from them first).  ``symbols`` defaults to the phones seen; pass the model's
        classes so that a class the sequences lack still gets a smoothed probability."""
        kept = [[p for p in sequence if p not in exclude] for sequence in sequences]
        symbols = tuple(sorted({p for s in kept for p in s})) if symbols is None else tuple(symbols)
        index = {symbol: i for i, symbol in enumerate(symbols)}
        unknown = sorted({p for s in kept for p in s} - set(index))
        if unknown:
            raise ValueError(f"phone sequences hold symbols outside the bigram's: {unknown}")
        counts = np.zeros((len(symbols) + 1, len(symbols) + 1), dtype=np.int64)
        for sequence in kept:
            codes = [index[p] for p in sequence]
            np.add.at(counts, ([0] + [c + 1 for c in codes], codes + [len(symbols)]), 1)
        return cls(symbols, counts, k)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {symbol: i for i, symbol in enumerate(self.symbols)}

    @functools.cached_property
    def log_table(self) -> np.ndarray:
        """``log P(next | history)`` in the layout of :attr:`counts`."""
        counts = np.asarray(self.counts, dtype=np.float64)
        return np.log((counts + self.k) / (counts.sum(axis=1, keepdims=True) + self.k * counts.shape[1]))

    def log_prob(self, prev: str, next: str) -> float:
        """``log P(next | prev)``; ``prev`` may be :data:`START`, ``next`` may be :data:`END`."""
        row = 0 if prev == START else 1 + self.index[prev]
        column = len(self.symbols) if next == END else self.index[next]
        return float(self.log_table[row, column])

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "k": self.k, "counts": np.asarray(self.counts).tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhoneBigram:
        try:
            return cls(tuple(data["symbols"]), np.asarray(data["counts"], dtype=np.int64), float(data["k"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"phone bigram: not a saved bigram ({error})") from error


def class_log_priors(frames: Iterable[Sequence[str]], classes: Sequence[str], k: float = 1.0) -> np.ndarray:
    """Log frame frequencies of ``classes`` over a training part's frame labels, add-k smoothed
    so that no class's prior is zero."""
    index = {c: i for i, c in enumerate(classes)}
    counts = np.full(len(classes), float(k))
    for labels in frames:
        codes, n = np.unique([index[label] for label in labels], return_counts=True)
        counts[codes.astype(np.int64)] += n
    return np.log(counts / counts.sum())


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """How :func:`viterbi_decode` weighs the bigram against the frames (module docstring)."""

    lm_weight: float = 1.0
    insertion_penalty: float = 0.0
    min_frames: int = 1
    pause: str = "<p>"
    ignore: tuple[str, ...] = ("<unk>",)

    def __post_init__(self) -> None:
        if self.min_frames < 1 or self.lm_weight < 0:
            raise ConfigError(f"decoder: min_frames must be at least 1 and lm_weight non-negative, "
                              f"got {self.min_frames} and {self.lm_weight}")


@dataclasses.dataclass(frozen=True)
class _Graph:
    """The decoding network over units (P phones, then P + 1 pauses: after START and each phone)."""

    columns: np.ndarray  # each unit's column of the posteriors
    labels: np.ndarray  # each unit's frame label
    start: np.ndarray  # (U,) log score of entering a unit at the first frame
    transitions: np.ndarray  # (U, U) log score from one unit's last state to another's first
    end: np.ndarray  # (U,) log score of ending in a unit


def viterbi_frames(log_posteriors: np.ndarray, classes: Sequence[str], bigram: PhoneBigram,
                   log_priors: np.ndarray | None = None,
                   config: DecoderConfig = DecoderConfig()) -> tuple[list[str], float]:
    """The best frame labelling of one utterance's ``(frames, classes)`` log posteriors, and its
    log score (module docstring)."""
    graph = _graph(tuple(classes), bigram, config)
    return _viterbi(graph, _scaled(log_posteriors, log_priors, graph, len(classes)), config.min_frames)


def viterbi_decode(log_posteriors: np.ndarray, classes: Sequence[str], bigram: PhoneBigram,
                   log_priors: np.ndarray | None = None, config: DecoderConfig = DecoderConfig()) -> list[str]:
    """The phones of :func:`viterbi_frames`' labelling: one per run, pauses dropped."""
    frames, _ = viterbi_frames(log_posteriors, classes, bigram, log_priors, config)
    return _phones(frames, config.pause)


@dataclasses.dataclass(frozen=True)
class DecoderGrid:
    """The settings :func:`choose_decoder` tries (every combination, in this order)."""

    lm_weights: tuple[float, ...] = (0.5, 1.0, 2.0)
    insertion_penalties: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0)
    min_frames: tuple[int, ...] = (1, 2, 3)

    def configs(self, base: DecoderConfig) -> list[DecoderConfig]:
        return [dataclasses.replace(base, lm_weight=w, insertion_penalty=p, min_frames=m)
                for w, p, m in itertools.product(self.lm_weights, self.insertion_penalties, self.min_frames)]


@dataclasses.dataclass(frozen=True)
class DecoderChoice:
    """The chosen settings, their validation PER, and every grid point's (a JSON-able table)."""

    config: DecoderConfig
    per: float
    table: tuple[dict[str, float], ...]


def choose_decoder(log_posteriors: Sequence[np.ndarray], references: Sequence[Sequence[str]],
                   classes: Sequence[str], bigram: PhoneBigram, log_priors: np.ndarray | None = None, *,
                   grid: DecoderGrid = DecoderGrid(), base: DecoderConfig = DecoderConfig()) -> DecoderChoice:
    """The grid point with the lowest PER of the *validation* utterances given (their log
    posteriors and reference phones, pauses dropped); ties go to the earlier grid point.  It sees
    nothing but its arguments, so the test part never chooses."""
    if len(log_posteriors) != len(references) or not references:
        raise ValueError(f"{len(log_posteriors)} validation utterances but {len(references)} references")
    table = []
    for config in grid.configs(base):
        graph = _graph(tuple(classes), bigram, config)
        hypotheses = [_phones(_viterbi(graph, _scaled(p, log_priors, graph, len(classes)), config.min_frames)[0],
                              config.pause) for p in log_posteriors]
        table.append({"lm_weight": config.lm_weight, "insertion_penalty": config.insertion_penalty,
                      "min_frames": config.min_frames, "per": phone_error_rate(references, hypotheses)})
    best = min(range(len(table)), key=lambda i: table[i]["per"])
    chosen = grid.configs(base)[best]
    log.info("decoder chosen on %d validation utterances: lm_weight %g, insertion_penalty %g, "
             "min_frames %d (PER %.3f)", len(references), chosen.lm_weight, chosen.insertion_penalty,
             chosen.min_frames, table[best]["per"])
    return DecoderChoice(chosen, table[best]["per"], tuple(table))


def _graph(classes: tuple[str, ...], bigram: PhoneBigram, config: DecoderConfig) -> _Graph:
    phones = [c for c in classes if c not in config.ignore and c != config.pause]
    missing = [c for c in phones if c not in bigram.index]
    if missing:
        raise ValueError(f"classes the phone bigram does not know: {missing}")
    n = len(phones)
    table = bigram.log_table
    histories = [0] + [1 + bigram.index[c] for c in phones]  # START, then each phone
    # (n + 1, n): from a history into a phone; (n + 1,): from a history to the end
    enter = config.lm_weight * table[np.ix_(histories, [bigram.index[c] for c in phones])] + config.insertion_penalty
    leave = config.lm_weight * table[histories, len(bigram.symbols)]
    pause = config.pause in classes and config.pause not in config.ignore
    units = 2 * n + 1 if pause else n
    transitions = np.full((units, units), -np.inf)
    transitions[:n, :n] = enter[1:]
    np.fill_diagonal(transitions[:n, :n], -np.inf)  # a phone never follows itself
    start, end = np.full(units, -np.inf), np.empty(units)
    start[:n], end[:n] = enter[0], leave[1:]
    columns, labels = [classes.index(c) for c in phones], list(phones)
    if pause:
        transitions[n:, :n] = enter  # pause unit n + h keeps history h (0: START)
        transitions[np.arange(n), n + 1 + np.arange(n)] = 0.0  # phone i into the pause after it
        start[n], end[n:] = 0.0, leave
        columns += [classes.index(config.pause)] * (n + 1)
        labels += [config.pause] * (n + 1)
    return _Graph(np.asarray(columns, dtype=np.int64), np.asarray(labels, dtype=object), start, transitions, end)


def _scaled(log_posteriors: np.ndarray, log_priors: np.ndarray | None, graph: _Graph, n_classes: int) -> np.ndarray:
    """Each unit's scaled log likelihood per frame, ``(frames, units)``."""
    scores = np.asarray(log_posteriors, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != n_classes or len(scores) == 0:
        raise ValueError(f"log posteriors must be (frames, {n_classes}) with frames > 0, got {scores.shape}")
    scores = scores[:, graph.columns]
    if log_priors is not None:
        priors = np.asarray(log_priors, dtype=np.float64)[graph.columns]
        if not np.all(np.isfinite(priors)):
            raise ValueError("log priors must be finite for every class the decoder may enter")
        scores = scores - priors
    return scores


def _viterbi(graph: _Graph, emissions: np.ndarray, min_frames: int) -> tuple[list[str], float]:
    n_frames, units = emissions.shape
    states = min(min_frames, n_frames)
    scores = np.full((units, states), -np.inf)  # state j: the unit's (j + 1)-th frame, the last looping
    scores[:, 0] = graph.start + emissions[0]
    entered_from = np.zeros((n_frames, units), dtype=np.int64)
    stayed = np.zeros((n_frames, units), dtype=bool)  # the last state came from itself
    every = np.arange(units)
    for t in range(1, n_frames):
        through = scores[:, -1][:, None] + graph.transitions
        entered_from[t] = np.argmax(through, axis=0)
        entry = through[entered_from[t], every]
        last = scores[:, -1]
        onward = entry if states == 1 else scores[:, -2]
        stayed[t] = last >= onward
        scores = np.concatenate([entry[:, None], scores[:, :-2], np.maximum(last, onward)[:, None]], axis=1) \
            if states > 1 else np.maximum(last, onward)[:, None]
        scores += emissions[t][:, None]
    final = scores[:, -1] + graph.end
    unit = int(np.argmax(final))
    best = float(final[unit])
    if not np.isfinite(best):
        raise ValueError("no labelling of the frames has a finite score")
    path, state = np.empty(n_frames, dtype=np.int64), states - 1
    for t in range(n_frames - 1, -1, -1):
        path[t] = unit
        if t == 0 or (state == states - 1 and stayed[t, unit]):
            continue
        if state > 0:
            state -= 1
        else:
            unit, state = int(entered_from[t, unit]), states - 1
    return graph.labels[path].tolist(), best


def _phones(frames: Sequence[str], pause: str) -> list[str]:
    runs = [label for k, label in enumerate(frames) if k == 0 or frames[k - 1] != label]
    return [label for label in runs if label != pause]
