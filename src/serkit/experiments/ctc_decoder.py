"""A ctc model's beam-search decoder, fitted and chosen on each fold's training side (seed 003's
second decoding row).

Per fold:

* a character trigram (:class:`~serkit.evaluation.beam_search.CharNgram`) is
  counted on the training part's transcripts only;
* the language model's weight and the insertion bonus are chosen on the
  validation part, by its pooled CER (the test part never chooses); a weight of
  0 is on the grid, so a language model that does not help is left out;
* the test part is decoded with those settings.

Greedy decoding stays the run's main row (``y_pred``); the beam's texts are the
fold's ``decoded`` and its figures ``cer_beam`` and ``wer_beam``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from serkit.evaluation import character_error_rate
from serkit.evaluation.beam_search import BeamSearchConfig, CharNgram, beam_decode
from serkit.experiments.ctc_targets import encode_text
from serkit.experiments.fold_data import FoldData

#: The settings tried on validation.
LM_WEIGHTS = (0.0, 0.5, 1.0)
INSERTION_BONUSES = (0.0, 1.0)
BEAM = 16
#: Characters tried per frame: a trained recognizer's posteriors leave one or two above the floor.
CANDIDATES = 8
ORDER = 3


def decode_texts(data: FoldData, validation_scores: Sequence[np.ndarray],
                 test_scores: Sequence[np.ndarray]) -> dict[str, Any]:
    """The test part's beam-searched texts and how the decoder was chosen (module docstring);
    scores are each utterance's ``(frames, classes)`` log-probabilities, the blank first."""
    labels = tuple(data.labels)
    lm = CharNgram.fit([encode_text(t, labels) for t in data.train.transcripts], len(labels) - 1, order=ORDER)
    config, validation_cer = choose_beam(validation_scores, data.validation.transcripts or [], labels, lm)
    return {"decoded": [beam_decode(s, labels, config, lm) for s in test_scores], "decoder": {
        "beam": config.beam, "lm_weight": config.lm_weight, "insertion_bonus": config.insertion_bonus,
        "lm_order": ORDER, "validation_cer": validation_cer,
        "rule": "prefix beam search with a character trigram of the training transcripts; LM weight and "
                "insertion bonus chosen by the validation part's pooled CER"}}


def choose_beam(scores: Sequence[np.ndarray], references: Sequence[str], labels: tuple[str, ...],
                lm: CharNgram) -> tuple[BeamSearchConfig, float | None]:
    """The grid point with the lowest pooled CER on the validation part (without one, the beam
    alone), and that CER."""
    if not len(references):
        return BeamSearchConfig(beam=BEAM, max_candidates=CANDIDATES), None
    best: tuple[float, BeamSearchConfig] | None = None
    for weight, bonus in itertools.product(LM_WEIGHTS, INSERTION_BONUSES):
        if weight == 0.0 and bonus:  # without a language model, a bonus only adds insertions
            continue
        config = BeamSearchConfig(beam=BEAM, lm_weight=weight, insertion_bonus=bonus, max_candidates=CANDIDATES)
        cer = character_error_rate(list(references), [beam_decode(s, labels, config, lm) for s in scores])
        if best is None or cer < best[0]:
            best = (cer, config)
    assert best is not None
    return best[1], float(best[0])
