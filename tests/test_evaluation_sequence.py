"""Edit distance on worked examples and against a plain dynamic programme; FER and PER."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from serkit.evaluation import sequence


def _levenshtein_table(a, b):
    # The textbook full-table recurrence, kept deliberately naive.
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            substitution = d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, substitution)
    return d[-1][-1]


@pytest.mark.parametrize(
    "reference, hypothesis, distance",
    [
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("sitting", "kitten", 3),
        ("flaw", "lawn", 2),  # -f, +n
        ("intention", "execution", 5),
        ("saturday", "sunday", 3),
        ("abc", "abc", 0),
        ("", "abc", 3),  # empty reference: all insertions
        ("abc", "", 3),  # empty hypothesis: all deletions
        ("", "", 0),
        ("a", "b", 1),
        (["sil", "h", "a", "l", "o"], ["h", "a", "l", "o", "sil"], 2),  # phones as symbols
    ],
)
def test_edit_distance_worked_examples(reference, hypothesis, distance):
    assert sequence.edit_distance(reference, hypothesis) == distance


def test_edit_distance_agrees_with_the_plain_recurrence():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.integers(0, 4, size=rng.integers(0, 25)).tolist()
        b = rng.integers(0, 4, size=rng.integers(0, 25)).tolist()
        assert sequence.edit_distance(a, b) == _levenshtein_table(a, b)
        assert sequence.edit_distance(np.array(a), np.array(b)) == _levenshtein_table(a, b)


def test_phone_error_rate_sums_errors_before_dividing():
    references = [["a", "b", "c", "d"], ["e"]]
    hypotheses = [["a", "b", "c", "d"], ["f"]]
    # 1 error over 5 reference phones, not the mean of 0/4 and 1/1.
    assert sequence.phone_error_rate(references, hypotheses) == pytest.approx(1 / 5)
    assert sequence.phone_error_rate(["kitten", ""], ["sitting", "x"]) == pytest.approx(4 / 6)


def test_phone_error_rate_can_exceed_one_with_insertions():
    assert sequence.phone_error_rate(["ab"], ["xyzw"]) == pytest.approx(4 / 2)


def test_phone_error_rate_needs_reference_phones():
    with pytest.raises(ValueError, match="no phones"):
        sequence.phone_error_rate([""], ["abc"])
    with pytest.raises(ValueError, match="2 references but 1"):
        sequence.phone_error_rate(["a", "b"], ["a"])


def test_frame_error_rate_against_scikit_learn():
    rng = np.random.default_rng(1)
    true = rng.integers(0, 40, size=3000)
    pred = np.where(rng.random(3000) < 0.7, true, rng.integers(0, 40, size=3000))
    assert sequence.frame_error_rate(true, pred) == pytest.approx(1 - accuracy_score(true, pred))
    with pytest.raises(ValueError, match="aligned"):
        sequence.frame_error_rate(true, pred[:-1])
    with pytest.raises(ValueError, match="no frames"):
        sequence.frame_error_rate([], [])
