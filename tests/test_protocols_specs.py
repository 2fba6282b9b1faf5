"""Protocols on small synthetic tables: sessions, predefined partitions, validation, records.

The tables follow the corpus table's columns (see ``serkit.corpora.table``)
and pass content hashes explicitly, so no audio is needed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serkit.errors import CorpusError, LeakageError, SerkitError
from serkit.protocols import (
    Fold,
    HeldOutSpeakers,
    audio_hashes,
    check_fold,
    make_folds,
    protocol_from_spec,
    validation_from_spec,
)

LABELS = ("anger", "happiness", "neutral", "sadness")


def iemocap_like(per_speaker: int = 6) -> pd.DataFrame:
    """Five sessions of two actors each, named as the IEMOCAP reader names them."""
    rows = []
    for session in range(1, 6):
        for sex, gender in (("F", "female"), ("M", "male")):
            for i in range(per_speaker):
                utterance = f"Ses0{session}{sex}_impro0{i % 3}_{sex}{i:03d}"
                rows.append({
                    "path": f"/data/iemocap/{utterance}.wav",
                    "corpus": "iemocap",
                    "speaker": f"Ses0{session}{sex}",
                    "gender": gender,
                    "session": f"Session{session}",
                    "text": f"impro0{i % 3}",
                    "partition": None,
                    "label": LABELS[i % 4],
                })
    table = pd.DataFrame(rows)
    table["content_hash"] = [f"hash-{i}" for i in range(len(table))]
    return table


def recola_like(test_annotated: bool = False) -> pd.DataFrame:
    """AVEC 2016 RECOLA: nine recordings per partition, test ratings withheld."""
    rows = []
    for partition in ("train", "dev", "test"):
        for i in range(1, 10):
            rated = partition != "test" or test_annotated
            rows.append({
                "path": f"/data/recola/{partition}_{i}.wav",
                "corpus": "recola",
                "speaker": f"{partition}_{i}",
                "gender": None,
                "partition": partition,
                "label": None,
                "arousal": 0.1 * i if rated else np.nan,
                "valence": -0.1 * i if rated else np.nan,
            })
    table = pd.DataFrame(rows)
    table["content_hash"] = [f"hash-{i}" for i in range(len(table))]
    return table


def test_leave_one_session_out_tests_each_session_once_and_validates_on_a_session():
    table = iemocap_like()
    folds = make_folds(table, "loso-session", "speakers")
    assert [f.name for f in folds] == [f"session Session{i}" for i in range(1, 6)]
    for fold in folds:
        assert len(fold.groups["session"]["test"]) == 1
        # A held-out session takes both its actors with it.
        assert len(fold.groups["session"]["validation"]) == 1
        assert len(fold.speakers("validation")) == 2
        assert not set(fold.groups["session"]["train"]) & set(fold.groups["session"]["test"])
    tested = np.bincount(np.concatenate([f.test for f in folds]), minlength=len(table))
    assert (tested == 1).all()


def test_a_speaker_recorded_in_two_sessions_is_caught_by_the_guard():
    table = iemocap_like()
    table.loc[table["speaker"] == "Ses02F", "speaker"] = "Ses01F"
    with pytest.raises(LeakageError, match="speaker 'Ses01F'"):
        make_folds(table, "loso-session", "none")


def test_predefined_iemocap_is_sessions_one_to_four_against_five():
    table = iemocap_like()
    (fold,) = make_folds(table, "predefined", "speakers:1")
    assert fold.name == "test session=Session5"
    assert fold.speakers("test") == ("Ses05F", "Ses05M")
    assert len(fold.speakers("validation")) == 1
    assert not {"Ses05F", "Ses05M"} & set(fold.speakers("train") + fold.speakers("validation"))


def test_loso_with_session_five_as_dev_set_is_seed_001s_protocol():
    table = iemocap_like()
    folds = make_folds(table, "loso", "predefined:session=Session5")
    session5 = tuple(np.flatnonzero(table["session"] == "Session5"))
    assert len(folds) == 8  # the eight speakers of sessions 1-4
    for fold in folds:
        assert fold.validation == session5
        assert fold.validation_strategy == "predefined:session=Session5"
        assert len(fold.speakers("test")) == 1 and not set(fold.test) & set(session5)


def test_predefined_recola_tests_on_dev_when_test_ratings_are_withheld():
    table = recola_like()
    (fold,) = make_folds(table, "predefined", "speakers")
    assert fold.name.startswith("dev partition")
    assert set(table["partition"].iloc[list(fold.test)]) == {"dev"}
    assert set(table["partition"].iloc[list(fold.dropped)]) == {"test"}
    assert len(fold.speakers("validation")) == 1 and len(fold.speakers("train")) == 8
    assert fold.counts["test"] == {}  # no categories in RECOLA
    # Validating on dev would leave nothing to test on.
    with pytest.raises(CorpusError, match="no annotated rows to test on"):
        make_folds(table, "predefined", "predefined")


def test_predefined_with_a_rated_test_partition_validates_on_dev():
    table = recola_like(test_annotated=True)
    (fold,) = make_folds(table, "predefined", "predefined")
    part = table["partition"].to_numpy()
    assert fold.train == tuple(np.flatnonzero(part == "train"))
    assert fold.validation == tuple(np.flatnonzero(part == "dev"))
    assert fold.test == tuple(np.flatnonzero(part == "test"))
    # With held-out training speakers instead, dev is used by no part.
    (fold,) = make_folds(table, "predefined", "speakers")
    assert set(part[list(fold.dropped)]) == {"dev"}


def test_predefined_needs_a_partition_where_there_is_no_customary_split():
    table = iemocap_like().assign(corpus="emodb")
    with pytest.raises(CorpusError, match="no 'partition' values"):
        make_folds(table, "predefined")


def test_held_out_speakers_are_balanced_by_gender():
    table = iemocap_like()
    for seed in range(4):
        for fold in make_folds(table, "speaker-kfold:5", "speakers:2", seed=seed):
            genders = set(table["gender"].iloc[list(fold.validation)])
            assert genders == {"female", "male"} and len(fold.speakers("validation")) == 2


def test_no_validation_means_nothing_may_select_a_model():
    (fold, *_) = make_folds(iemocap_like(), "loso", "none")
    record = fold.to_dict()
    assert record["validation"] == [] and record["may_select_model"] is False
    assert record["validation_strategy"] == "none"


def test_a_fold_survives_json():
    for fold in make_folds(iemocap_like(), "speaker-kfold:5"):
        back = Fold.from_dict(json.loads(json.dumps(fold.to_dict())))
        assert back == fold
        check_fold(iemocap_like(), back)


def test_a_fold_checked_against_another_table_is_refused():
    table = iemocap_like()
    fold = make_folds(table, "loso", "none")[0]
    with pytest.raises(SerkitError, match="made for a table of 60 rows"):
        check_fold(table.iloc[:-1], fold)
    shuffled = table.iloc[::-1].reset_index(drop=True)  # same rows, other order
    with pytest.raises(SerkitError, match="do not match the table"):
        check_fold(shuffled, fold)


@pytest.mark.parametrize(
    "spec", ["loso", "loso-session", "speaker-kfold:3", "speaker-sentence:2x3", "predefined",
             "predefined:session=Session5"],
)
def test_protocol_names_round_trip(spec):
    assert protocol_from_spec(spec).name == spec


def test_random_kfold_names_itself_speaker_dependent():
    protocol = protocol_from_spec("random-kfold:5")
    assert protocol.speaker_dependent and protocol.name == "random-kfold:5 (speaker-dependent)"


@pytest.mark.parametrize(
    "spec", ["leave-one-out", "speaker-kfold:x", "speaker-kfold:1", "speaker-sentence:5", "loso:2",
             "predefined:session"],
)
def test_bad_protocol_names_are_errors(spec):
    with pytest.raises(SerkitError):
        protocol_from_spec(spec)


def test_validation_specs():
    assert validation_from_spec("speakers") == HeldOutSpeakers()
    assert validation_from_spec("speakers:2") == HeldOutSpeakers(count=2)
    assert validation_from_spec("speakers:0.25") == HeldOutSpeakers(fraction=0.25)
    for spec in ("speakers", "speakers:2", "speakers:0.25", "predefined", "none",
                 "predefined:session=Session5"):
        assert validation_from_spec(spec).name == spec
    for bad in ("speakers:1.5", "speakers:abc", "dev", "none:1", "predefined:x"):
        with pytest.raises(SerkitError):
            validation_from_spec(bad)


def test_missing_speakers_and_too_few_speakers_are_corpus_errors():
    table = iemocap_like()
    table.loc[3, "speaker"] = None
    with pytest.raises(CorpusError, match=r"1 rows have none \(e.g. /data/iemocap/Ses01F"):
        make_folds(table, "loso")
    with pytest.raises(CorpusError, match="at least 12 speakers; this table has 10"):
        make_folds(iemocap_like(), "speaker-kfold:12")
    with pytest.raises(CorpusError, match="cannot hold out 9 of the 9"):
        make_folds(iemocap_like(), "loso", "speakers:9")
    with pytest.raises(CorpusError, match="needs a 'text' column"):
        make_folds(iemocap_like().drop(columns="text"), "speaker-sentence:2x2")


def test_hashes_can_be_given_as_a_column_a_mapping_or_a_sequence():
    table = iemocap_like()
    expected = table["content_hash"].to_numpy()
    mapping = dict(zip(table["path"], table["content_hash"], strict=True))
    for given in ("content_hash", mapping, list(expected), None):
        assert list(audio_hashes(table, given)) == list(expected)
    with pytest.raises(SerkitError, match="3 content hashes given for a table of 60 rows"):
        audio_hashes(table, ["a", "b", "c"])
    with pytest.raises(SerkitError, match="no content hash given for 1 files"):
        audio_hashes(table, {p: h for p, h in list(mapping.items())[1:]})


def test_identical_audio_is_found_by_hash_whatever_the_protocol():
    table = iemocap_like()
    # Ses05M's last recording is a copy of Ses01F's first.
    table.loc[table.index[-1], "content_hash"] = table["content_hash"].iloc[0]
    for protocol in ("loso", "loso-session", "predefined"):
        with pytest.raises(LeakageError, match="identical audio"):
            make_folds(table, protocol, "none")

