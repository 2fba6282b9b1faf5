"""CTC prefix beam search and the character n-gram: against greedy decoding, against brute force
over every alignment, and on posteriors where the best text is not the best path."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.evaluation.beam_search import END, BeamSearchConfig, CharNgram, beam_decode, prefix_beam_search
from serkit.training.ctc import greedy_decode

LABELS = ("<b>", " ", "A", "B")


def peaked_posteriors(frames: int, classes: int, seed: int) -> np.ndarray:
    """Log-posteriors whose best class per frame holds at least 0.9 of the mass (as a trained
    CTC model's), the best class drawn with the blank twice as likely as each character."""
    rng = np.random.default_rng(seed)
    best = rng.choice(classes, size=frames, p=np.r_[2.0, np.ones(classes - 1)] / (classes + 1))
    rest = rng.dirichlet(np.ones(classes - 1), size=frames) * rng.uniform(0.0, 0.1, size=(frames, 1))
    probs = np.zeros((frames, classes))
    for t in range(frames):
        probs[t, best[t]] = 1.0 - rest[t].sum()
        probs[t, np.arange(classes) != best[t]] = rest[t]
    return np.log(probs)


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(c for k, c in enumerate(path) if c != 0 and (k == 0 or c != path[k - 1]))


def brute_force(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """Every text's log-probability, summed over all its alignments (every path enumerated)."""
    totals: dict[tuple[int, ...], float] = {}
    frames, classes = log_probs.shape
    for path in itertools.product(range(classes), repeat=frames):
        score = float(sum(log_probs[t, c] for t, c in enumerate(path)))
        text = collapse(path)
        totals[text] = np.logaddexp(totals.get(text, -math.inf), score)
    return totals


@pytest.mark.parametrize("seed", range(5))
def test_a_beam_of_one_without_a_language_model_is_greedy_decoding(seed):
    log_probs = peaked_posteriors(60, len(LABELS), seed)
    assert beam_decode(log_probs, LABELS, BeamSearchConfig(beam=1)) == greedy_decode(log_probs, LABELS)


@pytest.mark.parametrize("seed", range(3))
def test_an_unpruned_beam_gives_every_texts_probability_over_all_alignments(seed):
    rng = np.random.default_rng(seed)
    log_probs = np.log(rng.dirichlet(np.ones(3), size=5))  # 3^5 paths
    expected = brute_force(log_probs)
    found = dict(prefix_beam_search(log_probs, BeamSearchConfig(beam=len(expected), char_floor=None)))
    assert set(found) == set(expected)
    for text, score in expected.items():
        assert found[text] == pytest.approx(score, abs=1e-9)
    best = max(expected, key=expected.get)
    assert prefix_beam_search(log_probs, BeamSearchConfig(beam=4, char_floor=None))[0][0] == best


def test_the_language_model_and_the_bonus_rank_as_the_sum_over_alignments_says():
    rng = np.random.default_rng(7)
    log_probs = np.log(rng.dirichlet(np.ones(3), size=4))
    lm = CharNgram.fit([[1, 2, 2, 1], [2, 1], [1]], n_characters=2, order=2, add_k=0.5)
    config = BeamSearchConfig(beam=100, char_floor=None, lm_weight=0.7, insertion_bonus=0.3)
    found = dict(prefix_beam_search(log_probs, config, lm))
    for text, score in brute_force(log_probs).items():
        lm_score = sum(lm.log_prob(text[:k], c) for k, c in enumerate(text)) + lm.log_prob(text, END)
        assert found[text] == pytest.approx(score + 0.7 * lm_score + 0.3 * len(text), abs=1e-9)


def test_the_beam_finds_the_text_greedy_decoding_misses():
    # two frames, each blank 0.6 and A 0.4: the best path is blank-blank (""), 0.36, but "A" has
    # three alignments (A-A, A-blank, blank-A): 0.16 + 0.24 + 0.24 = 0.64
    log_probs = np.log(np.array([[0.6, 0.0, 0.4, 0.0], [0.6, 0.0, 0.4, 0.0]]) + 1e-12)
    assert greedy_decode(log_probs, LABELS) == ""
    (text, score), *_ = prefix_beam_search(log_probs, BeamSearchConfig(beam=2))
    assert "".join(LABELS[c] for c in text) == "A"
    assert score == pytest.approx(math.log(0.64), abs=1e-9)


def test_the_language_model_decides_between_characters_the_sounds_leave_open():
    # "A", then a space the model hears slightly more than B; the texts say B follows A
    log_probs = np.log(np.array([[0.05, 0.0, 0.9, 0.05], [0.05, 0.5, 0.0, 0.45]]) + 1e-12)
    lm = CharNgram.fit([[2, 3], [2, 3, 1, 2, 3]], n_characters=3, order=2, add_k=0.1)  # "AB", "AB AB"
    assert beam_decode(log_probs, LABELS, BeamSearchConfig(beam=8)) == "A "
    assert beam_decode(log_probs, LABELS, BeamSearchConfig(beam=8, lm_weight=1.0), lm) == "AB"


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_n_gram_is_a_distribution_over_the_characters_and_the_end(order):
    lm = CharNgram.fit([[1, 2, 3, 1], [3, 3], [2]], n_characters=3, order=order, add_k=0.2)
    for history in [(), (1,), (3, 3), (2, 1), (1, 1, 1)]:  # seen and unseen histories
        total = sum(math.exp(lm.log_prob(history, c)) for c in (1, 2, 3, END))
        assert total == pytest.approx(1.0, abs=1e-12)
    if order == 2:  # counts of the bigram: after 3, the texts hold 1 once, 3 once, the end once
        assert math.exp(lm.log_prob((2, 3), 3)) == pytest.approx((1 + 0.2) / (3 + 0.2 * 4))


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="beam must be at least 1"):
        BeamSearchConfig(beam=0)
    with pytest.raises(ConfigError, match="order must be at least 1"):
        CharNgram.fit([[1]], n_characters=1, order=0)


@pytest.mark.parametrize("seed", range(3))
def test_a_cap_on_characters_per_frame_bounds_the_search_without_changing_peaked_decoding(seed):
    """max_candidates as large as the characters is no cap; on peaked posteriors a cap of one
    character per frame still finds the greedy text (the best class is the one kept)."""
    log_probs = peaked_posteriors(12, len(LABELS), seed)
    free = prefix_beam_search(log_probs, BeamSearchConfig(beam=8, char_floor=None))
    capped = prefix_beam_search(log_probs, BeamSearchConfig(beam=8, char_floor=None, max_candidates=len(LABELS)))
    assert capped == free
    one = BeamSearchConfig(beam=1, char_floor=None, max_candidates=1)
    assert beam_decode(log_probs, LABELS, one) == greedy_decode(log_probs, LABELS)
