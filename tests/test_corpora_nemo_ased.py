"""nEMO and ASED: readers on small trees in the corpora's real naming, the extraction script on a
toy repository, the data checks on made signals; then the real corpora, counted against their
READMEs (skipped, saying why, where $SERKIT_CORPORA is unset or they are absent)."""

from __future__ import annotations

import collections
import csv
import importlib.util
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import corpora_folder
from serkit.corpora import COLUMN_NAMES, make_table, read_corpus, select_classes
from serkit.corpora.checks import (
    check_corpora,
    duration_leak,
    same_takes,
    signal_facts,
)
from serkit.errors import CorpusError

ROOT = Path(__file__).resolve().parents[1]


def _load_extract_script():
    spec = importlib.util.spec_from_file_location("serkit_tools_extract", ROOT / "tools" / "extract_corpora.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


extract_corpora = _load_extract_script()


def write_wav(path: Path, seconds: float = 0.2, rate: int = 16_000, seed: int = 0, signal=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if signal is None:
        signal = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))
    sf.write(path, signal, rate, subtype="PCM_16")
    return path


# -- nEMO -------------------------------------------------------------------------------

NEMO_ROWS = [  # file_id, emotion, raw_text, speaker_id (with the distributed leading blanks), gender
    ("EB0_anger_1.wav", "anger", "Lubię czytać przed snem.", "        EB0", "female"),
    ("EB0_surprised_1.wav", "surprised", "Lubię czytać przed snem.", "        EB0", "female"),
    ("WR0_neutral_64.wav", "neutral", "Ucho wykrywa dźwięki.", "        WR0", "male"),
]


def nemo_tree(root: Path, rows=NEMO_ROWS, files=None) -> Path:
    with open(root / "data.tsv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(["file_id", "emotion", "raw_text", "normalized_text", "speaker_id", "gender", "age"])
        out.writerows([name, emotion, text, text.lower(), speaker, gender, "23"]
                      for name, emotion, text, speaker, gender in rows)
    for i, name in enumerate(files if files is not None else [r[0] for r in rows]):
        write_wav(root / "samples" / name, rate=24_000, seed=i)
    return root


def test_nemo_reads_names_and_data_tsv(tmp_path):
    table = read_corpus("nemo", nemo_tree(tmp_path))
    assert list(table.columns) == list(COLUMN_NAMES)
    rows = table.set_index("utterance")
    surprised = rows.loc["EB0_surprised_1"]
    assert [surprised.label, surprised.original_label, surprised.speaker, surprised.gender, surprised.text,
            surprised.transcript] == ["surprise", "surprised", "EB0", "female", "1", "Lubię czytać przed snem."]
    assert rows.loc["WR0_neutral_64", "gender"] == "male"
    assert rows.loc["WR0_neutral_64", "duration"] == pytest.approx(0.2)
    assert len(select_classes(table, "nemo6")) == 3


@pytest.mark.parametrize(("rows", "files", "message"), [
    (NEMO_ROWS[:2], [r[0] for r in NEMO_ROWS], r"WR0_neutral_64\.wav: not listed in .*data\.tsv"),
    (NEMO_ROWS, [r[0] for r in NEMO_ROWS[:2]], r"data\.tsv: lists WR0_neutral_64\.wav, which is not in samples/"),
    ([(*NEMO_ROWS[0][:3], "IC0", "female")], [NEMO_ROWS[0][0]], r"gives speaker 'IC0' .* unlike the name"),
    ([(*NEMO_ROWS[0][:4], "unknown")], [NEMO_ROWS[0][0]], r"gives gender 'unknown'"),
    ([("EB0-anger-1.wav", "anger", "x", "EB0", "female")], ["EB0-anger-1.wav"], "not a nEMO file name"),
])
def test_nemo_refuses_what_is_not_as_distributed(tmp_path, rows, files, message):
    with pytest.raises(CorpusError, match=message):
        read_corpus("nemo", nemo_tree(tmp_path, rows, files))


# -- ASED -------------------------------------------------------------------------------

ASED = [
    "01Neutral/n1-01-01-01-01.wav",  # common sentence 01, speaker 01 (female)
    "05Angry/a5-01-02-01-01.wav",  # the same common sentence, angry
    "05Angry/a5-03-01-01-01.wav",  # an angry-only sentence
    "04Sad/S4-04-02-02-01.wav",  # upper-case letter, as one distributed file; says male against two
    "02Fearful/f2-07-01-02-50.wav",  # speaker 50, male
]


def ased_tree(root: Path, names=ASED) -> Path:
    for i, name in enumerate(names):
        write_wav(root / name, seed=i)
    return root


def test_ased_sentence_ids_letters_and_majority_gender(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="serkit.corpora.ased"):
        table = read_corpus("ased", ased_tree(tmp_path))
    rows = table.set_index("utterance")
    assert rows["text"].to_dict() == {
        "n1-01-01-01-01": "c01", "a5-01-02-01-01": "c01", "a5-03-01-01-01": "a03",
        "S4-04-02-02-01": "s04", "f2-07-01-02-50": "f07"}
    assert rows.loc["S4-04-02-02-01", ["label", "original_label"]].tolist() == ["sadness", "s"]
    assert rows.loc["f2-07-01-02-50", "label"] == "fear"
    assert rows.groupby("speaker")["gender"].unique().map(list).to_dict() == {"01": ["female"], "50": ["male"]}
    assert "S4-04-02-02-01.wav" in caplog.text
    assert len(select_classes(table, "ased5")) == len(ASED)


def test_ased_tie_leaves_gender_unknown(tmp_path):
    names = ["01Neutral/n1-01-01-01-07.wav", "01Neutral/n1-01-02-02-07.wav"]  # one says female, one male
    table = read_corpus("ased", ased_tree(tmp_path, names))
    assert table["gender"].isna().all()


@pytest.mark.parametrize(("name", "message"), [
    ("02Fearful/a5-03-01-01-01.wav", "emotion number 5 does not match its folder 02Fearful"),
    ("05Angry/a5-08-01-01-01.wav", "not an ASED file name"),
    ("05Angry/x5-03-01-01-01.wav", "unknown ased label code 'x'"),
])
def test_ased_refuses_names_outside_its_convention(tmp_path, name, message):
    with pytest.raises(CorpusError, match=message):
        read_corpus("ased", ased_tree(tmp_path, [name]))


def test_a_corpus_without_root_is_read_from_serkit_corpora(tmp_path, monkeypatch):
    ased_tree(tmp_path / "ased")
    monkeypatch.setenv("SERKIT_CORPORA", str(tmp_path))
    assert len(read_corpus("ased")) == len(ASED)
    monkeypatch.delenv("SERKIT_CORPORA")
    with pytest.raises(CorpusError, match="no root for corpus 'nemo'.*SERKIT_CORPORA"):
        read_corpus("nemo")


# -- extraction -------------------------------------------------------------------------


def toy_repository(folder: Path) -> Path:
    for i in range(2):
        write_wav(folder / "samples" / f"AB0_anger_{i}.wav", seed=i)
    (folder / "README.md").write_text("toy\n")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "toy"], check=True)
    return folder / ".git"


def test_extraction_checks_counts_and_is_idempotent(tmp_path):
    git_dir = toy_repository(tmp_path / "repo")
    toy = extract_corpora.Snapshot("toy", "someone/toy", "samples/*.wav", 2)
    out = tmp_path / "corpora"
    assert "extracted" in extract_corpora.extract(toy, git_dir, out)
    assert sorted(p.name for p in (out / "toy" / "samples").iterdir()) == ["AB0_anger_0.wav", "AB0_anger_1.wav"]
    assert "already holds" in extract_corpora.extract(toy, git_dir, out)
    (out / "toy" / "samples" / "AB0_anger_0.wav").unlink()  # no longer whole: extracted afresh
    assert "extracted" in extract_corpora.extract(toy, git_dir, out)
    assert (out / "toy" / "samples" / "AB0_anger_0.wav").is_file()
    wrong = extract_corpora.Snapshot("toy3", "someone/toy", "samples/*.wav", 3)
    with pytest.raises(extract_corpora.ExtractError, match=r"toy3: 2 files match samples/\*\.wav .* expected 3"):
        extract_corpora.extract(wrong, git_dir, out)
    assert sorted(p.name for p in out.iterdir()) == ["toy"]  # nothing half-made left behind


def test_extraction_script_exits_1_naming_a_bad_argument(tmp_path, capsys):
    assert extract_corpora.main(["--out", str(tmp_path), "nemo"]) == 1
    assert "expected NAME=GIT_DIR" in capsys.readouterr().err


# -- data checks ------------------------------------------------------------------------

RATE = 16_000
SINE = 0.5 * np.sin(2 * np.pi * 220 * np.arange(RATE // 4) / RATE)


def test_signal_facts_tell_clean_clipped_overflowed_and_silent_apart():
    clean = signal_facts("a", SINE, RATE)
    assert not clean.clipped and not clean.quiet
    hard = signal_facts("b", np.clip(2 * SINE, -0.6, 0.6), RATE)  # flat tops below full scale
    assert hard.clipped_runs > 0 and hard.clipped
    overflowed = 1.9 * SINE
    peak = int(np.argmax(overflowed))
    overflowed[peak] -= 2 - 0.1  # one sample past full scale, wrapped round as int16 does
    assert signal_facts("c", overflowed, RATE).wrapped > 0
    assert signal_facts("d", np.zeros(100), RATE).quiet
    paused = np.concatenate([np.zeros(RATE // 10), SINE, np.zeros(RATE // 10)])
    assert signal_facts("f", paused, RATE).offset == 0 and not signal_facts("f", paused, RATE).biased
    biased = signal_facts("g", paused + 0.01, RATE)  # a 1% offset; not clipped
    assert biased.biased and biased.offset == pytest.approx(0.01) and not biased.clipped
    assert signal_facts("e", SINE, RATE).samples_hash == clean.samples_hash != hard.samples_hash


def test_same_takes_finds_a_shifted_trimmed_copy_not_another_take():
    rng = np.random.default_rng(0)
    take = np.concatenate([np.zeros(1000), rng.standard_normal(2000), np.zeros(1000)])  # speech in silence
    found = same_takes({"a": take, "b": take[300:3500], "c": rng.standard_normal(4000)})  # b: trimmed silence
    assert [(d.paths, d.kind) for d in found] == [(("a", "b"), "take")]
    assert found[0].similarity > 0.99


def test_duration_leak_is_perfect_when_lengths_follow_labels_and_at_chance_when_unique():
    table = pd.DataFrame({"label": ["anger", "anger", "sadness", "sadness"], "duration": [2.4, 2.4, 3.0, 3.0]})
    assert duration_leak(table).accuracy == 1.0
    unique = table.assign(duration=[1.0, 2.0, 3.0, 4.0])
    assert duration_leak(unique).accuracy == pytest.approx(duration_leak(unique).chance)


def test_check_corpora_on_a_small_tree(tmp_path):
    ased_tree(tmp_path)
    shutil.copy(tmp_path / ASED[0], tmp_path / "01Neutral" / "n1-01-02-01-01.wav")  # a repetition that is a copy
    shifted = sf.read(tmp_path / ASED[2])[0][100:]
    write_wav(tmp_path / "05Angry" / "a5-03-02-01-01.wav", signal=shifted)  # the same take, trimmed
    write_wav(tmp_path / "05Angry" / "a5-04-01-01-01.wav", signal=np.clip(2 * SINE, -0.6, 0.6))
    report = check_corpora(read_corpus("ased", tmp_path))
    names = {(d.kind, tuple(Path(p).name for p in d.paths)) for d in report.duplicates}
    assert names == {("samples", ("n1-01-01-01-01.wav", "n1-01-02-01-01.wav")),
                     ("take", ("a5-03-01-01-01.wav", "a5-03-02-01-01.wav"))}
    assert [Path(f.path).name for f in report.clipped] == ["a5-04-01-01-01.wav"]
    assert report.missing_labels == {"ased/01": ("fear",), "ased/50": ("anger", "neutral", "sadness")}
    assert int(report.label_counts.loc[("ased", "01"), "anger"]) == 4


def test_check_corpora_on_a_corpus_without_labels(tmp_path):
    paths = [write_wav(tmp_path / f"{i}.wav", seed=i) for i in range(2)]
    table = make_table(dict(path=str(p), corpus="speech", utterance=p.stem, speaker="s", duration=0.2)
                       for p in paths)
    report = check_corpora(table)
    assert (len(report.facts), report.duplicates, report.missing_labels, report.duration_leaks) == (2, (), {}, {})
    assert report.label_counts.empty


# -- the real corpora -------------------------------------------------------------------


@pytest.fixture(scope="module")
def nemo():
    return read_corpus("nemo", corpora_folder("nemo"))


@pytest.fixture(scope="module")
def ased():
    return read_corpus("ased", corpora_folder("ased"))


def test_real_nemo_matches_its_readme_and_data_tsv(nemo):
    with open(Path(nemo.attrs["root"]) / "data.tsv", encoding="utf-8", newline="") as f:
        listed = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(nemo) == len(listed) == 4481  # the count; data.tsv lists every file
    assert nemo["speaker"].nunique() == 9  # README: nine actors
    emotions = collections.Counter(row["emotion"] for row in listed)
    assert collections.Counter(nemo["original_label"]) == emotions and len(emotions) == 6  # six states
    genders = nemo.drop_duplicates("speaker")["gender"].value_counts().to_dict()
    assert genders == collections.Counter(
        row["gender"] for row in {r["speaker_id"].strip(): r for r in listed}.values())
    assert nemo.groupby("text")["label"].nunique().eq(6).all()  # each sentence in every emotion
    assert nemo.groupby("text")["transcript"].nunique().eq(1).all()  # one number, one sentence
    assert 3 < nemo["duration"].sum() / 3600 < 3.2  # README: over 3 hours


def test_real_ased_matches_its_readme(ased):
    assert len(ased) == 2474 and ased["speaker"].nunique() == 65
    speakers = ased.drop_duplicates("speaker")["gender"].value_counts().to_dict()
    assert speakers == {"male": 40, "female": 25}  # README: 25 female and 40 male
    assert ased.groupby("speaker").size().max() <= 70  # README: 70 recordings in a complete set
    root = Path(ased.attrs["root"])
    folders = {d.name: len(list(d.glob("*.wav"))) for d in root.iterdir() if d.is_dir() and d.name[0] == "0"}
    by_folder = ased["path"].map(lambda p: Path(p).parent.name).value_counts().to_dict()
    assert by_folder == folders and len(folders) == 5  # five emotions, one folder each
    labels_per_sentence = ased.groupby("text")["label"].nunique()
    assert labels_per_sentence.to_dict() == {**{t: 1 for t in labels_per_sentence.index if t[0] != "c"},
                                             "c01": 5, "c02": 5}
    assert len(labels_per_sentence) == 27  # README: 25 emotion-specific and two common sentences
