"""A continuous model (arousal and valence per frame of a long recording) as a product: ``serkit
predict`` with its trace in JSON, ``--traces`` CSVs and ``--plot`` PNGs, ``--adapt`` by each
recording's own statistics, the REST service and its page, and ONNX export at any length.

The models are tiny seed 004 networks trained here, once, on a test bed ``serkit streams`` makes
from three EMO-DB speakers (recordings of about half a minute): a few seconds each.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from conftest import emodb_subset
from matplotlib.image import imread
from test_serving_api import library_answer, running_server, upload
from test_serving_page import CHROMIUM, DevTools, open_page_and_upload
from typer.testing import CliRunner

from serkit.cli.inference import register
from serkit.corpora import read_corpus
from serkit.corpora.registry import corpus_licence
from serkit.corpora.streams import StreamSettings, make_streams
from serkit.errors import SerkitError
from serkit.experiments.recipe import Recipe
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache
from serkit.features.normalise import Normalisation
from serkit.inference import load_model
from serkit.inference.adapt import MIN_RECORDING_SECONDS, RecordingAdaptingPredictor, adapting
from serkit.inference.frames import FramePredictor
from serkit.inference.onnx import OnnxBackend
from serkit.inference.traces import trace_figure, trace_names

SPEAKERS = ("03", "08", "09")
TARGETS = ("arousal", "valence")
#: Seed 004's 40 ms frames: four stacked 10 ms filterbank frames.
HOP, FRAME_RATE = 640, 25.0
#: The down/up network's whole factor (4 layers pooling by 3).
UPDOWN_FACTOR = 81
MODELS = {
    "dilated": ("dilated", {"depth": 3, "width": 8}, "global"),
    "updown": ("updown", {"depth": 4, "width": 8}, "global"),
    "per-speaker": ("dilated", {"depth": 3, "width": 8}, "per-speaker"),
}


@pytest.fixture(scope="module")
def bed(emodb_root, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("continuous")
    table = read_corpus("emodb", emodb_subset(emodb_root, base, SPEAKERS))
    make_streams(table, base / "bed", seed=0, settings=StreamSettings(minutes=(0.3, 0.6)))
    return base / "bed"


@pytest.fixture(scope="module")
def models(bed, tmp_path_factory) -> dict[str, Path]:
    """Each of MODELS trained for three epochs on the test bed's training speakers."""
    base = tmp_path_factory.mktemp("continuous-models")
    cache = FeatureCache(base / "cache")
    for name, (model, options, normalisation) in MODELS.items():
        recipe = Recipe(corpus="recola", root=str(bed), protocol="predefined", validation="predefined",
                        features="fbank-seed004", normalisation=normalisation, model=model, model_options=options,
                        task="regression", targets=TARGETS).override(epochs=3)
        train_model(recipe, base / name, workers=1, threads=1, cache=cache)
    return {name: base / name for name in MODELS}


@pytest.fixture(scope="module")
def recordings(bed) -> list[Path]:
    """The test speakers' recordings, longest first."""
    return sorted((bed / "recordings_audio").glob("test_*.wav"), key=lambda p: -sf.info(p).frames)


def frames(path: Path) -> int:
    return 1 + sf.info(path).frames // HOP


def predict(*args: str | Path):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["predict", *map(str, args)])


def cropped(path: Path, n_frames: int, out: Path) -> Path:
    """The first samples of ``path`` that make ``n_frames`` frames."""
    signal, rate = sf.read(path, dtype="float32")
    sf.write(out, signal[: (n_frames - 1) * HOP + HOP // 2], rate, subtype="FLOAT")
    assert frames(out) == n_frames
    return out


# -- serkit predict: JSON, --traces, --plot ----------------------------------------------------


def test_json_carries_each_files_trace_with_its_frame_rate(models, recordings):
    result = predict("--model", models["dilated"], "--format", "json", *recordings[:2])
    assert result.exit_code == 0, result.output
    for element, path in zip(json.loads(result.stdout), recordings[:2], strict=True):
        assert element["frame_rate"] == FRAME_RATE and list(element["trace"]) == list(TARGETS)
        assert [len(values) for values in element["trace"].values()] == [frames(path)] * 2
        assert element["values"]["valence"] == pytest.approx(np.mean(element["trace"]["valence"]), abs=1e-3)


def test_traces_and_plot_write_a_csv_and_a_png_per_file(models, recordings, tmp_path):
    result = predict("--model", models["dilated"], "--format", "json", "--traces", tmp_path / "csv",
                     "--plot", tmp_path / "png", *recordings[:2])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())  # the console wraps its lines
    assert "--traces: wrote 2 CSV file(s)" in said and "--plot: wrote 2 PNG file(s)" in said
    for element, path in zip(json.loads(result.stdout), recordings[:2], strict=True):
        rows = list(csv.reader((tmp_path / "csv" / f"{path.stem}.csv").open()))
        assert rows[0] == ["time", *TARGETS]
        table = np.array(rows[1:], dtype=float)
        assert len(table) == frames(path)
        np.testing.assert_allclose(table[:, 0], np.arange(len(table)) / FRAME_RATE, atol=5e-4)  # frame centres
        for column, name in enumerate(TARGETS, 1):
            np.testing.assert_allclose(table[:, column], element["trace"][name], atol=1e-4)
        assert imread(tmp_path / "png" / f"{path.stem}.png").shape[:2] == (320, 1000)


def test_the_plot_draws_each_target_against_seconds_on_minus_one_to_one(models, recordings):
    prediction = load_model(models["dilated"]).predict_file(recordings[0])
    axes = trace_figure(prediction).axes[0]
    assert axes.get_ylim() == (-1.0, 1.0) and axes.get_xlabel() == "time (s)"
    assert axes.get_xlim() == pytest.approx((0.0, prediction.duration))
    lines = {line.get_label(): line for line in axes.get_lines() if not line.get_label().startswith("_")}
    assert list(lines) == list(TARGETS)
    for name, line in lines.items():
        np.testing.assert_allclose(line.get_xdata(), np.arange(frames(recordings[0])) / FRAME_RATE)
        np.testing.assert_allclose(line.get_ydata(), prediction.trace[name])


def test_trace_files_are_named_by_recording_and_twins_by_their_folders():
    paths = ["/calls/a/talk.wav", "/calls/b/talk.wav", "/calls/a/call.flac", "/calls/a/talk.wav"]
    assert trace_names(paths) == ["a_talk.wav", "b_talk.wav", "call", "a_talk.wav"]


@pytest.mark.parametrize("option", ["--traces", "--plot"])
def test_trace_options_are_refused_for_a_model_without_traces(option, recordings, tmp_path):
    result = predict("--model", "default", option, tmp_path / "out", recordings[0])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"{option}:" in said and "gives no trace" in said and "continuous model" in said
    assert not (tmp_path / "out").exists()


# -- --adapt: each recording by its own statistics -------------------------------------------------


def test_adapt_standardises_each_recording_by_its_own_statistics(models, recordings, tmp_path):
    plain = load_model(models["dilated"], backend="torch")
    adapted = adapting(plain)
    assert isinstance(adapted, RecordingAdaptingPredictor)
    path = recordings[0]
    got = adapted.predict_file(path)
    features = plain.spec.feature.process_file(path)
    own = (features - features.mean(axis=1, keepdims=True)) / features.std(axis=1, keepdims=True)
    expected = plain.backend.logits(own[None].astype(np.float32), np.array([own.shape[1]]))[0]
    for d, name in enumerate(TARGETS):
        np.testing.assert_allclose(got.trace[name], expected[:, d], atol=1e-4)
    assert got.to_dict()["adaptation"] == {"label_free": True, "per": "recording", "files": 1,
                                           "seconds": round(sf.info(path).duration, 1)}
    # a gain shifts every log filterbank band by a constant, which the recording's own statistics take out
    signal, rate = sf.read(path, dtype="float32")
    quieter = tmp_path / "quieter.wav"
    sf.write(quieter, 0.25 * signal, rate, subtype="FLOAT")

    def moved(predictor) -> float:
        one, other = predictor.predict_file(path).trace, predictor.predict_file(quieter).trace
        return max(np.mean(np.abs(np.subtract(one[name], other[name]))) for name in TARGETS)

    assert moved(adapted) < moved(plain) / 10


def test_the_command_marks_adaptation_and_fails_a_short_recording_alone(models, recordings, tmp_path):
    short = cropped(recordings[0], int(0.6 * MIN_RECORDING_SECONDS * FRAME_RATE), tmp_path / "short.wav")
    result = predict("--model", models["dilated"], "--adapt", "--format", "json", recordings[0], short)
    assert result.exit_code == 1
    done, failed = json.loads(result.stdout)
    assert done["adaptation"]["per"] == "recording" and list(done["trace"]) == list(TARGETS)
    assert failed["error"] == f"{short}: too short for --adapt: 6.0 s; standardising a recording by its own " \
                              f"statistics needs at least {MIN_RECORDING_SECONDS:g} s"
    said = " ".join(result.stderr.split())  # the console wraps its lines
    assert "each recording's features standardised by its own statistics (1 file(s)" in said
    rows = list(csv.DictReader(io.StringIO(
        predict("--model", models["dilated"], "--adapt", "--format", "csv", recordings[0], short).stdout)))
    assert rows[0]["adaptation"] == f"label-free: own statistics, {round(sf.info(recordings[0]).duration, 1):g} s"
    assert rows[1]["error"] == failed["error"]


def test_a_model_trained_with_speaker_normalisation_predicts_only_by_each_recordings_own_statistics(
        models, recordings):
    model = load_model(models["per-speaker"])
    assert model.spec.normalisation == Normalisation.PER_SPEAKER
    (refused,) = model.predict_files(recordings[:1])
    assert "normalised per speaker: predict with --adapt" in refused.error
    adapted = adapting(model).predict_file(recordings[0])
    assert len(adapted.trace["arousal"]) == frames(recordings[0]) and adapted.adaptation["per"] == "recording"


@pytest.mark.parametrize("normalisation", [Normalisation.NONE, Normalisation.UTTERANCE])
def test_adapt_is_refused_for_a_continuous_model_with_no_statistics_to_replace(normalisation, models):
    plain = load_model(models["dilated"], backend="torch")
    spec = dataclasses.replace(plain.spec, normalisation=normalisation, normaliser=None)
    with pytest.raises(SerkitError, match="no statistics to adapt"):
        adapting(FramePredictor(spec, plain.backend))


# -- the REST service and its page ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    with running_server(models["dilated"], tmp_path_factory.mktemp("continuous-server") / "server.log") as base:
        yield base


def test_the_service_answers_with_the_trace_and_its_frame_rate(server, models, recordings):
    status, answer = upload(server, recordings[1])
    assert status == 200, answer
    expected = library_answer(load_model(models["dilated"]), recordings[1])
    assert list(answer) == list(expected) == ["path", "duration", "values", "frame_rate", "trace"]
    assert answer["frame_rate"] == FRAME_RATE and answer["path"] == recordings[1].name
    for name in TARGETS:
        assert len(answer["trace"][name]) == frames(recordings[1])
        np.testing.assert_allclose(answer["trace"][name], expected["trace"][name], atol=1e-4)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
def test_the_page_draws_the_trace(server, recordings):
    status, expected = upload(server, recordings[1])
    assert status == 200
    browser = DevTools()
    try:
        assert open_page_and_upload(browser, server, recordings[1]) == "done"
        assert browser.evaluate("document.getElementById('trace-figure').hidden") is False
        assert browser.evaluate("document.getElementById('timeline-figure').hidden") is True
        drawn = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#trace polyline.trace-line')].map(line => "
            "[line.dataset.target, Array.from({length: line.points.numberOfItems}, (_, i) => line.points.getItem(i))"
            ".map(p => [p.x, p.y])]))")
        label = browser.evaluate("document.getElementById('label').textContent")
    finally:
        browser.close()
    assert list(drawn) == list(TARGETS) and label.startswith("arousal ")
    # drawTrace's plot: x from 34 to 710 over the recording, y from 10 (+1) to 176 (-1)
    for name in TARGETS:
        points = np.array(drawn[name])
        values = np.clip(expected["trace"][name], -1, 1)
        assert len(points) == len(values) and np.all(np.diff(points[:, 0]) > 0)
        np.testing.assert_allclose(1 - 2 * (points[:, 1] - 10) / 166, values, atol=2e-3)


# -- ONNX: export, and predict through onnxruntime --------------------------------------------


@pytest.mark.parametrize("name", ["dilated", "updown"])
def test_an_exported_model_predicts_the_torch_trace_at_a_length_not_divisible_by_81(name, models, recordings,
                                                                                      tmp_path):
    folder = tmp_path / name
    shutil.copytree(models[name], folder, ignore=shutil.ignore_patterns("training"))
    app = typer.Typer()
    register(app)
    exported = CliRunner().invoke(app, ["export", "--model", str(folder), "--out", str(folder / "model.onnx")])
    assert exported.exit_code == 0, exported.output
    n = (frames(recordings[0]) - 40) // UPDOWN_FACTOR * UPDOWN_FACTOR + 40
    crop = cropped(recordings[0], n, tmp_path / "crop.wav")
    assert isinstance(load_model(folder).backend, OnnxBackend)  # the folder runs its own export
    result = predict("--model", folder, "--format", "json", crop)
    assert result.exit_code == 0, result.output
    (element,) = json.loads(result.stdout)
    expected = load_model(folder, backend="torch").predict_file(crop)
    alone = load_model(folder / "model.onnx").predict_file(crop)
    for target in TARGETS:
        assert len(element["trace"][target]) == n and n % UPDOWN_FACTOR
        np.testing.assert_allclose(element["trace"][target], expected.trace[target], atol=1e-4)
        np.testing.assert_allclose(alone.trace[target], expected.trace[target], atol=1e-4)


def test_the_card_says_the_traces_are_semi_synthetic_and_what_the_weights_may_be_used_for(models):
    card = json.loads((models["dilated"] / "card.json").read_text())
    assert card["data"]["semi_synthetic_from"] == ["emodb"] and card["frame_rate"] == 25.0
    assert card["data"]["licences"] == {"emodb": corpus_licence("emodb")}
    readme = (models["dilated"] / "README.md").read_text()
    assert "semi-synthetic continuous test bed" in readme and "every 40 ms" in readme
