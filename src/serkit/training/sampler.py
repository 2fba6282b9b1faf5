"""The order of training: which items each batch of each epoch holds.

:class:`EpochSampler` deals an epoch's items into batches, from nothing but the run's seed and the
epoch (:func:`~serkit.training.data.keyed_rng`), so that its whole state is its position and a
resumed run draws exactly what an uninterrupted one does: shuffled (the default), shortest first
(SortaGrad), as many items of every corpus (:func:`balanced_draw`), or in batches of about one
length (:func:`length_batches`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from serkit.errors import SerkitError
from serkit.training.data import SHUFFLE_STREAM, keyed_rng


class EpochSampler:
    """Batches of indices, shuffled afresh each epoch from ``(seed, epoch)``.

    With ``sort_first_epoch`` (SortaGrad, seed 003) the first epoch takes the
    items shortest first instead.  With ``strata`` (each item's corpus) an
    epoch is :func:`balanced_draw`'s: as many items of every stratum, as many
    in all as there are items.  With ``by_length`` each batch holds items of
    about one length (:func:`length_batches`), so that models which run over
    the padding (the recurrent ones) compute little of it.  The position (epoch, next batch) is all of
    its state: :meth:`state_dict` / :meth:`load_state_dict` save and restore
    it, and iterating yields the rest of the current epoch, moving the
    position past each batch as it is handed out.
    """

    def __init__(self, sizes: Sequence[int], batch_size: int, seed: int, sort_first_epoch: bool = False,
                 strata: Sequence[str] | None = None, by_length: bool = False):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.sort_first_epoch = sort_first_epoch
        if strata is not None and len(strata) != len(self.sizes):
            raise SerkitError(f"{len(strata)} strata for {len(self.sizes)} items")
        self.strata = None if strata is None else np.asarray(strata, dtype=object)
        self.by_length = by_length
        self.epoch = 0
        self.batch = 0

    def __len__(self) -> int:
        return -(-len(self.sizes) // self.batch_size)

    def order(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch``, in order."""
        rng = keyed_rng(self.seed, SHUFFLE_STREAM, epoch)
        if self.strata is not None:
            indices = balanced_draw(self.strata, rng)
            if epoch == 0 and self.sort_first_epoch:
                indices = indices[np.argsort(self.sizes[indices], kind="stable")]
        elif epoch == 0 and self.sort_first_epoch:
            indices = np.argsort(self.sizes, kind="stable")
        else:
            indices = rng.permutation(len(self.sizes))
        if self.by_length and not (epoch == 0 and self.sort_first_epoch):
            return length_batches(indices, self.sizes, self.batch_size, rng)
        return [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]

    def __iter__(self) -> Iterator[np.ndarray]:
        batches = self.order(self.epoch)
        while self.batch < len(batches):
            self.batch += 1
            yield batches[self.batch - 1]

    @property
    def epoch_done(self) -> bool:
        return self.batch >= len(self)

    def next_epoch(self) -> None:
        self.epoch += 1
        self.batch = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])


#: How far each item's size is jittered before batching by length (a share, either way): the
#: batches change from epoch to epoch while their lengths stay close.
LENGTH_JITTER = 0.1


def length_batches(indices: np.ndarray, sizes: np.ndarray, batch_size: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """``indices`` cut into batches of about one length, the batches in a random order: each item's
    size jittered by up to :data:`LENGTH_JITTER`, the items sorted by it, cut every ``batch_size``.
    On EMO-DB's 4 classes a random batch of 64 pads to 2.4 times its frames, one of these to 1.3."""
    jittered = sizes[indices] * rng.uniform(1 - LENGTH_JITTER, 1 + LENGTH_JITTER, len(indices))
    ordered = indices[np.argsort(jittered, kind="stable")]
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


def balanced_draw(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``len(strata)`` item indices in a random order, as many from each stratum (the remainder
    to strata chosen by ``rng``): each stratum's items in fresh permutations, one after another
    until its share is drawn, so every item comes ``share // size`` or one more times."""
    names, stratum = np.unique(strata, return_inverse=True)
    share = np.full(len(names), len(strata) // len(names))
    share[rng.permutation(len(names))[: len(strata) % len(names)]] += 1
    drawn = []
    for s, wanted in enumerate(share):
        members = np.flatnonzero(stratum == s)
        cycles = -(-wanted // len(members))
        drawn.append(np.concatenate([rng.permutation(members) for _ in range(cycles)])[:wanted])
    return rng.permutation(np.concatenate(drawn))
