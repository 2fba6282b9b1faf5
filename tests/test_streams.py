"""The semi-synthetic continuous test bed: `serkit streams` and the RECOLA reader's speaker map."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from serkit.cli.main import app
from serkit.corpora import make_table, read_corpus, traces
from serkit.corpora.annotator import Annotator, annotator_trace
from serkit.corpora.dimensions import emotion_place
from serkit.corpora.recola import FRAME, SPEAKER_MAP
from serkit.corpora.stream_audio import speech_span
from serkit.corpora.streams import MANIFEST, StreamSettings, emotion_order, make_streams, plan_speaker
from serkit.errors import ConfigError, CorpusError, LeakageError
from serkit.protocols.fold import build_fold
from serkit.protocols.guard import check_fold

RATE = 16_000
LABELS = ("anger", "sadness", "neutral", "happiness", "boredom")
#: Short recordings, so that each fixture speaker makes two of them.
SMALL = StreamSettings(minutes=(0.2, 0.5))
NONE = np.array([], dtype=np.int64)


def buzz(seconds: float, f0: float, rng: np.random.Generator) -> np.ndarray:
    """A voiced-like sound (harmonics of ``f0`` under a syllable-rate envelope) between short silences."""
    t = np.arange(int(seconds * RATE)) / RATE
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    sound = 0.2 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.002 * rng.standard_normal(len(t))
    quiet = 0.002 * rng.standard_normal(int(0.3 * RATE))
    return np.concatenate([quiet, sound, quiet]).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pd.DataFrame:
    """A categorical corpus table of three speakers, twelve utterances each (any reader's table)."""
    root = tmp_path_factory.mktemp("fixture")
    rng = np.random.default_rng(1)
    records = []
    for speaker, gender, f0 in (("A", "female", 210.0), ("B", "male", 110.0), ("C", "female", 190.0)):
        for i in range(12):
            path = root / f"{speaker}_{i:02d}.wav"
            sf.write(path, buzz(1.2 + 0.1 * (i % 5), f0, rng), RATE, subtype="PCM_16")
            label = LABELS[i % len(LABELS)]
            records.append({"path": str(path), "corpus": "fixture", "utterance": path.stem, "speaker": speaker,
                            "gender": gender, "elicitation": "acted", "label": label, "original_label": label,
                            "duration": sf.info(path).duration})
    return make_table(records, attrs={"root": str(root)})


@pytest.fixture(scope="module")
def bed(corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bed") / "streams"
    return out, make_streams(corpus, out, seed=3, settings=SMALL)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_ones(corpus, bed, tmp_path):
    root, _ = bed
    make_streams(corpus, tmp_path / "again", seed=3, settings=SMALL)
    make_streams(corpus, tmp_path / "other", seed=4, settings=SMALL)
    assert files(tmp_path / "again") == files(root)
    other = files(tmp_path / "other")
    assert other["recordings_audio/train_1.wav"] != files(root)["recordings_audio/train_1.wav"]


def test_the_recola_reader_reads_the_layout_with_speakers_from_the_map(bed):
    root, manifest = bed
    table = read_corpus("recola", root).set_index("utterance")
    recordings = {r["recording"]: r for r in manifest["recordings"]}
    assert set(table.index) == set(recordings) and (root / SPEAKER_MAP).is_file()
    for name, row in table.iterrows():
        assert row["speaker"] == f"fixture_{recordings[name]['source_speaker']}"
        assert row["gender"] == recordings[name]["gender"] and row["elicitation"] == "acted"
        for trace in traces(row).values():
            np.testing.assert_allclose(trace.times, np.arange(len(trace.values)) * FRAME, atol=1e-9)
            assert len(trace.values) * FRAME == pytest.approx(row["duration"])
    # the recording names carry the speaker split: one partition per speaker, three speakers, three parts
    assert (table.groupby("speaker")["partition"].nunique() == 1).all()
    assert set(table["partition"]) == {"train", "dev", "test"}
    assert manifest["kind"] == "semi-synthetic" and manifest["seed"] == 3


def test_each_recording_is_one_speaker_within_the_asked_minutes_each_utterance_once(corpus, bed):
    _, manifest = bed
    speaker_of = dict(zip(corpus["utterance"], corpus["speaker"], strict=True))
    used = [u["utterance"] for r in manifest["recordings"] for u in r["utterances"]]
    assert len(used) == len(set(used)) and len(used) + manifest["totals"]["unused"] == len(corpus)
    lo, hi = SMALL.minutes
    for recording in manifest["recordings"]:
        assert {speaker_of[u["utterance"]] for u in recording["utterances"]} == {recording["source_speaker"]}
        assert lo * 60 <= recording["duration"] <= hi * 60
        starts = [u["start"] for u in recording["utterances"]]
        ends = [u["end"] for u in recording["utterances"]]
        gaps = np.array(starts[1:]) - np.array(ends[:-1])
        assert (gaps >= SMALL.pause_limits[0] - 1e-9).all() and (gaps <= SMALL.pause_limits[1] + 1e-9).all()
        labels = [u["label"] for u in recording["utterances"]]
        assert all(a != b for a, b in zip(labels, labels[1:], strict=False))


def test_generated_traces_are_bounded_smooth_and_mostly_under_one_hertz(bed):
    root, manifest = bed
    for row in read_corpus("recola", root).to_dict("records"):
        for dimension, trace in traces(row).items():
            v = trace.values
            places = [emotion_place(label).__getattribute__(dimension) for label in LABELS]
            assert min(places) - 1e-6 <= v.min() and v.max() <= max(places) + 1e-6
            alpha = 1 - np.exp(-FRAME / SMALL.annotator.smoothing)
            assert np.abs(np.diff(v)).max() <= alpha * (max(places) - min(places)) + 1e-6
            power = np.abs(np.fft.rfft(v - v.mean())) ** 2
            assert power[np.fft.rfftfreq(len(v), FRAME) < 1.0].sum() > 0.95 * power.sum()  # seed 004: RECOLA's


def test_the_annotator_reacts_late_and_smoothly():
    annotator = Annotator(lag=2.0, smoothing=1.0, pause_decay=2.0)
    neutral, n = -0.5, 1000
    segments = [(1.0, 9.0, 0.8), (9.0, 19.0, -0.2)]  # back to back: no pause between them
    trace = annotator_trace(segments, n, neutral, annotator)
    frame = lambda t: round(t / FRAME)  # noqa: E731
    # nothing happens before the first onset + lag, and the rise starts there
    assert np.array_equal(trace[: frame(3.0)], np.full(frame(3.0), neutral)) and trace[frame(3.0)] > neutral
    # one time constant after onset + lag: 1 - 1/e of the way, within a frame's step
    moved = (trace[frame(3.0 + 1.0)] - neutral) / (0.8 - neutral)
    assert moved == pytest.approx(1 - np.exp(-1), abs=0.03)
    # at the next onset + lag the trace lies between the two neighbours' places, near the first
    assert 0.75 < trace[frame(11.0)] < 0.8
    # a later place changes nothing before its onset + lag, and everything from there on
    changed = annotator_trace([segments[0], (9.0, 19.0, 0.5)], n, neutral, annotator)
    assert np.array_equal(changed[: frame(11.0)], trace[: frame(11.0)])
    assert (changed[frame(11.0):] != trace[frame(11.0):]).all()
    # after the last utterance, the rated signal drifts toward neutral
    assert abs(trace[-1] - neutral) < abs(trace[frame(21.0)] - neutral)
    assert trace[-1] == pytest.approx(neutral + (-0.2 - neutral) * np.exp(-(n * FRAME - 21) / 2.0), abs=0.02)


def test_emotion_order_changes_the_emotion_wherever_the_counts_allow():
    rng = np.random.default_rng(0)
    emodb_like = ["anger"] * 13 + ["boredom"] * 8 + ["neutral"] * 8 + ["sadness"] * 6 + ["fear"] * 7
    dominant = ["anger"] * 7 + ["sadness"] * 2
    for labels in (emodb_like, dominant):
        order = emotion_order(labels, rng)
        assert sorted(order) == list(range(len(labels)))
        ordered = [labels[i] for i in order]
        repeats = sum(a == b for a, b in zip(ordered, ordered[1:], strict=False))
        most = max(labels.count(x) for x in set(labels))
        assert repeats == max(0, 2 * most - len(labels) - 1)  # the fewest any order can have


def test_every_planned_recording_is_within_the_minutes_and_a_whole_number_of_frames():
    rng = np.random.default_rng(0)
    settings = StreamSettings(minutes=(1.0, 2.5))
    for n in range(15, 150, 3):  # about 0.8 to 7 minutes of speech and pauses
        rows = pd.DataFrame({"label": rng.choice(LABELS, n)}, index=np.arange(100, 100 + n))
        spans = {row: (0, int(rng.uniform(1.0, 5.0) * RATE)) for row in rows.index}
        recordings, left_out = plan_speaker(rows, spans, settings, rng)
        placed = [p.row for recording, _ in recordings for p in recording]
        assert sorted(placed + left_out) == list(rows.index)
        for recording, length in recordings:
            assert 60 * RATE <= length <= 150 * RATE and length % round(FRAME * RATE) == 0
            assert recording[-1].end < length and all(a.end < b.start for a, b in zip(recording, recording[1:]))


def test_speech_span_keeps_the_speech_and_a_margin():
    flags = np.zeros(100, dtype=bool)
    flags[20:60] = True
    assert speech_span(flags, 100 * 160, margin=0.05) == (20 * 160 - 800, 60 * 160 + 800)
    assert speech_span(np.zeros(10, dtype=bool), 1600, margin=0.1) == (0, 1600)


def test_settings_refuse_what_cannot_be_made():
    with pytest.raises(ConfigError, match="minutes 5..1"):
        StreamSettings(minutes=(5.0, 1.0))
    with pytest.raises(ConfigError, match="lag"):
        Annotator(lag=-1.0)


def test_a_speaker_too_short_for_a_recording_is_reported(corpus, tmp_path):
    with pytest.raises(CorpusError, match="no speaker has 5 minutes"):
        make_streams(corpus, tmp_path / "long", settings=StreamSettings(minutes=(5.0, 6.0)))


def test_the_guard_refuses_one_speakers_recordings_on_two_sides(bed, tmp_path):
    root, manifest = bed
    table = read_corpus("recola", root)
    speaker = table["speaker"].value_counts().index[0]
    first, second = np.flatnonzero(table["speaker"] == speaker)[:2]
    fold = build_fold(table, protocol="by-hand", index=0, name="split speaker", speaker_dependent=False,
                      validation_strategy="none", grouped_by=("speaker",), train=np.array([first]),
                      validation=NONE, test=np.array([second]), dropped=NONE, seed=0)
    with pytest.raises(LeakageError, match=f"speaker '{speaker}' is in the training and test parts"):
        check_fold(table, fold)
    # without the map each recording is a speaker of its own, and the same split would pass
    copy = tmp_path / "unmapped"
    for name, data in files(root).items():
        if name != SPEAKER_MAP:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(data)
    unmapped = read_corpus("recola", copy)
    assert unmapped["speaker"].tolist() == unmapped["utterance"].tolist()
    check_fold(unmapped, build_fold(unmapped, protocol="by-hand", index=0, name="split speaker",
                                    speaker_dependent=False, validation_strategy="none", grouped_by=("speaker",),
                                    train=np.array([first]), validation=NONE, test=np.array([second]),
                                    dropped=NONE, seed=0))


def test_a_speaker_map_must_name_every_recording_once(bed, tmp_path):
    root, _ = bed
    copy = tmp_path / "copy"
    for name, data in files(root).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    lines = (copy / SPEAKER_MAP).read_text().splitlines()
    (copy / SPEAKER_MAP).write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(CorpusError, match=r"speakers\.csv: does not map"):
        read_corpus("recola", copy)
    (copy / SPEAKER_MAP).write_text("\n".join([lines[0], *lines[1:], lines[1]]) + "\n")
    with pytest.raises(CorpusError, match="mapped twice"):
        read_corpus("recola", copy)
    (copy / SPEAKER_MAP).write_text("recording,who\n")
    with pytest.raises(CorpusError, match="columns"):
        read_corpus("recola", copy)


def test_streams_command_on_emodb_speakers(emodb_root, tmp_path):
    from conftest import emodb_subset

    source = emodb_subset(emodb_root, tmp_path, ("03", "08", "09"))
    out = tmp_path / "bed"
    result = CliRunner().invoke(app, ["streams", "--corpus", "emodb", "--root", str(source), "--out", str(out),
                                      "--seed", "0", "--classes", "4class"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["corpus"] == "emodb" and manifest["classes"] == "4class"
    table = read_corpus("recola", out)
    assert set(table["speaker"]) == {"emodb_03", "emodb_08", "emodb_09"}
    assert table["duration"].between(60, 300).all()
    for recording in manifest["recordings"]:
        for utterance in recording["utterances"]:
            name = utterance["utterance"]
            assert name[:2] == recording["source_speaker"]
            code = {"W": "anger", "F": "happiness", "N": "neutral", "T": "sadness"}[name[5]]
            assert utterance["label"] == code and utterance["path"] == f"wav/{name}.wav"
    assert manifest["totals"]["minutes"] == pytest.approx(table["duration"].sum() / 60, abs=1e-3)


def test_a_bed_of_several_corpora_splits_each_corpus_and_names_speakers_by_corpus(corpus, tmp_path):
    """Two corpora in one table (speakers prefixed as serkit.corpora.multi prefixes them): every
    corpus has speakers in every part, the speaker map names them <corpus>_<speaker>, and the
    reader's speakers are those."""
    from serkit.corpora.multi import combine_tables

    import shutil

    copies = tmp_path / "other"
    shutil.copytree(corpus.attrs["root"], copies)
    other = make_table([{**row, "corpus": "other", "path": str(copies / Path(row["path"]).name)}
                        for row in corpus.to_dict("records")], attrs={"root": str(copies)})
    both = combine_tables([corpus, other])
    manifest = make_streams(both, tmp_path / "bed", seed=3, settings=SMALL)
    assert manifest["corpus"] == "fixture,other"
    for part in ("train", "dev", "test"):
        assert {s.split(":")[0] for s in manifest["split"][part]} == {"fixture", "other"}
    table = read_corpus("recola", tmp_path / "bed")
    assert set(table["speaker"]) == {f"{c}_{s}" for c in ("fixture", "other") for s in "ABC"}
    assert {r["utterances"][0]["path"].split("_")[0] for r in manifest["recordings"]} <= {"A", "B", "C"}


def test_a_frame_regression_learns_each_frame_from_the_traces(bed, tmp_path):
    """A per-frame regression on a RECOLA-layout bed: targets are the traces sampled on the
    feature's 40 ms frames (not the recording's mean), scored frame by frame, with the
    development figures recorded."""
    from serkit.experiments import Recipe, run_cv
    from serkit.experiments.trace_targets import trace_frames
    from serkit.features.base import FrameGrid

    root, _ = bed
    recipe = Recipe(root=str(root), corpus="recola", protocol="predefined", validation="predefined",
                    features="fbank-seed004", model="dilated", model_options={"depth": 2, "width": 4},
                    task="regression", targets=("arousal", "valence")).override(epochs=2)
    run_cv(recipe, tmp_path / "run", workers=1, threads=1)
    fold = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    for truth, predicted, path in zip(fold["y_true"], fold["y_pred"], fold["ids"]):
        truth = np.asarray(truth)
        assert truth.shape == np.asarray(predicted).shape and truth.shape[1] == 2
        assert truth[:, 0].std() > 0.01  # a trace moves; a recording's mean would not
        row = read_corpus("recola", root).set_index("path").loc[path]
        trace = traces(row)["arousal"]
        np.testing.assert_allclose(truth[: len(trace.values), 0], trace.values[: len(truth)], atol=1e-3)
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {"ccc_arousal", "rmse_valence"} <= set(summary["folds"][0]["validation_figures"])
    grid = FrameGrid(16_000, 640)
    arff = next((root / "ratings_gold_standard" / "arousal").glob("*.arff"))
    held = trace_frames(SimpleNamespace(path="x", arousal_trace=str(arff)), ["arousal"], grid, 100_000)
    assert np.all(held[-10:] == held[-1])  # past the trace's end, its last value holds
