"""CTC prefix beam search, with an optional character n-gram language model (seed 003's second row).

Greedy decoding (:func:`serkit.training.ctc.greedy_decode`) follows the best
class of each frame; the best *text* is another thing, because a text's
probability is the sum over all its alignments.  :func:`prefix_beam_search`
(Graves 2012, section 7.3; Hannun et al. 2014, "First-pass large vocabulary
continuous speech recognition using bi-directional recurrent DNNs",
Algorithm 1) keeps the ``beam`` best prefixes, each with the log-probability
of its alignments ending in a blank and ending in its last character, and
extends them frame by frame.  Without pruning (a beam as large as the number
of prefixes) a prefix's figure is exactly its probability summed over
alignments; with peaked posteriors (each frame's best class far above the
rest, as trained CTC models give) a beam of one is greedy decoding.

A prefix is ranked by ``log P_ctc(prefix) + lm_weight * log P_lm(prefix) +
insertion_bonus * len(prefix)``, Hannun et al.'s ``alpha`` and ``beta``: the
bonus offsets the language model's pull towards short texts.  The language
model, :class:`CharNgram`, is a character n-gram with add-k smoothing fitted
on the training part's transcripts; a finished text also pays for its end.
Every prefix's alignments share its language-model probability, so adding it
to the ranking equals multiplying it into each extension.

``char_floor`` skips, at each frame, the characters less likely than it
(log-probability), which makes decoding fast where posteriors are peaked; None
tries every character.  Numpy only.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from serkit.errors import ConfigError

NEG_INF = -math.inf
#: The symbol that ends a text (for :meth:`CharNgram.log_prob`).
END = -2
#: Padding of the history before a text's first character.
_START = -1


@dataclasses.dataclass(frozen=True)
class BeamSearchConfig:
    """The beam width, the language model's weight and the insertion bonus (see the module)."""

    beam: int = 16
    lm_weight: float = 0.0
    insertion_bonus: float = 0.0
    #: Characters below this log-probability at a frame are not tried (None: every one).
    char_floor: float | None = math.log(1e-4)
    #: At most this many characters, the likeliest, are tried at a frame (None: every one above the
    #: floor): it bounds the cost where posteriors are flat (an undertrained model).
    max_candidates: int | None = None
    blank: int = 0

    def __post_init__(self) -> None:
        if self.beam < 1:
            raise ConfigError(f"beam search: beam must be at least 1, not {self.beam}")
        if self.lm_weight < 0:
            raise ConfigError(f"beam search: lm_weight must not be negative, not {self.lm_weight}")


class CharNgram:
    """A character n-gram: ``P(c | previous order - 1 characters)``, add-k smoothed over the
    characters and the end of a text, the history padded with a start symbol."""

    def __init__(self, order: int, add_k: float, n_symbols: int, counts: dict[tuple[int, ...], Counter]):
        self.order, self.add_k, self.n_symbols, self.counts = order, add_k, n_symbols, counts
        self._totals = {history: sum(c.values()) for history, c in counts.items()}

    @classmethod
    def fit(cls, texts: Iterable[Sequence[int]], n_characters: int, order: int = 3, add_k: float = 0.1) -> CharNgram:
        """Counts of the texts (class indices); ``n_characters`` is how many characters a text may
        hold (the classes but the blank); ``order`` 2 is a bigram, 3 a trigram."""
        if order < 1 or add_k <= 0:
            raise ConfigError(f"character n-gram: order must be at least 1 and add_k positive, got {order}, {add_k}")
        counts: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        for text in texts:
            symbols = [_START] * (order - 1) + [int(c) for c in text] + [END]
            for k in range(order - 1, len(symbols)):
                counts[tuple(symbols[k - order + 1 : k])][symbols[k]] += 1
        return cls(order, add_k, n_characters + 1, dict(counts))  # + 1: the end of a text

    def log_prob(self, prefix: Sequence[int], symbol: int) -> float:
        """``log P(symbol | prefix)``: ``symbol`` a class index, or :data:`END` for the text's end."""
        padded = [_START] * (self.order - 1) + list(prefix)
        history = tuple(padded[len(padded) - self.order + 1 :]) if self.order > 1 else ()
        total = self._totals.get(history, 0)
        seen = self.counts[history][symbol] if total else 0
        return math.log((seen + self.add_k) / (total + self.add_k * self.n_symbols))


@dataclasses.dataclass
class _Prefix:
    blank: float = NEG_INF  # log-probability of the alignments ending in a blank
    label: float = NEG_INF  # ... ending in the prefix's last character
    lm: float = 0.0

    @property
    def total(self) -> float:
        return _logaddexp(self.blank, self.label)


def prefix_beam_search(log_probs: np.ndarray, config: BeamSearchConfig = BeamSearchConfig(),
                       lm: CharNgram | None = None) -> list[tuple[tuple[int, ...], float]]:
    """The beam's texts (class indices) of ``(frames, classes)`` log-probabilities, best first,
    each with its ranking figure (see the module); the best is the decoded text."""
    lm_weight = config.lm_weight if lm is not None else 0.0
    beam: dict[tuple[int, ...], _Prefix] = {(): _Prefix(blank=0.0)}
    for frame in np.asarray(log_probs, dtype=np.float64).tolist():  # floats: cheaper than numpy scalars
        candidates = [c for c in range(len(frame)) if c != config.blank
                      and (config.char_floor is None or frame[c] >= config.char_floor)]
        if config.max_candidates is not None and len(candidates) > config.max_candidates:
            candidates = heapq.nlargest(config.max_candidates, candidates, key=frame.__getitem__)
        extended: dict[tuple[int, ...], _Prefix] = {}
        for prefix, p in beam.items():
            stay = extended.setdefault(prefix, _Prefix(lm=p.lm))
            stay.blank = _logaddexp(stay.blank, p.total + frame[config.blank])
            for c in candidates:
                longer = prefix + (c,)
                if longer not in extended:
                    lm_step = lm_weight * lm.log_prob(prefix, c) if lm_weight else 0.0
                    extended[longer] = _Prefix(lm=p.lm + lm_step)
                if prefix and c == prefix[-1]:  # a repeat collapses unless a blank separates it
                    stay.label = _logaddexp(stay.label, p.label + frame[c])
                    extended[longer].label = _logaddexp(extended[longer].label, p.blank + frame[c])
                else:
                    extended[longer].label = _logaddexp(extended[longer].label, p.total + frame[c])
        beam = dict(heapq.nlargest(config.beam, extended.items(), key=lambda item: _rank(*item, config)))
    finished = [(prefix, _rank(prefix, p, config) + (lm_weight * lm.log_prob(prefix, END) if lm_weight else 0.0))
                for prefix, p in beam.items()]
    return sorted(finished, key=lambda item: item[1], reverse=True)


def beam_decode(log_probs: np.ndarray, labels: Sequence[str], config: BeamSearchConfig = BeamSearchConfig(),
                lm: CharNgram | None = None) -> str:
    """The best text of :func:`prefix_beam_search` as a string of ``labels``."""
    best, _ = prefix_beam_search(log_probs, config, lm)[0]
    return "".join(labels[c] for c in best)


def _rank(prefix: tuple[int, ...], p: _Prefix, config: BeamSearchConfig) -> float:
    return p.total + p.lm + config.insertion_bonus * len(prefix)


def _logaddexp(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` of two floats (numpy's ufunc costs more on scalars)."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))
