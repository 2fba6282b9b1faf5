"""Labels as data: the vocabulary and maps in labels.yaml, class sets, select_classes, the table schema."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from serkit.corpora import (
    COLUMN_NAMES,
    class_set,
    class_sets,
    corpus_codes,
    corpus_summary,
    get_class_set,
    list_corpora,
    make_table,
    select_classes,
    validate_table,
    vocabulary,
)
from serkit.corpora.labels import map_label, parse_label_data
from serkit.errors import CorpusError, SerkitError


def table_of(labels, corpus="toy", speakers=None):
    """A valid table with one row per label (files need not exist: no reader runs)."""
    speakers = speakers or [f"s{i % 3}" for i in range(len(labels))]
    return make_table(
        {
            "path": f"/data/{corpus}/{i}.wav",
            "corpus": corpus,
            "utterance": f"u{i}",
            "speaker": speaker,
            "duration": 1.0 + i,
            "label": label,
            "original_label": None if label is None else label[:3],
        }
        for i, (label, speaker) in enumerate(zip(labels, speakers))
    )


def test_every_corpus_reader_with_labels_has_a_map_into_the_vocabulary():
    for corpus in ("emodb", "iemocap", "ravdess", "cremad", "tess", "savee", "emovo"):
        assert corpus in list_corpora()
        assert set(corpus_codes(corpus).values()) <= set(vocabulary())


def test_emodb_letters_follow_the_corpus_readme_not_the_common_mistake():
    assert map_label("emodb", "A", "x.wav") == "fear"
    assert map_label("emodb", "F", "x.wav") == "happiness"
    assert map_label("emodb", "W", "x.wav") == "anger"
    assert len(corpus_codes("emodb")) == 7


def test_codes_that_yaml_would_turn_into_numbers_or_booleans_stay_text():
    assert "01" in corpus_codes("ravdess") and "N" in corpus_codes("emodb")


def test_unknown_code_names_the_file_and_the_code():
    with pytest.raises(CorpusError, match=r"03a01Qa\.wav.*'Q'"):
        map_label("emodb", "Q", "/x/03a01Qa.wav")


def test_class_sets_are_ordered_and_declare_their_merges():
    assert class_set("4class") == ("anger", "happiness", "neutral", "sadness")
    assert dict(get_class_set("4class").merge) == {"excitement": "happiness"}
    assert dict(get_class_set("4class-nomerge").merge) == {}
    for chosen in class_sets().values():
        assert set(chosen.classes) <= set(vocabulary())
        assert set(chosen.merge.values()) <= set(chosen.classes)
    with pytest.raises(CorpusError, match="unknown class set 'nope'"):
        class_set("nope")


def test_select_classes_merges_then_excludes_and_records_both():
    labels = ["anger", "excitement", "happiness", "frustration", "neutral", "no_agreement", "sadness",
              "excitement"]
    table = table_of(labels)
    chosen = select_classes(table, "4class")
    kept = [x for x in labels if x not in ("frustration", "no_agreement")]
    expected = [{"excitement": "happiness"}.get(x, x) for x in kept]
    assert list(chosen["label"]) == expected
    # the corpus's own codes survive the merge
    assert list(chosen["original_label"]) == [x[:3] for x in kept]
    record = chosen.attrs["class_set"]
    assert record["merged"] == {"excitement": 2}
    assert record["excluded"] == {"frustration": 1, "no_agreement": 1}
    assert record["classes"] == ["anger", "happiness", "neutral", "sadness"]
    assert corpus_summary(chosen)["class_set"] == record

    strict = select_classes(table, "4class-nomerge")
    assert "excitement" not in set(strict["label"]) and len(strict) == 4
    assert strict.attrs["class_set"]["excluded"]["excitement"] == 2


def test_select_classes_needs_categorical_labels():
    with pytest.raises(CorpusError, match="no categorical labels"):
        select_classes(table_of([None, None]), "4class")


def test_summary_counts_per_label_and_speaker():
    table = table_of(["anger", "anger", "sadness", None], speakers=["a", "b", "a", "b"])
    summary = corpus_summary(table)
    assert summary["labels"] == {"anger": 2, "sadness": 1}
    assert summary["per_speaker"] == {"a": {"anger": 1, "sadness": 1}, "b": {"anger": 1}}
    assert summary["unlabelled"] == 1
    assert summary["speakers"] == 2
    assert math.isclose(summary["hours"], (1 + 2 + 3 + 4) / 3600)
    assert summary["genders"] == {"unknown": 2}


def test_summary_keeps_speakers_of_different_corpora_apart():
    both = pd.concat([table_of(["anger"], "one", ["s"]), table_of(["fear"], "two", ["s"])], ignore_index=True)
    summary = corpus_summary(validate_table(both))
    assert summary["corpus"] == "one+two"
    assert summary["speakers"] == 2
    assert set(summary["per_speaker"]) == {"one/s", "two/s"}


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda t: t.assign(label=["joy", "anger"]), "not in the vocabulary"),
        (lambda t: t.assign(original_label=[None, "ang"]), "both given or both None"),
        (lambda t: t.assign(gender=["woman", None]), "gender"),
        (lambda t: t.assign(duration=[0.0, 1.0]), "duration is not positive"),
        (lambda t: t.assign(path=["rel/0.wav", "/data/toy/1.wav"]), "not absolute"),
        (lambda t: t.assign(path=["/data/x.wav", "/data/x.wav"]), "path occurs twice"),
        (lambda t: t.assign(utterance=["u", "u"]), "utterance id occurs twice"),
        (lambda t: t.assign(speaker=[None, "s"]), "speaker is missing"),
        (lambda t: t.assign(speaker=["", "s"]), "empty string"),
        (lambda t: t.assign(elicitation=["sung", None]), "elicitation"),
        (lambda t: t.drop(columns="session"), "missing session"),
        (lambda t: t.assign(extra=1), "unknown extra"),
    ],
)
def test_validation_rejects_tables_off_the_schema(change, reason):
    table = table_of(["anger", "anger"])
    with pytest.raises(CorpusError, match=reason):
        validate_table(change(table))


def test_validation_turns_pandas_missing_text_into_none_and_keeps_attrs():
    table = table_of(["anger", None])
    table.attrs["skipped"] = [{"path": "/x.wav", "reason": "truncated"}]
    roundtrip = table.astype({"label": "string", "gender": "string"})
    checked = validate_table(roundtrip)
    assert list(checked.columns) == list(COLUMN_NAMES)
    assert checked["label"].tolist() == ["anger", None]
    assert checked["gender"].tolist() == [None, None]
    assert checked["label"].dtype == object and checked["valence"].dtype == np.float64
    assert checked.attrs["skipped"] == table.attrs["skipped"]


def test_label_file_checks_catch_mistakes():
    good = yaml.safe_load(
        "vocabulary: {anger: a, happiness: h, excitement: e}\n"
        "corpora: {x: {'W': anger}}\n"
        "class_sets: {two: {classes: [anger, happiness], merge: {excitement: happiness}}}\n"
    )
    assert parse_label_data(good).class_sets["two"].classes == ("anger", "happiness")
    bad_target = {**good, "corpora": {"x": {"W": "rage"}}}
    with pytest.raises(SerkitError, match="'rage' is not in the vocabulary"):
        parse_label_data(bad_target)
    unquoted = {**good, "corpora": {"x": {1: "anger"}}}
    with pytest.raises(SerkitError, match="quote codes"):
        parse_label_data(unquoted)
    merge_outside = {
        **good, "class_sets": {"two": {"classes": ["anger"], "merge": {"excitement": "happiness"}}}
    }
    with pytest.raises(SerkitError, match="merge names outside its classes into its classes"):
        parse_label_data(merge_outside)
