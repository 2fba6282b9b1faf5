"""A phone frame model's decoder, fitted and chosen on each fold's training side (seed 001's PER).

The paper's recognizer is a hybrid: frame posteriors divided by the class
priors, decoded by Viterbi with a phone bigram trained on the training set.
Per fold, here:

* the bigram (:class:`~serkit.evaluation.phone_decoding.PhoneBigram`, add-one)
  and the frame priors are counted on the training part only;
* the decoder's LM weight, insertion penalty and minimum duration are chosen
  on the validation part (the test part never chooses).  The test sentences
  are sentences the fold never trained on, but under ``speakers-only``
  validation the validation speakers read the training sentences, so a bigram
  that knew their sentence would make the LM look better than it will be on
  the test part.  Each validation utterance is therefore decoded by a bigram
  counted without its own sentence, and the grid point with the lowest pooled
  PER over them is kept;
* the test part is decoded with the bigram of every training utterance and
  those settings.

The run-collapsing PER of :mod:`serkit.experiments.frame_results` stays
beside it as the simpler decoder's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from serkit.evaluation.phone_decoding import (
    DecoderConfig,
    DecoderGrid,
    PhoneBigram,
    choose_decoder,
    class_log_priors,
    viterbi_decode,
)
from serkit.experiments.fold_data import FoldData
from serkit.experiments.frame_results import phone_runs
from serkit.experiments.frame_targets import PAUSE, UNKNOWN

#: The settings tried on validation: the LM weight down to 0 (no bigram), since the test
#: sentences are unseen and a sentence-peaked bigram may only hurt.
GRID = DecoderGrid(lm_weights=(0.0, 0.5, 1.0, 2.0))
#: Posteriors are clipped here before the logarithm.
_FLOOR = 1e-8


def decode_phones(data: FoldData, sentences: Mapping[str, str], validation_scores: Sequence[np.ndarray],
                  test_scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """The test part's decoded phone sequences and how the decoder was chosen (module docstring);
    ``sentences`` maps each utterance id to its sentence."""
    classes = tuple(data.labels)
    phones = [c for c in classes if c not in (PAUSE, UNKNOWN)]
    train_runs = [phone_runs(frames) for frames in data.train.frames]
    train_sentences = [sentences[i] for i in data.train.ids]
    priors = class_log_priors(data.train.frames, classes)

    def bigram(without: str | None = None) -> PhoneBigram:
        return PhoneBigram.fit([r for r, s in zip(train_runs, train_sentences) if s != without], symbols=phones)

    config, validation_per = _choose(data, sentences, validation_scores, classes, bigram, priors)
    full = bigram()
    decoded = [viterbi_decode(_log(s), classes, full, priors, config) for s in test_scores]
    return {"decoded": decoded, "decoder": {
        "lm_weight": config.lm_weight, "insertion_penalty": config.insertion_penalty,
        "min_frames": config.min_frames, "validation_per": validation_per,
        "rule": "Viterbi over a training-part phone bigram, posteriors over priors; settings chosen on "
                "validation utterances each decoded without its own sentence in the bigram"}}


def _choose(data: FoldData, sentences: Mapping[str, str], scores: Sequence[np.ndarray], classes: tuple[str, ...],
            bigram: Any, priors: np.ndarray) -> tuple[DecoderConfig, float | None]:
    """The grid point with the lowest pooled validation PER (the default settings without a
    validation part)."""
    validation = data.validation
    if not len(validation):
        return DecoderConfig(), None
    references = [phone_runs(frames) for frames in validation.frames]
    errors, length = None, 0
    for sentence in sorted({sentences[i] for i in validation.ids}):
        rows = [k for k, i in enumerate(validation.ids) if sentences[i] == sentence]
        n = sum(len(references[k]) for k in rows)
        table = choose_decoder([_log(scores[k]) for k in rows], [references[k] for k in rows], classes,
                               bigram(without=sentence), priors, grid=GRID).table
        found = np.array([row["per"] * n for row in table])  # PER is errors over reference phones
        errors, length = (found if errors is None else errors + found), length + n
    best = int(np.argmin(errors))
    return GRID.configs(DecoderConfig())[best], float(errors[best] / max(length, 1))


def _log(posteriors: np.ndarray) -> np.ndarray:
    return np.log(np.clip(posteriors, _FLOOR, 1.0))
