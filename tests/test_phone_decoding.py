"""Phone decoding: Viterbi against a brute-force search over every frame labelling, what the bigram
and the minimum duration change against greedy collapsing, the bigram's probabilities and JSON
form, and the choice of settings on validation utterances only."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from serkit.errors import ConfigError
from serkit.evaluation import edit_distance, phone_error_rate
from serkit.evaluation.phone_decoding import (
    END,
    START,
    DecoderConfig,
    DecoderGrid,
    PhoneBigram,
    choose_decoder,
    class_log_priors,
    viterbi_decode,
    viterbi_frames,
)

PAUSE = "<p>"


def _log_softmax(x):
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _runs(labels):
    return [(label, len(list(group))) for label, group in itertools.groupby(labels)]


def _brute_force(scaled, classes, bigram, config):
    # Every labelling of the frames with the classes the decoder may enter, scored from the
    # bigram's public log_prob: runs shorter than min_frames are not allowed, pauses are free and
    # leave the history as it was.
    allowed = [i for i, c in enumerate(classes) if c not in config.ignore]
    shortest = min(config.min_frames, len(scaled))
    best = (-np.inf, None)
    for path in itertools.product(allowed, repeat=len(scaled)):
        labels = [classes[i] for i in path]
        runs = _runs(labels)
        if any(n < shortest for _, n in runs):
            continue
        score, history = float(scaled[np.arange(len(path)), list(path)].sum()), START
        for label, _ in runs:
            if label != PAUSE:
                score += config.lm_weight * bigram.log_prob(history, label) + config.insertion_penalty
                history = label
        score += config.lm_weight * bigram.log_prob(history, END)
        best = max(best, (score, labels), key=lambda pair: pair[0])
    return best


@pytest.mark.parametrize("min_frames", [1, 2])
@pytest.mark.parametrize("classes", [("a", "b", "c"), ("a", "b", PAUSE), ("a", PAUSE, "<unk>")])
def test_viterbi_finds_the_best_labelling_that_brute_force_finds(classes, min_frames):
    rng = np.random.default_rng(min_frames * 10 + len(classes[0]) + classes.index(classes[-1]))
    phones = [c for c in classes if c not in (PAUSE, "<unk>")]
    for _ in range(12):
        n_frames = int(rng.integers(1, 7))
        sequences = [list(rng.choice(phones, int(rng.integers(0, 5)))) for _ in range(6)]
        bigram = PhoneBigram.fit(sequences, symbols=phones, k=float(rng.uniform(0.1, 2)))
        config = DecoderConfig(lm_weight=float(rng.uniform(0, 3)), insertion_penalty=float(rng.normal(0, 2)),
                               min_frames=min_frames)
        posteriors = _log_softmax(rng.normal(size=(n_frames, len(classes))) * 2)
        priors = np.log(rng.dirichlet(np.ones(len(classes))))
        frames, score = viterbi_frames(posteriors, classes, bigram, priors, config)
        best_score, best_frames = _brute_force(posteriors - priors, classes, bigram, config)
        assert frames == best_frames
        assert score == pytest.approx(best_score)


def _flicker_case():
    # "a" for ten frames but one frame where "b" edges it out, then "c"; training never has b after a.
    classes = ("a", "b", "c", PAUSE)
    probabilities = np.full((14, 4), 0.02)
    probabilities[:10, 0] = 0.9
    probabilities[5, :2] = 0.44, 0.52
    probabilities[10:, 2] = 0.9
    bigram = PhoneBigram.fit([["a", "c"]] * 20 + [["b"]] * 5, symbols=("a", "b", "c"))
    return classes, np.log(probabilities), bigram


def test_the_bigram_removes_a_one_frame_flicker_that_greedy_collapsing_keeps():
    classes, posteriors, bigram = _flicker_case()
    greedy = [label for label, _ in _runs(np.asarray(classes)[posteriors.argmax(axis=1)])]
    assert greedy == ["a", "b", "a", "c"]
    assert viterbi_decode(posteriors, classes, bigram, config=DecoderConfig(lm_weight=1.0)) == ["a", "c"]


def test_without_a_language_model_or_penalty_the_decoder_is_greedy_collapsing():
    rng = np.random.default_rng(3)
    classes = ("a", "b", "c", PAUSE)
    bigram = PhoneBigram.fit([["a", "b", "c"]])
    posteriors = _log_softmax(rng.normal(size=(40, 4)) * 3)
    greedy = [label for label, _ in _runs(np.asarray(classes)[posteriors.argmax(axis=1)]) if label != PAUSE]
    assert viterbi_decode(posteriors, classes, bigram, config=DecoderConfig(lm_weight=0.0)) == greedy


def test_min_frames_suppresses_phones_shorter_than_it():
    classes = ("a", "b")
    probabilities = np.full((12, 2), 0.1)
    probabilities[:, 0] = 0.9
    probabilities[5:7] = 0.4, 0.6  # two frames where b wins, but not by enough to last three
    bigram = PhoneBigram.fit([["a", "b", "a"]])
    decode = lambda m: viterbi_decode(np.log(probabilities), classes, bigram,  # noqa: E731
                                      config=DecoderConfig(lm_weight=0.0, min_frames=m))
    assert decode(2) == ["a", "b", "a"]
    assert decode(3) == ["a"]
    frames, _ = viterbi_frames(np.log(probabilities), classes, bigram, config=DecoderConfig(min_frames=3))
    assert min(n for _, n in _runs(frames)) >= 3


def test_an_utterance_shorter_than_min_frames_still_decodes():
    bigram = PhoneBigram.fit([["a", "b"]])
    assert viterbi_decode(np.log([[0.9, 0.1], [0.8, 0.2]]), ("a", "b"), bigram,
                          config=DecoderConfig(min_frames=3)) == ["a"]


def test_ignored_classes_are_never_entered_and_pauses_are_dropped():
    rng = np.random.default_rng(5)
    classes = ("a", "<unk>", "b", PAUSE)
    bigram = PhoneBigram.fit([["a", "b"], ["b", "a"]])
    logits = rng.normal(size=(60, 4))
    logits[:, 1] += 5  # <unk> wins every frame
    logits[20:30, 3] += 10  # a pause in the middle
    frames, _ = viterbi_frames(_log_softmax(logits), classes, bigram, config=DecoderConfig(min_frames=2))
    assert "<unk>" not in frames and PAUSE in frames
    phones = viterbi_decode(_log_softmax(logits), classes, bigram, config=DecoderConfig(min_frames=2))
    assert phones and set(phones) <= {"a", "b"}


def test_a_class_the_bigram_does_not_know_is_refused():
    with pytest.raises(ValueError, match="does not know"):
        viterbi_decode(np.zeros((3, 2)), ("a", "z"), PhoneBigram.fit([["a"]]))


def test_bigram_probabilities_sum_to_one_over_every_history_and_follow_add_k():
    sequences = [["a", "b", "a", PAUSE, "c"], ["b", "b"], [], ["c", "a"]]
    bigram = PhoneBigram.fit(sequences, k=0.5)
    assert bigram.symbols == ("a", "b", "c")  # the pause is dropped
    for history in (START, *bigram.symbols):
        total = sum(np.exp(bigram.log_prob(history, n)) for n in (*bigram.symbols, END))
        assert total == pytest.approx(1.0)
    # after "a": b once, c once (across the pause), the end once; four outcomes, k = 0.5 each
    assert np.exp(bigram.log_prob("a", "c")) == pytest.approx(1.5 / (3 + 4 * 0.5))
    assert np.exp(bigram.log_prob(START, END)) == pytest.approx(1.5 / (4 + 4 * 0.5))  # the empty sequence
    assert np.exp(bigram.log_prob("b", "c")) == pytest.approx(0.5 / (3 + 4 * 0.5))  # never seen


def test_bigram_json_round_trip_keeps_every_probability_and_decode():
    classes, posteriors, _ = _flicker_case()
    bigram = PhoneBigram.fit([["a", "c", "b"], ["b", "a"]], symbols=("a", "b", "c"), k=0.25)
    again = PhoneBigram.from_dict(json.loads(json.dumps(bigram.to_dict())))
    assert again.symbols == bigram.symbols and again.k == bigram.k
    np.testing.assert_array_equal(again.log_table, bigram.log_table)
    assert viterbi_frames(posteriors, classes, again) == viterbi_frames(posteriors, classes, bigram)
    with pytest.raises(ConfigError, match="counts must be 4x4"):
        PhoneBigram.from_dict({**bigram.to_dict(), "counts": [[1, 2], [3, 4]]})


def test_class_log_priors_are_smoothed_training_frequencies():
    priors = class_log_priors([["a", "a", "b"], ["a"]], ("a", "b", "<unk>"))
    np.testing.assert_allclose(np.exp(priors), np.array([4, 2, 1]) / 7)


def _validation_set(rng, classes, n=6):
    frames = [rng.normal(size=(int(rng.integers(20, 40)), len(classes))) * 2 for _ in range(n)]
    return [_log_softmax(f) for f in frames]


def test_choose_decoder_picks_the_validation_per_minimum_from_its_arguments_only():
    rng = np.random.default_rng(11)
    classes = ("a", "b", "c", PAUSE, "<unk>")
    bigram = PhoneBigram.fit([["a", "b", "c"], ["c", "a"]], symbols=("a", "b", "c"))
    posteriors = _validation_set(rng, classes)
    for p in posteriors:
        p.setflags(write=False)  # any write to the caller's arrays would raise
    grid = DecoderGrid(lm_weights=(0.0, 2.0), insertion_penalties=(-3.0, 0.0), min_frames=(1, 3))
    chosen = []
    for target in (DecoderConfig(lm_weight=0.0, min_frames=1), DecoderConfig(lm_weight=2.0, insertion_penalty=-3.0,
                                                                             min_frames=3)):
        references = tuple(tuple(viterbi_decode(p, classes, bigram, config=target)) for p in posteriors)
        choice = choose_decoder(posteriors, references, classes, bigram, grid=grid)
        assert choice.per == 0.0 and len(choice.table) == 8
        assert [viterbi_decode(p, classes, bigram, config=choice.config) for p in posteriors] == \
            [list(r) for r in references]
        # the table's figures are the PER of each grid point on these references
        for row, config in zip(choice.table, grid.configs(DecoderConfig())):
            hypotheses = [viterbi_decode(p, classes, bigram, config=config) for p in posteriors]
            assert row["per"] == pytest.approx(phone_error_rate(references, hypotheses))
        chosen.append(choice.config)
    assert chosen[0] != chosen[1]
    assert sum(edit_distance(a, b) for a, b in zip(
        [viterbi_decode(p, classes, bigram, config=chosen[0]) for p in posteriors],
        [viterbi_decode(p, classes, bigram, config=chosen[1]) for p in posteriors])) > 0


def test_choose_decoder_refuses_mismatched_validation_parts():
    with pytest.raises(ValueError, match="validation utterances"):
        choose_decoder([np.zeros((3, 2))], [], ("a", "b"), PhoneBigram.fit([["a", "b"]]))
