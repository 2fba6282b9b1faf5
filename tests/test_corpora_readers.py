"""Each corpus reader on a small tree in the corpus's real layout, with tiny generated audio.

Label files, gold standards and phone files come verbatim-format from
tests/fixtures/corpora/; audio is written here with soundfile (WAV, FLAC,
NIST SPHERE) so that no corpus audio lives in the repository.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serkit.corpora import (
    COLUMN_NAMES,
    corpus_summary,
    list_corpora,
    read_alignment,
    read_corpus,
    read_trace,
    select_classes,
    traces,
)
from serkit.errors import AudioError, CorpusError

FIXTURES = Path(__file__).parent / "fixtures" / "corpora"
RATE = 16_000


def write_audio(path: Path, seconds: float = 0.25, rate: int = RATE, **kwargs) -> float:
    """A short tone at ``path``; returns its exact duration in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * rate))
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / rate), rate, **kwargs)
    return n / rate


def tree(root: Path, names: list[str], seconds: float = 0.25) -> dict[str, float]:
    """Audio files at ``root/name`` for each name; returns name -> duration."""
    return {name: write_audio(root / name, seconds + 0.01 * i) for i, name in enumerate(names)}


def by_utterance(table):
    return table.set_index("utterance")


def check_durations(table, root: Path, durations: dict[str, float]) -> None:
    got = {str(Path(p).relative_to(root)): d for p, d in zip(table["path"], table["duration"])}
    assert got == pytest.approx(durations)


# -- registry ---------------------------------------------------------------------------


def test_registry_names_every_reader_with_its_layout():
    corpora = list_corpora()
    assert set(corpora) == {"emodb", "iemocap", "ravdess", "cremad", "tess", "savee", "emovo",
                            "nemo", "ased", "recola", "librispeech", "timit", "manifest"}
    assert all(isinstance(layout, str) and layout for layout in corpora.values())


def test_registry_errors_name_the_problem(tmp_path):
    with pytest.raises(CorpusError, match="unknown corpus 'nope'"):
        read_corpus("nope", tmp_path)
    with pytest.raises(CorpusError, match="no such folder"):
        read_corpus("ravdess", tmp_path / "absent")
    with pytest.raises(CorpusError, match="no ravdess recordings found"):
        read_corpus("ravdess", tmp_path)
    with pytest.raises(CorpusError, match="the emodb reader takes no option label_map"):
        read_corpus("EMO-DB", tmp_path, label_map="iemocap")


# -- RAVDESS ----------------------------------------------------------------------------

RAVDESS = [
    "Actor_01/03-01-05-01-01-01-01.wav",  # angry, normal, "Kids ...", actor 1 (male)
    "Actor_01/03-01-01-01-02-02-01.wav",  # neutral
    "Actor_02/03-01-02-02-01-01-02.wav",  # calm, strong, actor 2 (female)
    "Actor_02/03-01-08-02-02-01-02.wav",  # surprised
]


def test_ravdess(tmp_path):
    durations = tree(tmp_path, RAVDESS)
    write_audio(tmp_path / "Actor_02" / "03-02-03-01-01-01-02.wav")  # a song file: left out
    table = read_corpus("ravdess", tmp_path)
    assert list(table.columns) == list(COLUMN_NAMES)
    check_durations(table, tmp_path, durations)
    rows = by_utterance(table)
    angry = rows.loc["03-01-05-01-01-01-01"]
    assert [angry.label, angry.original_label, angry.speaker, angry.gender, angry.intensity, angry.text] == [
        "anger", "05", "01", "male", "normal", "01"]
    calm = rows.loc["03-01-02-02-01-01-02"]
    assert [calm.label, calm.gender, calm.intensity] == ["calm", "female", "strong"]
    assert rows.loc["03-01-08-02-02-01-02", "label"] == "surprise"
    assert select_classes(table, "ravdess8")["label"].tolist() == table["label"].tolist()


def test_ravdess_unknown_emotion_and_wrong_folder(tmp_path):
    write_audio(tmp_path / "Actor_03" / "03-01-09-01-01-01-03.wav")
    with pytest.raises(CorpusError, match=r"03-01-09-01-01-01-03\.wav.*unknown ravdess label code '09'"):
        read_corpus("ravdess", tmp_path)
    shutil.rmtree(tmp_path / "Actor_03")
    write_audio(tmp_path / "Actor_04" / "03-01-01-01-01-01-05.wav")
    with pytest.raises(CorpusError, match="does not match its folder Actor_04"):
        read_corpus("ravdess", tmp_path)


# -- CREMA-D ----------------------------------------------------------------------------

CREMAD = ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1001_IEO_HAP_HI.wav",
          "AudioWAV/1002_TIE_SAD_LO.wav", "AudioWAV/1091_WSI_NEU_MD.wav"]


def test_cremad_with_and_without_demographics(tmp_path):
    durations = tree(tmp_path, CREMAD)
    no_demographics = by_utterance(read_corpus("crema-d", tmp_path))
    assert no_demographics["gender"].isna().all()
    (tmp_path / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n"
        "1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n"
        "1091,29,Female,Asian,Not Hispanic\n"
    )
    table = read_corpus("cremad", tmp_path)
    check_durations(table, tmp_path, durations)
    rows = by_utterance(table)
    assert rows.loc["1001_DFA_ANG_XX", ["speaker", "gender", "text", "label", "intensity"]].tolist() == [
        "1001", "male", "DFA", "anger", "unspecified"]
    sad = rows.loc["1002_TIE_SAD_LO"]
    assert [sad.gender, sad.label, sad.intensity] == ["female", "sadness", "low"]
    assert rows.loc["1091_WSI_NEU_MD", "intensity"] == "medium"
    assert rows.loc["1001_IEO_HAP_HI", "label"] == "happiness"
    write_audio(tmp_path / "AudioWAV" / "1003_DFA_XYZ_XX.wav")
    with pytest.raises(CorpusError, match=r"1003_DFA_XYZ_XX\.wav.*'XYZ'"):
        read_corpus("cremad", tmp_path)


# -- TESS -------------------------------------------------------------------------------

TESS = [
    "OAF_angry/OAF_back_angry.wav",
    "OAF_Pleasant_surprise/OAF_back_ps.wav",
    "OAF_neutral/OA_bite_neutral.wav",  # the distributed copy's misspelt prefix
    "YAF_sad/YAF_dog_sad.wav",
    "YAF_fear/YAF_dog_fear.wav",
]


def test_tess(tmp_path):
    root = tmp_path / "TESS Toronto emotional speech set data"
    durations = tree(root, TESS)
    table = read_corpus("tess", tmp_path)
    check_durations(table, tmp_path, {f"{root.name}/{k}": v for k, v in durations.items()})
    rows = by_utterance(table)
    assert rows.loc["OAF_back_ps", ["label", "original_label", "speaker", "text"]].tolist() == [
        "pleasant_surprise", "ps", "OAF", "back"]
    assert rows.loc["OAF_bite_neutral", "speaker"] == "OAF"
    assert set(table["gender"]) == {"female"}
    assert corpus_summary(table)["labels"] == {"anger": 1, "fear": 1, "neutral": 1, "pleasant_surprise": 1,
                                               "sadness": 1}


# -- SAVEE ------------------------------------------------------------------------------

SAVEE = {"DC": ["a01", "sa02", "su15"], "JE": ["n30", "h03"], "KL": ["d07", "f11"]}


@pytest.mark.parametrize("layout", ["folders", "flat"])
def test_savee_both_layouts(tmp_path, layout):
    names = [f"AudioData/{s}/{c}.wav" if layout == "folders" else f"ALL/{s}_{c}.wav"
             for s, codes in SAVEE.items() for c in codes]
    durations = tree(tmp_path, names)
    table = read_corpus("savee", tmp_path)
    check_durations(table, tmp_path, durations)
    rows = by_utterance(table)
    assert set(rows.index) == {f"{s}_{c}" for s, codes in SAVEE.items() for c in codes}
    assert rows.loc["DC_sa02", ["speaker", "label", "original_label"]].tolist() == ["DC", "sadness", "sa"]
    assert rows.loc["DC_su15", "label"] == "surprise"
    assert rows.loc["KL_f11", "label"] == "fear"
    assert set(table["gender"]) == {"male"} and table["text"].isna().all()


def test_savee_unknown_code(tmp_path):
    write_audio(tmp_path / "DC_x01.wav")
    with pytest.raises(CorpusError, match=r"DC_x01\.wav.*unknown savee label code 'x'"):
        read_corpus("savee", tmp_path)


# -- EMOVO ------------------------------------------------------------------------------

EMOVO = ["f1/dis-f1-b1.wav", "f1/gio-f1-l3.wav", "m2/rab-m2-n5.wav", "m3/tri-m3-d2.wav", "m3/pau-m3-b1.wav"]


def test_emovo(tmp_path):
    durations = tree(tmp_path / "EMOVO", EMOVO)
    table = read_corpus("emovo", tmp_path / "EMOVO")
    check_durations(table, tmp_path / "EMOVO", durations)
    rows = by_utterance(table)
    disgust = rows.loc["dis-f1-b1"]
    assert [disgust.speaker, disgust.gender, disgust.text, disgust.label] == ["f1", "female", "b1", "disgust"]
    assert rows.loc["rab-m2-n5", ["gender", "label"]].tolist() == ["male", "anger"]
    assert rows.loc["gio-f1-l3", "label"] == "happiness"
    assert rows.loc["pau-m3-b1", "label"] == "fear"
    write_audio(tmp_path / "EMOVO" / "f2" / "neu-f3-b2.wav")
    with pytest.raises(CorpusError, match="does not match its folder f2"):
        read_corpus("emovo", tmp_path / "EMOVO")


# -- IEMOCAP ----------------------------------------------------------------------------


def iemocap_tree(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    root = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(FIXTURES / "iemocap", root)
    names = []
    for label_file in root.glob("Session*/dialog/EmoEvaluation/*.txt"):
        for utterance in re.findall(r"^\[[^\]]+\]\t(\S+)\t", label_file.read_text(), re.MULTILINE):
            names.append(f"{label_file.parts[-4]}/sentences/wav/{label_file.stem}/{utterance}.wav")
    return root, tree(root, sorted(names))


def test_iemocap(tmp_path, caplog):
    root, durations = iemocap_tree(tmp_path)
    write_audio(root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F099.wav")  # no label
    with caplog.at_level(logging.WARNING):
        table = read_corpus("iemocap", root)
    assert "1 wav files have no label" in caplog.text
    check_durations(table, root, durations)
    rows = by_utterance(table)
    male = rows.loc["Ses01F_impro01_M000"]
    assert [male.speaker, male.gender, male.session, male.text, male.elicitation] == [
        "Ses01M", "male", "Session1", "impro01", "improvised"]
    assert [male.label, male.original_label, male.valence, male.arousal, male.dominance] == [
        "frustration", "fru", 2.0, 3.5, 3.5]
    assert male.transcript == "Do you have your forms?"
    scripted = rows.loc["Ses01M_script01_1_F000"]
    assert [scripted.speaker, scripted.text, scripted.elicitation, scripted.label] == [
        "Ses01F", "script01_1", "scripted", "excitement"]
    assert rows.loc["Ses01F_impro01_M001", "label"] == "no_agreement"
    assert rows.loc["Ses02F_impro02_F000", ["session", "label"]].tolist() == ["Session2", "sadness"]
    assert rows.loc["Ses01M_script01_1_M001", "transcript"] is None  # no transcription file
    assert set(table["speaker"]) == {"Ses01F", "Ses01M", "Ses02F", "Ses02M"}

    four = select_classes(table, "4class")
    assert four["label"].value_counts().to_dict() == {"neutral": 3, "happiness": 2, "anger": 1, "sadness": 1}
    assert four.attrs["class_set"]["excluded"] == {"frustration": 1, "no_agreement": 1}


def test_iemocap_unknown_code_and_missing_wav(tmp_path):
    root, _ = iemocap_tree(tmp_path)
    missing = root / "Session2/sentences/wav/Ses02F_impro02/Ses02F_impro02_M000.wav"
    missing.unlink()
    with pytest.raises(AudioError, match=r"Ses02F_impro02_M000\.wav: file not found"):
        read_corpus("iemocap", root)
    table = read_corpus("iemocap", root, skip_bad=True)
    assert table.attrs["skipped"] == [{"path": str(missing), "reason": "file not found"}]
    assert "Ses02F_impro02_M000" not in set(table["utterance"])

    label_file = root / "Session2/dialog/EmoEvaluation/Ses02F_impro02.txt"
    label_file.write_text(label_file.read_text().replace("\tsad\t", "\tzzz\t"))
    with pytest.raises(CorpusError, match=r"Ses02F_impro02\.txt.*unknown iemocap label code 'zzz'"):
        read_corpus("iemocap", root, skip_bad=True)


# -- RECOLA (AVEC 2016) -------------------------------------------------------------------


def arff_values(path: Path) -> np.ndarray:
    rows = path.read_text().split("@data", 1)[1].split()
    return np.array([float(r.split(",")[2]) for r in rows])


def test_recola(tmp_path):
    root = tmp_path / "AVEC_2016"
    shutil.copytree(FIXTURES / "recola", root)
    durations = tree(root, [f"recordings_audio/{n}.wav" for n in ("train_1", "dev_1", "test_1")], seconds=1.0)
    table = read_corpus("recola", root)
    check_durations(table, root, durations)
    rows = by_utterance(table)
    assert rows["partition"].to_dict() == {"dev_1": "dev", "test_1": "test", "train_1": "train"}
    assert table["label"].isna().all() and set(table["elicitation"]) == {"spontaneous"}
    for name in ("train_1", "dev_1"):
        for dimension in ("arousal", "valence"):
            values = arff_values(root / "ratings_gold_standard" / dimension / f"{name}.arff")
            assert rows.loc[name, dimension] == pytest.approx(values.mean())
    assert np.isnan(rows.loc["test_1", "arousal"]) and rows.loc["test_1", "arousal_trace"] is None

    trace = traces(rows.loc["train_1"])["valence"]
    np.testing.assert_allclose(trace.times, np.arange(25) * 0.04)
    np.testing.assert_allclose(trace.values, arff_values(root / "ratings_gold_standard/valence/train_1.arff"))
    assert traces(rows.loc["test_1"]) == {}
    assert corpus_summary(table)["partitions"] == {"dev": 1, "test": 1, "train": 1}


def test_recola_trace_errors(tmp_path):
    root = tmp_path / "AVEC_2016"
    shutil.copytree(FIXTURES / "recola", root)
    tree(root, ["recordings_audio/train_1.wav", "recordings_audio/train_2.wav"])
    with pytest.raises(CorpusError, match=r"arousal/train_2\.arff: missing"):
        read_corpus("recola", root)
    wrong = root / "ratings_gold_standard/arousal/dev_1.arff"
    wrong.write_text(wrong.read_text().replace("'dev_1',0.40", "'dev_2',0.40"))
    with pytest.raises(CorpusError, match=r"dev_1\.arff: rows name \['dev_1', 'dev_2'\]"):
        read_trace(wrong)


# -- LibriSpeech ------------------------------------------------------------------------


def test_librispeech_tree(tmp_path):
    root = tmp_path / "LibriSpeech"
    chapters = {("19", "198"): 3, ("26", "495"): 2}
    (root).mkdir()
    (root / "SPEAKERS.TXT").write_text(
        "; Some pipe(|) separated metadata about all LibriVox readers\n"
        ";ID  |SEX| SUBSET           |MINUTES| NAME\n"
        "19   | F | train-clean-100  | 25.19 | Kara Shallenberg\n"
        "26   | M | train-clean-100  | 25.08 | Denny Sayers\n"
        "60   | M | train-clean-100  | 20.18 | |CBW|Simon\n"
    )
    durations = {}
    for (speaker, chapter), count in chapters.items():
        folder = root / "train-clean-100" / speaker / chapter
        lines = []
        for i in range(count):
            name = f"{speaker}-{chapter}-{i:04d}"
            durations[f"train-clean-100/{speaker}/{chapter}/{name}.flac"] = write_audio(
                folder / f"{name}.flac", 0.2 + 0.1 * i)
            lines.append(f"{name} WORDS OF UTTERANCE {i}")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    table = read_corpus("librispeech", root)
    check_durations(table, root, durations)
    rows = by_utterance(table)
    assert rows.loc["19-198-0002", ["speaker", "gender", "session", "transcript", "partition"]].tolist() == [
        "19", "female", "198", "WORDS OF UTTERANCE 2", "train-clean-100"]
    assert rows.loc["26-495-0000", "gender"] == "male"
    assert table["label"].isna().all()
    # a subset folder as root finds SPEAKERS.TXT one level up
    assert len(read_corpus("librispeech", root / "train-clean-100")) == 5

    (root / "train-clean-100/26/495/26-495.trans.txt").write_text("26-495-0000 ONLY ONE\n")
    with pytest.raises(CorpusError, match=r"26-495-0001\.flac: no line"):
        read_corpus("librispeech", root)


def test_librispeech_mini_counts_its_own_files(librispeech_root):
    table = read_corpus("librispeech", librispeech_root)
    flacs = list(librispeech_root.glob("*/*/*/*.flac"))
    lines = [line for t in librispeech_root.glob("*/*/*/*.trans.txt") for line in t.read_text().splitlines()]
    assert len(table) == len(flacs) == len(lines)
    assert table["speaker"].nunique() == len({f.parent.parent.name for f in flacs})
    assert table["gender"].notna().all()
    assert (table["transcript"].str.len() > 0).all()


# -- TIMIT ------------------------------------------------------------------------------


def test_timit(tmp_path):
    root = tmp_path / "TIMIT"
    shutil.copytree(FIXTURES / "timit", root)
    durations = {}
    for txt in root.glob("*/*/*/*.TXT"):
        samples = int(txt.read_text().split()[1])
        wav = txt.with_suffix(".WAV")
        write_audio(wav, samples / RATE, format="NIST", subtype="PCM_16")
        durations[str(wav.relative_to(root))] = samples / RATE
    # some copies hold RIFF conversions beside the SPHERE files: not read twice
    write_audio(root / "TRAIN/DR1/FCJF0/SA1.WAV.wav", 0.5)
    table = read_corpus("timit", root)
    check_durations(table, root, durations)
    rows = by_utterance(table)
    sa1 = rows.loc["FCJF0_SA1"]
    assert [sa1.speaker, sa1.gender, sa1.text, sa1.partition, sa1.elicitation] == [
        "FCJF0", "female", "SA1", "train", "read"]
    assert sa1.transcript == "She had your dark suit in greasy wash water all year."
    assert rows.loc["MDAB0_SA2", ["gender", "partition"]].tolist() == ["male", "test"]
    assert table.groupby("text")["speaker"].nunique().to_dict() == {"SA1": 1, "SA2": 2}

    phones = read_alignment(sa1.alignment)
    assert (phones.starts[0], phones.ends[0], phones.labels[0]) == (0.0, 3050 / RATE, "h#")
    assert phones.labels[1:4] == ("sh", "ix", "hv")
    assert phones.ends[-1] == pytest.approx(sa1.duration)
    words = read_alignment(Path(sa1.alignment).with_suffix(".WRD"))
    assert words.labels[:3] == ("she", "had", "your")


# -- lablaut ----------------------------------------------------------------------------


def test_lablaut_fixture_and_its_quirks(tmp_path):
    verbatim = read_alignment(FIXTURES / "emodb" / "lablaut" / "03a01Faxx.lablaut")
    assert verbatim.labels[:3] == ("_t", "!t", "E6")
    assert (verbatim.starts[1], verbatim.ends[1], verbatim.marks[1]) == (0.119160, 0.144370, "+asp")
    assert np.all(verbatim.starts[1:] == verbatim.ends[:-1]) and verbatim.starts[0] == 0.080109
    assert verbatim.starts[-1] == verbatim.ends[-1]  # the last label marks where speech ends
    quirks = tmp_path / "x.lablaut"
    quirks.write_bytes(
        b"signal x\ntype 0\n#\n"
        b"    0.1   -1 a\t\t2\n"      # phone, empty mark field, stress digit
        b"    0.2   -1 \t-lar\n"      # no phone: a mark only
        b"    0.3   -1\t-tie\n"       # tab separator, mark only
        b"    0.4   -1 s +sth\n"      # space where a tab belongs
        b"    0.5   -1 6\n"           # the phone 6 (vocalised r), not a stress digit
        b"    0.6   -1 \xe4\n"        # Latin-1
    )
    q = read_alignment(quirks)
    assert q.labels == ("a", "", "", "s", "6", "\u00e4")
    assert q.marks == ("2", "-lar", "-tie", "+sth", "", "")
    bad = tmp_path / "bad.lablaut"
    bad.write_text("#\n 0.1 x y\n")
    with pytest.raises(CorpusError, match=r"bad\.lablaut, line 2"):
        read_alignment(bad)


# -- manifest ---------------------------------------------------------------------------


def test_manifest_csv_resolves_paths_and_maps_labels(tmp_path):
    durations = tree(tmp_path / "data", ["wav/a.wav", "wav/b.flac", "other/c.wav"])
    (tmp_path / "data" / "mine.csv").write_text(
        "path,speaker,label,gender,valence,text\n"
        "wav/a.wav,s1,W,female,0.5,t1\n"
        f"{tmp_path / 'data' / 'wav' / 'b.flac'},s1,N,,,t2\n"
        "other/c.wav,s2,,male,-1,t1\n"
    )
    table = read_corpus("manifest", tmp_path / "data" / "mine.csv", label_map="emodb")
    check_durations(table, tmp_path / "data", durations)
    rows = by_utterance(table)
    assert set(table["corpus"]) == {"mine"}
    assert rows.loc["wav/a", ["label", "original_label", "gender", "valence"]].tolist() == [
        "anger", "W", "female", 0.5]
    assert rows.loc["wav/b", "label"] == "neutral" and rows.loc["wav/b", "gender"] is None
    assert np.isnan(rows.loc["wav/b", "valence"]) and rows.loc["other/c", "label"] is None

    with pytest.raises(CorpusError, match=r"mine\.csv, line 2: unknown label code 'W'"):
        read_corpus("manifest", tmp_path / "data" / "mine.csv", label_map={"N": "neutral"})
    with pytest.raises(CorpusError, match=r"line 2: unknown label \(not a canonical name"):
        read_corpus("manifest", tmp_path / "data" / "mine.csv")


def test_manifest_tsv_in_a_folder_with_canonical_labels(tmp_path):
    durations = tree(tmp_path, ["x/1.wav", "x/2.wav"])
    (tmp_path / "manifest.tsv").write_text(
        "path\tspeaker\tlabel\tutterance\tsession\n"
        "x/1.wav\tA\tanger\tone\tS1\n"
        "x/2.wav\tB\texcitement\ttwo\tS2\n"
    )
    table = read_corpus("manifest", tmp_path, corpus="toy")
    check_durations(table, tmp_path, durations)
    assert set(table["corpus"]) == {"toy"}
    assert table["utterance"].tolist() == ["one", "two"]
    assert select_classes(table, "4class")["label"].tolist() == ["anger", "happiness"]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("path,label\nx.wav,anger\n", "missing column\\(s\\) speaker"),
        ("path,speaker,mood\nx.wav,s,happy\n", "unknown column\\(s\\) mood"),
        ("path,speaker,duration\nx.wav,s,1.0\n", "unknown column\\(s\\) duration"),
        ("path,speaker\nx.wav,\n", "line 2: empty speaker"),
        ("path,speaker,arousal\nx.wav,s,high\n", "line 2: arousal 'high' is not a number"),
        ("path,speaker\nx.wav,s,extra\n", "line 2: the row's field count"),
    ],
)
def test_manifest_errors(tmp_path, text, reason):
    write_audio(tmp_path / "x.wav")
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(CorpusError, match=reason):
        read_corpus("manifest", tmp_path / "m.csv")
