"""A recipe's ``task: ctc``: characters of a handful of LibriSpeech utterances, end to end on real
data, through cv (CER, WER), train, predict/transcribe (a transcript) and ONNX; the CER/WER
helpers and the CTC task on hand-computed examples."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import emodb_subset

from serkit.artifacts import CvResults, FoldResult, load_weights, read_model_info
from serkit.errors import SerkitError
from serkit.evaluation import character_error_rate, word_error_rate
from serkit.experiments import Recipe, run_cv
from serkit.experiments.ctc_targets import BLANK, character_set, encode_text, normalise_text
from serkit.experiments.cv import load_corpus
from serkit.experiments.train import train_model
from serkit.features.cache import FeatureCache
from serkit.inference import load_model
from serkit.inference.ctc import RECOGNIZER_SEGMENTATION
from serkit.inference.export import export_onnx
from serkit.inference.predictor import InferenceConfig
from serkit.training.ctc import CTCRecognition, greedy_decode

SPEAKERS = ("1867", "1737", "3664")
PER_SPEAKER = 6
SERKIT = str(Path(sys.executable).with_name("serkit"))


def librispeech_subset(root: Path, out: Path) -> Path:
    """A LibriSpeech-shaped folder linking each of SPEAKERS' shortest PER_SPEAKER utterances
    (and their chapter's transcript file: lines of absent utterances are never read)."""
    subset = out / "LibriSpeech"
    (subset / "train-clean-5").mkdir(parents=True)
    (subset / "SPEAKERS.TXT").symlink_to(root / "SPEAKERS.TXT")
    for speaker in SPEAKERS:
        flacs = sorted((root / "train-clean-5" / speaker).glob("*/*.flac"), key=lambda p: p.stat().st_size)
        for flac in flacs[:PER_SPEAKER]:
            chapter = subset / "train-clean-5" / speaker / flac.parent.name
            chapter.mkdir(parents=True, exist_ok=True)
            (chapter / flac.name).symlink_to(flac)
            transcript = chapter / f"{speaker}-{flac.parent.name}.trans.txt"
            if not transcript.exists():
                transcript.symlink_to(flac.parent / transcript.name)
    return subset


def ctc_recipe(root: Path, **changes) -> Recipe:
    recipe = Recipe(root=str(root), corpus="librispeech", model="frame_blstm", features="mfcc-seed003",
                    protocol="speaker-kfold:3", validation="speakers:1", task="ctc",
                    model_options={"hidden": 32, "num_layers": 1, "dropout": 0.0})
    data = recipe.to_dict()
    data["train"]["optimiser"]["lr"] = 0.01  # a few short epochs: a larger step than the default
    return Recipe.from_dict({**data, **changes}).override(epochs=6)


@pytest.fixture(scope="module")
def ctc_run(librispeech_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("ctc")
    recipe = ctc_recipe(librispeech_subset(librispeech_root, base))
    cache = FeatureCache(base / "cache")
    summary = run_cv(recipe, base / "run", workers=1, threads=1, cache=cache)
    card = train_model(recipe, base / "model", workers=1, threads=1, cache=cache,
                       cv_results=base / "run" / "results.json")
    return base, summary, card


def test_cross_validation_reports_cer_and_wer_and_the_loss_falls(ctc_run):
    base, _, _ = ctc_run
    results = CvResults.read(base / "run")
    assert results.task == "ctc" and results.confusion is None and results.validation_ua is None
    assert results.validation_cer is not None and math.isfinite(results.validation_cer)
    assert set(results.pooled) == set(results.mean) == {"cer", "wer"}  # greedy only, unless decoder: beam
    assert all(math.isfinite(v) for v in results.pooled.values()) and results.n_utterances == 3 * PER_SPEAKER
    assert all(math.isfinite(fold["cer"]) and fold["validation_cer"] is not None for fold in results.folds)
    report = (base / "run" / "report.md").read_text()
    assert "| CER |" in report and "| WER |" in report
    for k in range(3):
        fold = FoldResult.read(base / "run" / "folds" / f"{k:02d}" / "predictions.json")
        assert all(isinstance(t, str) and t for t in fold.y_true) and all(isinstance(p, str) for p in fold.y_pred)
        history = fold.members[0]["history"]
        losses = [epoch["train_loss"] for epoch in history]
        print(f"fold {k}: train loss {losses[0]:.3f} -> {losses[-1]:.3f}; test CER {fold_cer(fold):.3f}")
        assert losses[-1] < losses[0]
    for figure in ("cer", "wer"):  # the speaker bootstrap's interval holds the pooled figure
        low, high = results.ci95[figure]
        assert low <= results.pooled[figure] <= high


def fold_cer(fold: FoldResult) -> float:
    return character_error_rate(fold.y_true, fold.y_pred)


def test_the_trained_model_transcribes(ctc_run, librispeech_root):
    base, _, card = ctc_run
    info = read_model_info(base / "model")
    assert info.task["kind"] == "ctc" and info.labels[0] == BLANK and " " in info.labels and "E" in info.labels
    assert card["task"] == "ctc" and card["characters"] == list(info.labels)
    assert "pooled CER" in (base / "model" / "README.md").read_text()
    predictor = load_model(base / "model", backend="torch")
    clip = short_clip(librispeech_root)  # a speaker it never heard; whole, not segmented
    prediction = predictor.predict_file(clip)
    assert prediction.ok and prediction.label is None and prediction.probabilities is None
    assert isinstance(prediction.transcript, str) and set(prediction.transcript) <= set(info.labels[1:])
    assert list(prediction.to_dict()) == ["path", "duration", "transcript"]


def test_onnx_gives_the_transcripts_of_pytorch(ctc_run, librispeech_root, tmp_path):
    base, _, _ = ctc_run
    clips = sorted((librispeech_root / "train-clean-5" / "32").glob("*/*.flac"))[:3]
    torch_model = load_model(base / "model", backend="torch")
    onnx_model = load_model(export_onnx(base / "model", tmp_path / "ctc.onnx"))
    single = [torch_model.predict_file(c).transcript for c in clips]
    assert [p.transcript for p in torch_model.predict_files(clips)] == single
    assert [p.transcript for p in onnx_model.predict_files(clips)] == single


def test_transcribe_is_predict_with_a_transcript_column(ctc_run, librispeech_root):
    base, _, _ = ctc_run
    clip = short_clip(librispeech_root)
    result = subprocess.run([SERKIT, "transcribe", "--model", str(base / "model"), "--format", "csv", str(clip)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header == "path,start,end,duration,transcript,error"
    assert row.startswith(f"{clip},,,")


def short_clip(librispeech_root: Path) -> Path:
    """Speaker 32's shortest clip: under the segmentation threshold, so transcribed whole."""
    import soundfile as sf

    return min((librispeech_root / "train-clean-5" / "32").glob("*/*.flac"), key=lambda c: sf.info(c).duration)


def test_a_long_recording_is_transcribed_segment_by_segment(ctc_run, librispeech_root, tmp_path):
    """Past the segmentation threshold a recording is cut by voice activity as for emotion; each
    speech segment gets its transcript in the timeline, the file their words in order."""
    import soundfile as sf

    base, _, _ = ctc_run
    clips = sorted((librispeech_root / "train-clean-5" / "32").glob("*/*.flac"))[:3]
    signals = [sf.read(c, dtype="float32")[0] for c in clips]
    pause = np.zeros(16_000 * 2, dtype=np.float32)
    long = np.concatenate([part for signal in signals for part in (signal, pause)])
    sf.write(tmp_path / "long.wav", long, 16_000)
    prediction = load_model(base / "model", backend="torch").predict_file(tmp_path / "long.wav")
    assert prediction.ok and prediction.segments is not None and len(prediction.segments) >= len(clips)
    assert prediction.transcript == " ".join(s.transcript for s in prediction.segments if s.transcript)
    assert all(s.label is None and s.probabilities is None for s in prediction.segments)
    starts = [s.start for s in prediction.segments]
    assert starts == sorted(starts) and prediction.segments[-1].end <= len(long) / 16_000
    element = prediction.to_dict()["segments"][0]
    assert set(element) >= {"start", "end", "transcript"} and "label" not in element


def test_an_utterance_longer_than_emotions_threshold_is_transcribed_whole(ctc_run, librispeech_root):
    """A recognizer reads whole utterances: a 16 s clip, which emotion would cut into 4 s windows,
    is one piece, unless the caller asks for cuts."""
    base, _, _ = ctc_run
    clip = sorted((librispeech_root / "train-clean-5" / "32").glob("*/*.flac"))[0]  # 16.2 s
    predictor = load_model(base / "model", backend="torch")
    assert predictor.config.segmentation == RECOGNIZER_SEGMENTATION
    whole = predictor.predict_file(clip)
    assert whole.ok and whole.segments is None and whole.duration > 8
    cut = load_model(base / "model", InferenceConfig(segment=4.0), backend="torch").predict_file(clip)
    assert cut.segments is not None and len(cut.segments) >= 4


def test_a_corpus_without_transcripts_is_refused_when_read(emodb_root):
    recipe = ctc_recipe(emodb_root, corpus="emodb")
    with pytest.raises(SerkitError, match=r"^task ctc: 535 of 535 utterances of corpus emodb have no transcript "
                                          r"\(the table's transcript column\)") as e:
        load_corpus(recipe)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("fields, message", [
    ({"model": "blstm"}, "task ctc: model blstm gives one output per utterance; use a frame model"),
    ({"fixed_frames": 100}, "task ctc: segments and fixed_frames do not apply"),
    ({"segments": {"window": 2.0, "train_hop": 1.0, "test_hop": 1.0}}, "segments and fixed_frames do not apply"),
    ({"targets": ["arousal"]}, "targets are for task: regression \\(task ctc learns the transcript\\)"),
    ({"task": "utterance"}, "frame_blstm gives an output per frame"),
])
def test_a_ctc_recipe_that_does_not_fit_is_refused_when_read(fields, message):
    data = {**ctc_recipe(Path("/nowhere")).to_dict(), **fields}
    with pytest.raises(SerkitError, match=message):
        Recipe.from_dict(data)


def test_cer_and_wer_sum_edit_distances_over_reference_lengths():
    # HELLO WORLD -> HELO WORD: two deletions of 11 characters; both words wrong
    assert character_error_rate(["HELLO WORLD"], ["HELO WORD"]) == pytest.approx(2 / 11)
    assert word_error_rate(["HELLO WORLD"], ["HELO WORD"]) == 1.0
    # pooled, not averaged: "A B" -> "A B C" inserts " C" (2 characters, 1 word)
    assert character_error_rate(["HELLO WORLD", "A B"], ["HELO WORD", "A B C"]) == pytest.approx(4 / 14)
    assert word_error_rate(["HELLO WORLD", "A B"], ["HELO WORD", "A B C"]) == pytest.approx(3 / 4)
    assert character_error_rate(["ABC"], [""]) == 1.0


def test_texts_characters_and_greedy_decoding():
    assert normalise_text("Well-known,  isn't it? 42") == "WELL KNOWN ISN'T IT"
    characters = character_set(["AB A", "B'A"])
    assert characters == (BLANK, " ", "'", "A", "B")
    assert encode_text("A BZ", characters).tolist() == [3, 1, 4]  # Z has no class: dropped
    labels = (BLANK, "A", "B")
    path = np.eye(3)[[1, 1, 0, 1, 2, 2, 0]]  # A A _ A B B _
    assert greedy_decode(np.log(path + 1e-6), labels) == "AAB"


def test_ctc_loss_masks_padding_and_survives_a_too_short_item():
    task = CTCRecognition((BLANK, "A", "B"))
    outputs = torch.randn(2, 6, 3, requires_grad=True)
    targets = task.attach_frames(task.collate_targets([np.array([1, 2, 1, 2, 1]), np.array([1, 2])]),
                                 torch.tensor([2, 6]))  # 5 characters in 2 frames: impossible
    loss = task.loss(outputs, targets)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(outputs.grad).all()
    scores = task.scores(outputs, targets)
    assert [s.shape for s in scores] == [(2, 3), (6, 3)]
    figures = task.metrics(scores, [np.array([1, 2, 1, 2, 1]), np.array([1, 2])])
    assert set(figures) == {"cer", "wer"} and not task.higher_is_better("cer")


def test_an_emotion_model_starts_from_the_recognizers_layers(ctc_run, emodb_root, tmp_path):
    """ctc -> utterance by recipe alone (seed 003's RNN-x idea): the recognizer's recurrent layer
    under a new emotion head, frozen, its weights unchanged bit for bit."""
    base, _, _ = ctc_run
    root = emodb_subset(emodb_root, tmp_path, ("03", "08", "09"))
    recipe = Recipe(root=str(root), model="blstm", features="mfcc-seed003", validation="speakers:1",
                    model_options={"hidden": 32, "num_layers": 1}, init=str(base / "model"), freeze=1)
    card = train_model(recipe.override(epochs=1), tmp_path / "emotion", workers=1, threads=1,
                       cache=FeatureCache(tmp_path / "cache"))
    init = card["training"]["init"]
    assert init["model"] == "frame_blstm" and init["layers_copied"] == init["frozen"] == ["rnn"]
    old, new = load_weights(base / "model"), load_weights(tmp_path / "emotion")
    rnn = [key for key in old if key.startswith("rnn.")]
    assert rnn and all(torch.equal(old[key], new[key]) for key in rnn)
    assert card["classes"] == ["anger", "happiness", "neutral", "sadness"]


def peaked(text: str, labels: tuple[str, ...], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Log-probabilities of a recognizer that mostly hears ``text``: each character for two frames
    between blanks, with random competitors at ``noise``."""
    frames = []
    for character in text:
        frames += [labels.index(character)] * 2 + [0]
    scores = rng.normal(0, noise, (len(frames), len(labels)))
    scores[np.arange(len(frames)), frames] += 4.0
    return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)


def test_the_beam_decoder_is_fitted_on_training_texts_and_chosen_on_validation():
    from types import SimpleNamespace

    from serkit.experiments.ctc_decoder import LM_WEIGHTS, decode_texts

    labels = ("<blank>", " ", "a", "b", "c")
    rng = np.random.default_rng(0)
    texts = ["abc cab", "cab abc", "abc abc", "cab cab"]
    part = SimpleNamespace
    data = SimpleNamespace(labels=labels, train=part(transcripts=texts * 3), validation=part(transcripts=texts))
    validation = [peaked(t, labels, rng, 1.0) for t in texts]
    test = [peaked(t, labels, rng, 1.0) for t in texts]
    found = decode_texts(data, validation, test)
    assert len(found["decoded"]) == len(test) and found["decoder"]["lm_weight"] in LM_WEIGHTS
    assert found["decoder"]["validation_cer"] < 0.2  # a recognizer that mostly hears the text
    assert sum(a == b for a, b in zip(found["decoded"], texts)) >= 3


def test_beam_decoding_is_a_recipe_choice_for_ctc_only():
    with pytest.raises(SerkitError, match="decoder"):
        Recipe(model="blstm", features="mfcc-seed003", decoder="beam")
