"""Protocols by name, and :func:`make_folds`, which makes guarded folds from a table.

Names as the CLI accepts them:

=========================  ==================================================
``loso``                   leave one speaker out
``speaker-kfold:K``        K folds of whole speakers, stratified (default 5)
``loso-session``           leave one session out
``predefined``             the table's ``partition``: train against test (or dev)
``predefined:COL=V[,V]``   test on the rows whose COL is V, train on the rest
``speaker-sentence:KxL``   crossed speaker-and-sentence folds (default 5x5)
``random-kfold:K``         seed 000's stratified random folds, speaker-dependent
``loco``                   leave one corpus out (a table of several corpora)
``train:A,B test:C``       one fold: trained on corpora A and B, tested on C
``all``                    no test part: the whole corpus trains a model to ship
=========================  ==================================================
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from serkit.errors import SerkitError
from serkit.progress import Progress
from serkit.protocols.base import Protocol
from serkit.protocols.cross_corpus import LeaveOneCorpusOut, TrainTestCorpora
from serkit.protocols.crossed import SpeakerSentenceCrossed
from serkit.protocols.fold import Fold, build_fold
from serkit.protocols.guard import Hashes, audio_hashes, check_fold
from serkit.protocols.predefined import Predefined
from serkit.protocols.random_kfold import RandomKFold
from serkit.protocols.session import LeaveOneSessionOut
from serkit.protocols.speaker import LeaveOneSpeakerOut, SpeakerKFold
from serkit.protocols.validation import ValidationStrategy, validation_from_spec
from serkit.protocols.whole import WholeCorpus

log = logging.getLogger(__name__)

PROTOCOL_NAMES = (
    "loso",
    "speaker-kfold:K",
    "loso-session",
    "predefined[:COLUMN=VALUE]",
    "speaker-sentence:KxL",
    "random-kfold:K",
    "loco",
    "train:A,B test:C",
    "all",
)


def protocol_from_spec(spec: str) -> Protocol:
    """The protocol a CLI string names (see the module's table)."""
    text = spec.strip()
    name, _, arg = text.partition(":")
    if name == "loso" and not arg:
        return LeaveOneSpeakerOut()
    if name == "all" and not arg:
        return WholeCorpus()
    if name == "loso-session" and not arg:
        return LeaveOneSessionOut()
    if name == "loco" and not arg:
        return LeaveOneCorpusOut()
    if name == "train":
        match = re.fullmatch(r"train:([\w-]+(?:,[\w-]+)*)\s+test:([\w-]+)", text)
        if not match:
            raise SerkitError(f"protocol {spec!r}: expected train:A,B test:C (corpus names)")
        return TrainTestCorpora(tuple(match[1].split(",")), match[2])
    if name in ("speaker-kfold", "random-kfold"):
        k = _whole(arg or "5", spec)
        if k < 2:
            raise SerkitError(f"protocol {spec!r}: k-fold needs k >= 2")
        return SpeakerKFold(k) if name == "speaker-kfold" else RandomKFold(k)
    if name == "speaker-sentence":
        match = re.fullmatch(r"(\d+)x(\d+)", arg or "5x5")
        if not match:
            raise SerkitError(f"protocol {spec!r}: expected speaker-sentence:KxL, e.g. 5x5")
        return SpeakerSentenceCrossed(int(match[1]), int(match[2]))
    if name == "predefined":
        if not arg:
            return Predefined()
        column, sep, values = arg.partition("=")
        if not sep or not column or not values:
            raise SerkitError(f"protocol {spec!r}: expected predefined:COLUMN=VALUE[,VALUE]")
        return Predefined(column, tuple(v.strip() for v in values.split(",")))
    raise SerkitError(f"unknown protocol {spec!r}; known: {', '.join(PROTOCOL_NAMES)}")


def make_folds(
    table: pd.DataFrame,
    protocol: str | Protocol = "loso",
    validation: str | ValidationStrategy = "speakers",
    seed: int = 0,
    hashes: Hashes | None = None,
    progress: Progress | None = None,
) -> list[Fold]:
    """Every fold of ``protocol`` over ``table``, each checked by :func:`check_fold`.

    ``validation`` names the strategy for the validation part (see
    :mod:`serkit.protocols.validation`); ``seed`` makes every choice
    repeatable; ``hashes`` may pass content hashes computed before (see
    :func:`~serkit.protocols.guard.audio_hashes`), else the files are hashed
    once here, reporting ``progress(done, total)``.
    """
    if isinstance(protocol, str):
        protocol = protocol_from_spec(protocol)
    if isinstance(validation, str):
        validation = validation_from_spec(validation)
    if len(table) == 0:
        raise SerkitError(f"{protocol.name}: the corpus table is empty")
    row_hashes = audio_hashes(table, hashes, progress)
    reserved = validation.reserved(table)
    rows = np.setdiff1d(np.arange(len(table)), reserved)
    folds = []
    for index, split in enumerate(protocol.splits(table, rows, seed, row_hashes)):
        train, valid, held_back = validation.carve(
            table, split, protocol, np.random.default_rng([seed, index])
        )
        fold = build_fold(
            table,
            protocol=protocol.name,
            index=index,
            name=split.name,
            speaker_dependent=protocol.speaker_dependent,
            validation_strategy=validation.name,
            grouped_by=protocol.grouped_by,
            train=train,
            validation=valid,
            test=split.test,
            dropped=np.concatenate([split.dropped, held_back]),
            seed=seed,
        )
        if not fold.train:
            raise SerkitError(f"{protocol.name} fold {split.name!r}: nothing left to train on")
        check_fold(table, fold, row_hashes)
        log.info(
            "%s %s: %d train, %d validation, %d test, %d dropped",
            fold.protocol,
            fold.name,
            len(fold.train),
            len(fold.validation),
            len(fold.test),
            len(fold.dropped),
        )
        folds.append(fold)
    return folds


def _whole(text: str, spec: str) -> int:
    if not text.isdigit():
        raise SerkitError(f"protocol {spec!r}: {text!r} is not a whole number")
    return int(text)

