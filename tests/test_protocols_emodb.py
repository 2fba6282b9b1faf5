"""Protocols and the leakage guard on the real EMO-DB: clean folds pass, leaking ones fail."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from serkit.corpora import read_corpus, select_classes
from serkit.errors import LeakageError
from serkit.protocols import audio_hashes, check_fold, make_folds
from serkit.protocols.fold import build_fold

SPEAKER_INDEPENDENT = ("loso", "speaker-kfold:5", "speaker-sentence:5x5", "speaker-sentence:2x5")


@pytest.fixture(scope="module")
def tables(emodb_root) -> dict[str, pd.DataFrame]:
    everything = read_corpus("emodb", emodb_root)
    return {"emodb7": everything, "4class": select_classes(everything, "4class")}


@pytest.fixture(scope="module")
def hashes(tables) -> dict[str, np.ndarray]:
    return {name: audio_hashes(table) for name, table in tables.items()}


def _values(table: pd.DataFrame, column: str, rows) -> set[str]:
    return set(table[column].iloc[list(rows)])


@pytest.mark.parametrize("validation", ["speakers", "none"])
@pytest.mark.parametrize("protocol", SPEAKER_INDEPENDENT)
@pytest.mark.parametrize("class_set", ["emodb7", "4class"])
def test_every_speaker_independent_fold_passes_the_guard(
    tables, hashes, class_set, protocol, validation
):
    table = tables[class_set]
    folds = make_folds(table, protocol, validation, seed=0, hashes=hashes[class_set])
    grouped = ("speaker", "text") if protocol.startswith("speaker-sentence") else ("speaker",)
    for fold in folds:
        check_fold(table, fold, hashes[class_set])
        assert not fold.speaker_dependent and fold.protocol == protocol
        # Independently of the guard: no speaker (or sentence) in two parts.
        for column in grouped:
            for a, b in itertools.combinations(fold.parts.values(), 2):
                assert not _values(table, column, a) & _values(table, column, b)
        # Every row is in exactly one of the parts or dropped.
        used = np.concatenate([*map(np.asarray, fold.parts.values()), np.asarray(fold.dropped)])
        assert np.array_equal(np.sort(used), np.arange(len(table)))
        assert fold.may_select_model == (validation != "none")
        assert (len(fold.validation) > 0) == (validation != "none")
        assert sum(fold.counts["test"].values()) == len(fold.test)
        assert set(fold.counts["test"]) <= set(table["label"])


@pytest.mark.parametrize("protocol", ["loso", "speaker-kfold:5"])
@pytest.mark.parametrize("class_set", ["emodb7", "4class"])
def test_test_speakers_partition_the_corpus_speakers(tables, hashes, class_set, protocol):
    table = tables[class_set]
    folds = make_folds(table, protocol, seed=3, hashes=hashes[class_set])
    test_speakers = [fold.speakers("test") for fold in folds]
    flat = [s for speakers in test_speakers for s in speakers]
    assert sorted(flat) == sorted(set(table["speaker"]))  # each speaker tested exactly once
    tested = np.bincount(np.concatenate([fold.test for fold in folds]), minlength=len(table))
    assert (tested == 1).all()
    if protocol == "loso":
        assert len(folds) == 10 and all(len(s) == 1 for s in test_speakers)
    else:
        assert len(folds) == 5 and all(len(s) == 2 for s in test_speakers)


@pytest.mark.parametrize("class_set", ["emodb7", "4class"])
def test_crossed_folds_share_no_speaker_or_sentence(tables, hashes, class_set):
    table = tables[class_set]
    folds = make_folds(table, "speaker-sentence:5x5", "none", hashes=hashes[class_set])
    assert len(folds) == 25
    speakers, texts = table["speaker"].to_numpy(), table["text"].to_numpy()
    for fold in folds:
        test_speakers = _values(table, "speaker", fold.test)
        test_texts = _values(table, "text", fold.test)
        assert len(test_speakers) == 2 and len(test_texts) == 2
        on_speaker = np.isin(speakers, list(test_speakers))
        on_text = np.isin(texts, list(test_texts))
        # Training is exactly the rows sharing neither; dropped exactly those sharing one.
        assert np.array_equal(fold.train, np.flatnonzero(~on_speaker & ~on_text))
        assert np.array_equal(fold.dropped, np.flatnonzero(on_speaker ^ on_text))
        assert fold.groups["text"]["test"] == tuple(sorted(test_texts))
    tested = np.bincount(np.concatenate([fold.test for fold in folds]), minlength=len(table))
    assert (tested == 1).all()


def test_crossed_validation_shares_nothing_with_either_side(tables, hashes):
    table = tables["emodb7"]
    for fold in make_folds(table, "speaker-sentence:5x5", "speakers:2", hashes=hashes["emodb7"]):
        for column in ("speaker", "text"):
            validation = _values(table, column, fold.validation)
            assert len(validation) == 2
            assert not validation & _values(table, column, fold.train)
            assert not validation & _values(table, column, fold.test)


@pytest.mark.parametrize("class_set", ["emodb7", "4class"])
def test_random_kfold_is_labelled_speaker_dependent(tables, hashes, class_set):
    table = tables[class_set]
    folds = make_folds(table, "random-kfold:5", "none", hashes=hashes[class_set])
    label_totals = table["label"].value_counts()
    for fold in folds:
        assert fold.speaker_dependent and fold.grouped_by == ()
        assert fold.protocol == "random-kfold:5 (speaker-dependent)"
        # Why it is flagged: speakers do sit on both sides.
        assert set(fold.speakers("train")) & set(fold.speakers("test"))
        check_fold(table, fold, hashes[class_set])  # identical audio is still kept apart
        for label, total in label_totals.items():  # stratified: each label split evenly
            assert abs(fold.counts["test"].get(label, 0) - total / 5) <= 1
    tested = np.bincount(np.concatenate([fold.test for fold in folds]), minlength=len(table))
    assert (tested == 1).all()


def _fold(table, train, test, validation=(), grouped_by=("speaker",), dependent=False):
    return build_fold(
        table,
        protocol="hand-made",
        index=0,
        name="leaky",
        speaker_dependent=dependent,
        validation_strategy="none" if not len(validation) else "speakers",
        grouped_by=grouped_by,
        train=np.asarray(train),
        validation=np.asarray(validation, dtype=np.int64),
        test=np.asarray(test),
        dropped=np.empty(0, dtype=np.int64),
        seed=0,
    )


def test_a_fold_sharing_a_speaker_is_rejected(tables, hashes):
    table = tables["emodb7"]
    speakers = table["speaker"].to_numpy()
    test = np.flatnonzero(speakers == "03")
    train = np.flatnonzero(speakers != "03")
    check_fold(table, _fold(table, train, test), hashes["emodb7"])  # the clean split passes
    leaky = _fold(table, np.append(train, test[0]), test[1:])
    with pytest.raises(LeakageError, match=r"speaker '03' is in the training and test parts"):
        check_fold(table, leaky, hashes["emodb7"])
    # A validation speaker who is also tested leaks just the same.
    validation = np.flatnonzero(speakers == "08")
    train = np.flatnonzero(~np.isin(speakers, ["03", "08"]))
    leaky = _fold(table, train, np.append(test, validation[0]), validation=validation[1:])
    with pytest.raises(LeakageError, match=r"speaker '08' is in the validation and test parts"):
        check_fold(table, leaky, hashes["emodb7"])


def test_a_byte_identical_copy_under_another_name_is_rejected(tables, tmp_path):
    table = tables["emodb7"]
    original = table[table["speaker"] == "08"].iloc[0]
    copy = tmp_path / "03x99Wz.wav"
    shutil.copyfile(original["path"], copy)
    # The copy poses as speaker 03's, so only its content gives it away.
    row = original.to_dict() | {"path": str(copy), "utterance": "03x99Wz", "speaker": "03",
                                "gender": "male"}
    with_copy = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    with pytest.raises(LeakageError) as raised:
        make_folds(with_copy, "loso", "none")
    message = str(raised.value)
    assert "identical audio" in message and str(copy) in message and original["path"] in message
    # Under the speaker-dependent protocol too: a fold with the copy across sides fails ...
    copy_row = len(with_copy) - 1
    original_row = int(np.flatnonzero(with_copy["path"] == original["path"])[0])
    others = np.setdiff1d(np.arange(len(with_copy)), [copy_row, original_row])
    train = np.append(others, original_row)
    leaky = _fold(with_copy, train, [copy_row], grouped_by=(), dependent=True)
    with pytest.raises(LeakageError, match="identical audio"):
        check_fold(with_copy, leaky)
    # ... and random-kfold keeps the copy with its original.
    for fold in make_folds(with_copy, "random-kfold:5", "none"):
        assert (copy_row in fold.test) == (original_row in fold.test)


def test_a_crossed_fold_sharing_a_sentence_is_rejected(tables, hashes):
    table = tables["emodb7"]
    speakers, texts = table["speaker"].to_numpy(), table["text"].to_numpy()
    test = np.flatnonzero((speakers == "03") & (texts == "a01"))
    train = np.flatnonzero(speakers != "03")  # keeps a01, spoken by the others
    check_fold(table, _fold(table, train, test), hashes["emodb7"])  # speaker-independent: fine
    leaky = _fold(table, train, test, grouped_by=("speaker", "text"))
    with pytest.raises(LeakageError, match=r"text 'a01' is in the training and test parts"):
        check_fold(table, leaky, hashes["emodb7"])


@pytest.mark.parametrize("protocol", [*SPEAKER_INDEPENDENT, "random-kfold:5"])
def test_the_same_seed_gives_the_same_folds(tables, hashes, protocol):
    table, h = tables["emodb7"], hashes["emodb7"]
    first = make_folds(table, protocol, "speakers", seed=7, hashes=h)
    again = make_folds(table, protocol, "speakers", seed=7, hashes=h)
    assert [f.to_dict() for f in first] == [f.to_dict() for f in again]


def test_the_seed_chooses_the_validation_speakers(tables, hashes):
    table, h = tables["emodb7"], hashes["emodb7"]
    choices = {
        tuple(f.speakers("validation") for f in make_folds(table, "loso", seed=seed, hashes=h))
        for seed in range(5)
    }
    assert len(choices) > 1


def _label_deviation(counts: np.ndarray, folds: list[list[int]]) -> float:
    """Largest gap between a test fold's label share and the corpus's, over folds and labels."""
    overall = counts.sum(axis=0) / counts.sum()
    per_fold = np.array([counts[f].sum(axis=0) for f in folds])
    return float(np.abs(per_fold / per_fold.sum(axis=1, keepdims=True) - overall).max())


def _pairings(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for i, partner in enumerate(rest):
        for tail in _pairings(rest[:i] + rest[i + 1 :]):
            yield [[first, partner], *tail]


@pytest.mark.parametrize("class_set", ["emodb7", "4class"])
def test_speaker_kfold_balances_labels_and_genders(tables, hashes, class_set):
    table = tables[class_set]
    speakers = sorted(set(table["speaker"]))
    counts = pd.crosstab(table["speaker"], table["label"]).loc[speakers].to_numpy()
    gender = dict(zip(table["speaker"], table["gender"], strict=False))

    folds = make_folds(table, "speaker-kfold:5", "none", hashes=hashes[class_set])
    ours = [[speakers.index(s) for s in fold.speakers("test")] for fold in folds]
    for fold in folds:  # one woman and one man in every test fold
        assert sorted(gender[s] for s in fold.speakers("test")) == ["female", "male"]
    deviation = _label_deviation(counts, ours)

    # Against the library it replaces: scikit-learn's greedy StratifiedGroupKFold.
    strata = (table["label"] + "|" + table["gender"]).to_numpy()
    splitter = StratifiedGroupKFold(5, shuffle=True, random_state=0)
    theirs = [
        sorted({speakers.index(s) for s in table["speaker"].iloc[test]})
        for _, test in splitter.split(table, strata, groups=table["speaker"])
    ]
    assert deviation <= _label_deviation(counts, theirs)
    # And against every way of pairing the ten speakers: in the best tenth.
    everyone = np.array([_label_deviation(counts, p) for p in _pairings(list(range(10)))])
    assert len(everyone) == 945
    assert np.mean(everyone < deviation) <= 0.1
    assert deviation < 0.07


def test_speakers_only_validation_keeps_the_training_sentences_under_the_crossed_protocol(tables, hashes):
    table = tables["4class"]
    both = make_folds(table, "speaker-sentence:2x5", "speakers:1", hashes=hashes["4class"])
    only = make_folds(table, "speaker-sentence:2x5", "speakers-only:1", hashes=hashes["4class"])
    for a, b in zip(both, only):
        check_fold(table, b, hashes["4class"])
        assert b.validation_strategy == "speakers-only:1"
        assert len(b.validation) > len(a.validation) and len(b.train) >= len(a.train)
        train, validation, test = (_values(table, "speaker", rows) for rows in (b.train, b.validation, b.test))
        assert len(validation) == 1 and not validation & train and not test & (train | validation)
        sentences = {part: _values(table, "text", rows) for part, rows in b.parts.items()}
        assert sentences["validation"] <= sentences["train"]  # validation speaks the training sentences
        assert not sentences["test"] & (sentences["train"] | sentences["validation"])
