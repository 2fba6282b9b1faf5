"""Arousal/valence targets: labels.yaml's places for categorical corpora, a corpus's own ratings first."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from serkit.corpora import class_set, make_table, read_corpus, vocabulary
from serkit.corpora.dimensions import (
    dimensional_targets,
    emotion_place,
    emotion_places,
    rescale_ratings,
    target_scale,
)
from serkit.corpora.labels import label_data, parse_label_data
from serkit.errors import CorpusError, SerkitError


def rated_table(rows, corpus="iemocap"):
    """A valid corpus table, one row per (label, valence, arousal); None is no label / no rating."""
    return make_table(
        {
            "path": f"/data/{corpus}/u{i}.wav",
            "corpus": corpus,
            "utterance": f"u{i}",
            "speaker": f"s{i % 2}",
            "duration": 1.0,
            "label": label,
            "original_label": None if label is None else label[:3],
            "valence": np.nan if valence is None else valence,
            "arousal": np.nan if arousal is None else arousal,
        }
        for i, (label, valence, arousal) in enumerate(rows)
    )


def test_every_emotion_has_a_place_and_only_annotation_states_lack_one():
    places = emotion_places()
    assert target_scale() == (-1.0, 1.0)
    assert set(places) == set(vocabulary()) - {"other", "no_agreement"}
    for name, place in places.items():
        assert -1 <= place.arousal <= 1 and -1 <= place.valence <= 1, name
        # the stored value is its NRC VAD entry rescaled by 2x - 1
        assert place.arousal == pytest.approx(2 * place.source_entry["arousal"] - 1, abs=5e-4)
        assert place.valence == pytest.approx(2 * place.source_entry["valence"] - 1, abs=5e-4)
    assert (places["anger"].arousal, places["anger"].valence) == (0.730, -0.666)  # NRC VAD: anger 0.167 0.865
    with pytest.raises(CorpusError, match="'no_agreement' has no arousal/valence place.*no majority"):
        emotion_place("no_agreement")


def test_emodb_labels_give_their_places(emodb_root):
    table = read_corpus("emodb", emodb_root)
    targets = dimensional_targets(table)
    assert targets.index.equals(table.index) and targets["path"].tolist() == table["path"].tolist()
    assert set(targets["dimension_source"]) == {"labels.yaml"}
    assert set(targets["label"]) == set(class_set("emodb7"))
    assert targets[["arousal", "valence"]].notna().all().all() and targets.attrs["dimension_dropped"] == {}
    by_label = targets.groupby("label")[["arousal", "valence"]].agg(["min", "max"])
    assert (by_label.xs("min", axis=1, level=1) == by_label.xs("max", axis=1, level=1)).all().all()
    place = targets.groupby("label")[["arousal", "valence"]].first()
    assert place.loc["anger", "arousal"] > place.loc["sadness", "arousal"]
    assert place.loc["anger", "valence"] < place.loc["happiness", "valence"]
    assert place.loc["boredom", "arousal"] < place.loc["fear", "arousal"]
    # A corpus without ratings gives the same with either preference.
    assert dimensional_targets(table, prefer="labels").equals(targets)


def test_a_corpus_s_own_ratings_take_precedence_rescaled_from_its_scale():
    # IEMOCAP-like: per-utterance means on 1..5; an angry turn rated calm and pleasant,
    # a no-majority turn with ratings, one turn without ratings.
    table = rated_table([
        ("anger", 4.5, 1.5),
        ("no_agreement", 3.0, 5.0),
        ("sadness", None, None),
        ("other", 1.0, 3.0),
    ])
    targets = dimensional_targets(table)
    assert targets["dimension_source"].tolist() == ["corpus", "corpus", "labels.yaml", "corpus"]
    # y = (x - 3) / 2 for IEMOCAP's 1..5
    np.testing.assert_allclose(targets["valence"], [0.75, 0.0, emotion_place("sadness").valence, -1.0])
    np.testing.assert_allclose(targets["arousal"], [-0.75, 1.0, emotion_place("sadness").arousal, 0.0])

    labels_first = dimensional_targets(table, prefer="labels")
    assert labels_first["dimension_source"].tolist() == ["labels.yaml", "corpus", "labels.yaml", "corpus"]
    assert labels_first.loc[0, ["arousal", "valence"]].tolist() == [0.730, -0.666]
    assert labels_first.loc[1, ["arousal", "valence"]].tolist() == [1.0, 0.0]


def test_recola_traces_are_already_on_the_common_scale():
    table = rated_table([(None, 0.25, -0.5), (None, None, None)], corpus="recola")
    targets = dimensional_targets(table, missing="drop")
    assert targets["dimension_source"].tolist() == ["corpus"]
    assert targets.loc[0, ["arousal", "valence"]].tolist() == [-0.5, 0.25]
    assert targets.attrs["dimension_dropped"] == {None: 1}
    trace = np.array([-0.2, 0.0, 0.4])
    np.testing.assert_array_equal(rescale_ratings(trace, "recola"), trace)
    np.testing.assert_array_equal(rescale_ratings([1, 3, 5, np.nan], "iemocap"), [-1, 0, 1, np.nan])


def test_a_row_with_neither_place_nor_rating_is_an_error_naming_its_label_or_dropped_and_counted():
    table = rated_table([("anger", None, None), ("other", None, None), (None, None, None), ("other", None, None)])
    with pytest.raises(CorpusError, match=r"u1\.wav: label 'other' has no arousal/valence place.*3 rows in all"):
        dimensional_targets(table)
    kept = dimensional_targets(table, missing="drop")
    assert kept.index.tolist() == [0] and kept["label"].tolist() == ["anger"]
    assert kept.attrs["dimension_dropped"] == {None: 1, "other": 2}
    assert not kept[["arousal", "valence"]].isna().any().any()


def test_bad_ratings_fail_naming_the_file():
    with pytest.raises(CorpusError, match=r"u1\.wav: arousal 2, valence 5\.5 outside iemocap's declared"):
        dimensional_targets(rated_table([("anger", 3.0, 3.0), ("anger", 5.5, 2.0)]))
    with pytest.raises(CorpusError, match=r"u0\.wav: has its own valence but not the other"):
        dimensional_targets(rated_table([("anger", 3.0, None)]))
    # A manifest's ratings have no declared scale until the caller gives one.
    manifest = rated_table([("anger", 7.0, 1.0)], corpus="mycorpus")
    with pytest.raises(CorpusError, match="'mycorpus' has its own arousal/valence ratings but no declared scale"):
        dimensional_targets(manifest)
    given = dimensional_targets(manifest, scales={"mycorpus": (1, 9)})
    assert given.loc[0, ["arousal", "valence"]].tolist() == [-1.0, 0.5]
    with pytest.raises(CorpusError, match="prefer must be one of corpus, labels"):
        dimensional_targets(manifest, prefer="lexicon")


def test_the_dimensions_section_is_checked():
    raw = yaml.safe_load(
        "vocabulary: {anger: a, other: o}\n"
        "corpora: {}\n"
        "class_sets: {}\n"
        "dimensions:\n"
        "  scale: [-1, 1]\n"
        "  source: test\n"
        "  places: {anger: {arousal: 0.73, valence: -0.666, nrc_vad: {word: anger, valence: 0.167, arousal: 0.865}}}\n"
        "  unplaced: {other: not an emotion}\n"
        "  corpus_scales: {iemocap: [1, 5]}\n"
    )
    assert parse_label_data(raw).dimensions.places["anger"].arousal == 0.73
    wrong = copy.deepcopy(raw)
    wrong["dimensions"]["places"]["anger"]["arousal"] = 0.8
    with pytest.raises(SerkitError, match="arousal 0.8 is not its nrc_vad entry 0.865 rescaled"):
        parse_label_data(wrong)
    forgotten = copy.deepcopy(raw)
    forgotten["dimensions"]["unplaced"] = {}
    with pytest.raises(SerkitError, match="place or declare unplaced each vocabulary name once: other"):
        parse_label_data(forgotten)
    # The packaged file is parsed with its places (and older files without the section still read).
    assert label_data().dimensions.source.startswith("NRC VAD Lexicon v1 (Mohammad, ACL 2018)")
    without = {k: v for k, v in raw.items() if k != "dimensions"}
    assert parse_label_data(without).dimensions.places == {}
