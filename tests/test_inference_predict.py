"""Prediction with a tiny trained model on real EMO-DB clips: results, batching, bad input, loading."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import serkit
from serkit.artifacts import read_model_info
from serkit.errors import AudioError, SerkitError
from serkit.experiments.recipe import Recipe
from serkit.experiments.train import train_model
from serkit.inference import AudioTooLongError, InferenceConfig, ModelSpec, Prediction, load_model, shipped_models
from serkit.inference.registry import card_summary

SPEAKERS = ("03", "08", "09")


def train_tiny_model(emodb_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch BLSTM on three EMO-DB speakers (about 2 s), trained once per session."""
    base = tmp_path_factory.getbasetemp() / "inference-tiny-model"
    if (base / "model" / "card.json").is_file():
        return base / "model"
    (base / "emodb" / "wav").mkdir(parents=True, exist_ok=True)
    for wav in sorted((emodb_root / "wav").glob("*.wav")):
        if wav.name[:2] in SPEAKERS and not (base / "emodb" / "wav" / wav.name).exists():
            (base / "emodb" / "wav" / wav.name).symlink_to(wav)
    recipe = Recipe(root=str(base / "emodb"), model="blstm", features="logmel-seed001",
                    validation="speakers:1", model_options={"hidden": 16})
    train_model(recipe.override(epochs=1), base / "model", workers=1, threads=1)
    return base / "model"


@pytest.fixture(scope="session")
def tiny_model(emodb_root, tmp_path_factory) -> Path:
    return train_tiny_model(emodb_root, tmp_path_factory)


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return load_model(tiny_model)


@pytest.fixture(scope="module")
def clips(emodb_wavs) -> list[Path]:
    # unseen speakers, lengths from short to long, so that batches carry real padding
    unseen = [w for w in emodb_wavs if w.name[:2] not in SPEAKERS]
    by_length = sorted(unseen, key=lambda w: sf.info(str(w)).frames)
    return by_length[:: len(by_length) // 11][:12]


def test_predictions_on_real_clips_are_distributions_over_the_class_set(predictor, clips):
    assert serkit.load_model is load_model
    for path in clips:
        p = predictor.predict_file(path)
        assert p.ok and p.path == str(path) and p.segments is None
        assert p.duration == pytest.approx(sf.info(str(path)).duration, abs=1e-6)
        assert set(p.probabilities) == set(predictor.labels) == {"anger", "happiness", "neutral", "sadness"}
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= v <= 1.0 for v in p.probabilities.values())
        assert p.label == max(p.probabilities, key=p.probabilities.get)
        assert list(p.to_dict()) == ["path", "duration", "label", "probabilities"]


def test_batched_results_equal_one_at_a_time(predictor, clips):
    single = [predictor.predict_file(p) for p in clips]
    for batch_size in (5, 12):
        batched = predictor.predict_files(clips, batch_size=batch_size)
        assert [b.path for b in batched] == [str(p) for p in clips]
        for a, b in zip(single, batched):
            assert a.label == b.label
            np.testing.assert_allclose([b.probabilities[k] for k in predictor.labels],
                                       [a.probabilities[k] for k in predictor.labels], atol=1e-5)


def test_a_bad_file_gets_its_error_and_the_rest_go_on(predictor, clips, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, np.float32), 16000)
    paths = [clips[0], tmp_path / "missing.wav", text, clips[1], silent]
    done: list[tuple[int, int]] = []
    results = predictor.predict_files(paths, batch_size=2, progress=lambda d, t: done.append((d, t)))
    assert [r.path for r in results] == [str(p) for p in paths]
    assert [r.ok for r in results] == [True, False, False, True, False]
    assert "file not found" in results[1].error and "missing.wav" in results[1].error
    assert "not a readable audio file" in results[2].error
    assert "silent" in results[4].error and "no speech" in results[4].error
    assert set(results[2].to_dict()) == {"path", "duration", "error"}
    assert results[0].probabilities == predictor.predict_file(clips[0]).probabilities
    assert done[-1] == (5, 5)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), "silent"),
        (lambda p: sf.write(p, np.full(16000, 0.3, np.float32), 16000), "silent"),  # a biased microphone's silence
        (lambda p: sf.write(p, 0.1 * np.random.default_rng(0).standard_normal(1600).astype(np.float32), 16000),
         "too short"),
    ],
)
def test_bad_input_raises_an_audio_error_naming_file_and_reason(predictor, tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=reason) as caught:
        predictor.predict_file(path)
    assert caught.value.path == str(path)


def test_truncated_and_too_long_files_are_refused(predictor, clips, tmp_path):
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(Path(clips[5]).read_bytes()[:-4000])
    with pytest.raises(AudioError, match="truncated"):
        predictor.predict_file(truncated)
    limited = predictor.with_config(max_duration=1.0)
    with pytest.raises(AudioTooLongError, match="too long"):
        limited.predict_file(clips[-1])
    assert predictor.predict_file(clips[-1]).ok  # the original keeps its own limit


def test_a_recording_with_a_dc_offset_is_predicted_as_without_it(predictor, clips, tmp_path):
    clean, rate = sf.read(str(clips[3]), dtype="float32")
    biased = tmp_path / "biased.wav"
    sf.write(biased, clean + 0.05, rate, subtype="PCM_16")  # every sample shifted by the same 1638 steps
    for segment in ("none", 0.5):  # whole, and cut into speech regions and windows
        config = predictor.with_config(segment=segment)
        reference, moved = config.predict_file(clips[3]), config.predict_file(biased)
        assert moved.probabilities == pytest.approx(reference.probabilities, abs=1e-5)
        assert [(s.start, s.end) for s in moved.segments or ()] == [(s.start, s.end) for s in reference.segments or ()]
    assert len(reference.segments) > 1  # the last pass really cut the recording


def test_stereo_and_other_rates_are_mixed_down_and_resampled(predictor, clips, tmp_path):
    mono, rate = sf.read(str(clips[6]), dtype="float32")
    reference = predictor.predict_file(clips[6])
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([mono, mono], axis=1), rate)
    same = predictor.predict_file(stereo)
    for k in predictor.labels:
        assert same.probabilities[k] == pytest.approx(reference.probabilities[k], abs=1e-6)
    for other in (44_100, 8_000):
        path = tmp_path / f"stereo{other}.flac"
        moved = soxr.resample(mono, rate, other)
        sf.write(path, np.stack([moved, 0.5 * moved], axis=1), other)
        p = predictor.predict_file(path)
        assert p.ok and p.duration == pytest.approx(reference.duration, abs=0.01)
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
    signal = predictor.predict_signal(np.stack([mono, mono]), rate)
    assert signal.probabilities == pytest.approx(reference.probabilities, abs=1e-6)


def test_predict_folder_is_recursive_and_sorted(predictor, clips, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for i, clip in enumerate(clips[:3]):
        (tmp_path / ("a/b" if i else "a") / f"{i}.wav").symlink_to(clip)
    results = predictor.predict_folder(tmp_path)
    assert [Path(r.path).relative_to(tmp_path).as_posix() for r in results] == ["a/0.wav", "a/b/1.wav", "a/b/2.wav"]
    assert all(r.ok for r in results)


def test_per_speaker_models_and_broken_folders_are_refused(tiny_model, tmp_path):
    copy = tmp_path / "per-speaker"
    shutil.copytree(tiny_model, copy, ignore=shutil.ignore_patterns("training"))
    info = read_model_info(copy).to_dict()
    (copy / "model.json").write_text(json.dumps({**info, "normalisation": "per-speaker", "normaliser": None}))
    with pytest.raises(SerkitError, match="per speaker"):
        load_model(copy)
    (copy / "model.json").unlink()
    with pytest.raises(SerkitError, match="not a model folder"):
        load_model(copy)
    with pytest.raises(SerkitError, match="no such model"):
        load_model("no-such-model")


def test_the_registry_finds_shipped_models_by_name(tiny_model, tmp_path, clips):
    with pytest.raises(SerkitError, match="no default model is installed"):
        load_model(None, models_dir=tmp_path)
    shutil.copytree(tiny_model, tmp_path / "default", ignore=shutil.ignore_patterns("training"))
    [entry] = shipped_models(tmp_path)
    assert entry.name == "default" and entry.card["classes"] == ["anger", "happiness", "neutral", "sadness"]
    assert "blstm on logmel-seed001" in entry.summary and "4 classes" in entry.summary
    by_default = load_model(None, models_dir=tmp_path)
    by_name = load_model("default", models_dir=tmp_path)
    assert by_default.card == by_name.card == entry.card
    assert by_default.predict_file(clips[0]).probabilities == by_name.predict_file(clips[0]).probabilities
    assert card_summary({}) == "(no model card)"
    assert "use: with --adapt" in card_summary(load_model("accurate-adapt", backend="torch").card)
    assert "use:" not in card_summary(entry.card)


def test_windowed_models_score_the_windows_of_training(tiny_model):
    info = dataclasses.replace(read_model_info(tiny_model),
                               segments={"window": 2.0, "train_hop": 1.0, "test_hop": 0.4})
    spec = ModelSpec.from_info(info, None, "windowed")
    features = np.random.default_rng(1).standard_normal((40, 530)).astype(np.float32)
    windows = spec.model_inputs(features)
    # 200-frame windows at 0, 40, ..., 320, and one more ending at the last frame
    assert [w.shape[1] for w in windows] == [200] * 10
    np.testing.assert_array_equal(windows[-1], spec.normaliser.transform(features)[:, 330:530])
    assert [w.shape[1] for w in spec.model_inputs(features[:, :120])] == [120]


def test_config_is_checked():
    with pytest.raises(SerkitError, match="--segment"):
        InferenceConfig(segment="sometimes")
    assert InferenceConfig(segment="2.5").segment == 2.5
    with pytest.raises(SerkitError, match="batch size"):
        InferenceConfig(batch_size=0)
    assert Prediction("x.wav", None, error="x.wav: file not found").to_dict() == {
        "path": "x.wav", "duration": None, "error": "x.wav: file not found"}
