"""EMO-DB read from the real corpus: the published counts, and a random subset's counts."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

from serkit.corpora import COLUMN_NAMES, corpus_summary, read_alignment, read_corpus, select_classes

# The corpus README's key, written here independently of labels.yaml.
README_CODES = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
                "F": "happiness", "T": "sadness", "N": "neutral"}
README_MALE = {"03", "10", "11", "12", "15"}


@pytest.fixture(scope="module")
def emodb(emodb_root):
    return read_corpus("emodb", emodb_root)


def test_whole_corpus_reproduces_the_published_counts(emodb, emodb_wavs):
    assert list(emodb.columns) == list(COLUMN_NAMES)
    assert len(emodb) == len(emodb_wavs) == 535
    assert emodb["speaker"].nunique() == 10
    assert emodb["label"].value_counts().to_dict() == {
        "anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
        "happiness": 71, "sadness": 62, "neutral": 79,
    }
    assert len(select_classes(emodb, "4class")) == 339
    assert len(select_classes(emodb, "emodb7")) == 535


def test_every_sentence_is_spoken_by_every_speaker(emodb):
    texts = emodb.groupby("text")["speaker"].nunique()
    assert len(texts) == 10 and (texts == 10).all()


def test_summary_of_the_whole_corpus(emodb):
    summary = corpus_summary(emodb)
    assert summary["corpus"] == "emodb"
    assert (summary["utterances"], summary["speakers"]) == (535, 10)
    assert summary["labels"]["anger"] == 127 and sum(summary["labels"].values()) == 535
    assert summary["genders"] == {"female": 5, "male": 5}
    assert sum(sum(c.values()) for c in summary["per_speaker"].values()) == 535
    # README: 24.8 minutes in all.
    assert summary["hours"] * 60 == pytest.approx(24.8, abs=0.05)


def test_durations_and_genders_match_the_files(emodb):
    sample = emodb.sample(20, random_state=0)
    for row in sample.itertuples():
        assert row.duration == len(sf.read(row.path)[0]) / 16000
        assert row.gender == ("male" if Path(row.path).name[:2] in README_MALE else "female")


def test_alignments_point_to_the_utterance_phone_labels(emodb):
    assert emodb["alignment"].notna().all()
    for row in emodb.sample(10, random_state=1).itertuples():
        assert Path(row.alignment).name.startswith(row.utterance)
        segments = read_alignment(row.alignment)
        # the phone labels end within the recording (xlabel end times are in seconds)
        assert 0 < segments.ends[-1] <= row.duration + 0.05


def test_random_subset_counts_come_from_its_own_files(emodb_root, emodb_wavs, tmp_path):
    chosen = random.Random(1234).sample(emodb_wavs, 60)
    (tmp_path / "wav").mkdir()
    (tmp_path / "lablaut").mkdir()
    for wav in chosen:
        shutil.copy(wav, tmp_path / "wav" / wav.name)
        for lab in (emodb_root / "lablaut").glob(f"{wav.stem}*.lablaut"):
            shutil.copy(lab, tmp_path / "lablaut" / lab.name)

    table = read_corpus("emodb", tmp_path)

    names = [w.name for w in chosen]
    assert len(table) == len(names)
    assert set(table["utterance"]) == {n[:-4] for n in names}
    assert table["speaker"].nunique() == len({n[:2] for n in names})
    assert table["label"].value_counts().to_dict() == dict(Counter(README_CODES[n[5]] for n in names))
    four = sum(README_CODES[n[5]] in ("anger", "happiness", "neutral", "sadness") for n in names)
    assert len(select_classes(table, "4class")) == four
    assert all(p.startswith(str(tmp_path)) for p in table["path"])
    assert all(a.startswith(str(tmp_path / "lablaut")) for a in table["alignment"])


def test_labels_without_lablaut_folder_are_none(emodb_wavs, tmp_path):
    (tmp_path / "wav").mkdir()
    for wav in emodb_wavs[:3]:
        shutil.copy(wav, tmp_path / "wav")
    table = read_corpus("emodb", tmp_path)
    assert len(table) == 3 and table["alignment"].isna().all()
