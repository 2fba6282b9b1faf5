"""Seed 001's frame targets: EMO-DB's lablaut folded to the compact-de phone set, webrtcvad's
silence class on emotion frames, and both through a recipe's ``FoldData.from_fold``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import emodb_subset

from serkit.audio import load_audio
from serkit.audio.vad import speech_flags
from serkit.corpora.alignment import Alignment, read_alignment
from serkit.corpora.phone_sets import PAUSE, phone_set
from serkit.errors import CorpusError, SerkitError
from serkit.experiments import Recipe
from serkit.experiments.cv import load_corpus
from serkit.experiments.extraction import corpus_features
from serkit.experiments.fold_data import FoldData, frame_targets
from serkit.experiments.frame_targets import SILENCE, FrameTargets, phone_frames, speech_on_grid
from serkit.features.base import FrameGrid
from serkit.features.presets import get_preset
from serkit.protocols import make_folds

COMPACT = phone_set("compact-de")
GRID = get_preset("logmel-seed001").feature.grid
CLIP = "03a01Wa.wav"
LEAD = 0.5  # seconds of digital silence put before a real utterance


def test_compact_de_folds_every_symbol_of_the_real_alignments_and_uses_every_class(emodb_root):
    files = sorted((emodb_root / "lablaut").glob("*.lablaut"))
    if not files:
        pytest.skip(f"no lablaut files under {emodb_root}")
    found = {COMPACT.phone(label, str(path)) for path in files for label in read_alignment(path).labels}
    assert found - {None} == set(COMPACT.classes)  # unknown symbols would have raised
    assert 35 <= len(COMPACT.classes) <= 45 and COMPACT.classes[-1] == PAUSE


@pytest.mark.parametrize("symbol, phone", [
    ("t", "t"), ("!t", "t"), ("tasp", "t"), ("_t", "t"),   # closure, release, aspiration, closure after a pause
    ("dsap", "d"), ("gas+sth", "g"),                          # the labellers' misspellings
    ("I+nas", "I"), ("g-sth", "g"), ("!b+na", "b"),           # marks written into the phone field
    ("a:", "a"), ('"a:', "a"), ("'E", "E"),                   # SAMPA length and stress marks
    ("nn", "n"), ("NN", "N"),                                 # doubled (lengthened) consonants
    ("i6", "i"), ("X", "r"), ("4", "r"), ("OU", "aU"),        # rare spellings in their nearest class
    (".", PAUSE), ("(", PAUSE), ("(gef", PAUSE),              # pauses
    ("", None), ("!", None), ("[+eng", None), ("hoe", None),  # no phone of their own
])
def test_marks_length_and_stop_parts_fold_to_the_base_phone(symbol, phone):
    assert COMPACT.phone(symbol, "x.lablaut") == phone


def lablaut(path: Path, segments: list[tuple[float, str]]) -> Path:
    body = "".join(f"    {end:.6f}   -1 {label}\n" for end, label in segments)
    path.write_text(f"signal x\ntype 0\n#\n{body}", encoding="latin-1")
    return path


def test_segments_without_a_phone_continue_the_one_before_and_pauses_end_it():
    ends = np.array([0.055, 0.105, 0.155, 0.205, 0.255])
    alignment = Alignment(np.append(0.0, ends[:-1]), ends, ("!t", "a", "", "!", "(gef"), ("", "", "-lar", "", ""))
    frames = phone_frames(alignment, 30, GRID, COMPACT, "x.lablaut")
    assert frames.tolist() == ["t"] * 6 + ["a"] * 15 + [PAUSE] * 9  # frames past the last segment too
    assert phone_frames(alignment, 30, GRID)[0] == "!t"  # no phone set: the symbols as they are
    late = Alignment(ends[:-1], ends[1:], ("a", "", "!", "."), ("", "", "", ""))  # speech from 0.055 s on
    assert phone_frames(late, 30, GRID, COMPACT, "x.lablaut").tolist() == [PAUSE] * 6 + ["a"] * 15 + [PAUSE] * 9


def test_an_unknown_symbol_is_an_error_naming_it_and_its_file(tmp_path):
    path = lablaut(tmp_path / "odd.lablaut", [(0.1, "a"), (0.2, "!Q+asp")])
    with pytest.raises(CorpusError, match=r"odd\.lablaut: symbol '!Q\+asp' \(folded to 'Q'\) is in no class "
                                          r"of phone set compact-de") as error:
        phone_frames(read_alignment(path), 30, GRID, COMPACT, str(path))
    assert "\n" not in str(error.value)


def test_vad_hears_the_utterance_and_not_a_leading_silence(emodb_root):
    signal = load_audio(emodb_root / "wav" / CLIP, 16000)
    padded = np.concatenate([np.zeros(int(LEAD * 16000), np.float32), signal])
    flags = speech_flags(padded, 16000, 3)
    assert len(flags) == len(padded) // 160
    lead, speech = flags[: int(LEAD * 100)], flags[int(LEAD * 100):]
    middle = speech[len(speech) // 3: 2 * len(speech) // 3]
    assert not lead.any() and middle.mean() > 0.8
    # another rate is resampled: the same 10 ms frames, nearly the same decisions
    at_8k = speech_flags(load_audio(emodb_root / "wav" / CLIP, 8000), 8000, 3)
    assert len(at_8k) == len(speech) and (at_8k == speech).mean() > 0.8


@pytest.mark.parametrize("rate, frame_ms, level, message", [
    (4000, 10, 3, "sample rate 4000 Hz is below the 8000 Hz webrtcvad needs"),
    (16000, 25, 3, "frame of 25 ms; webrtcvad takes 10, 20, 30 ms"),
    (16000, 10, 4, "aggressiveness 4; give 0, 1, 2 or 3"),
])
def test_vad_refuses_what_webrtcvad_cannot_take(rate, frame_ms, level, message):
    with pytest.raises(SerkitError, match=message):
        speech_flags(np.zeros(rate, np.float32), rate, level, frame_ms)


def test_a_frame_takes_the_decision_of_the_vad_frame_holding_its_centre():
    flags = np.array([True, False, True, False])
    assert speech_on_grid(flags, 6, GRID).tolist() == [True, False, True, False, False, False]
    assert speech_on_grid(flags, 3, FrameGrid(16000, 320)).tolist() == [True, True, False]
    assert speech_on_grid(flags, 3, FrameGrid(16000, 80)).tolist() == [True, True, False]
    assert not speech_on_grid(np.zeros(0, bool), 2, GRID).any()


def test_emotion_targets_with_silence_have_the_features_frame_count(emodb_root, tmp_path):
    signal = load_audio(emodb_root / "wav" / CLIP, 16000)
    path = tmp_path / "padded.wav"
    sf.write(path, np.concatenate([np.zeros(int(LEAD * 16000), np.float32), signal]), 16000)
    n_frames = get_preset("logmel-seed001").feature.compute(load_audio(path, 16000)).shape[-1]
    frames = FrameTargets.from_fields(GRID, "emotion", silence="webrtcvad").symbols(str(path), None, "anger", n_frames)
    assert len(frames) == n_frames and set(frames) == {"anger", SILENCE}
    assert set(frames[: int(LEAD * 100)]) == {SILENCE} and (frames[int(LEAD * 100):] == "anger").mean() > 0.7
    plain = FrameTargets.from_fields(GRID, "emotion").symbols(str(path), None, "anger", n_frames)
    assert set(plain) == {"anger"} and len(plain) == n_frames


@pytest.fixture(scope="module")
def subset(emodb_root, tmp_path_factory) -> Path:
    return emodb_subset(emodb_root, tmp_path_factory.mktemp("seed001"), ("03", "08", "09"), lablaut=True)


def fold_data(root: Path, **fields) -> tuple[FoldData, dict[str, np.ndarray]]:
    recipe = Recipe(root=str(root), model="frame_cnn", features="logmel-seed001", protocol="speaker-kfold:3",
                    validation="speakers:1", task="frame", **fields)
    corpus = load_corpus(recipe)
    fold = make_folds(corpus.table, recipe.protocol, recipe.validation, hashes=corpus.hashes)[0]
    features = corpus_features(recipe, corpus.table, None, 1, None)
    return FoldData.from_fold(corpus.table, fold, features, corpus.labels, frames=frame_targets(recipe)), features


def test_emotion_frames_with_silence_give_4class_five_classes_through_from_fold(subset):
    data, features = fold_data(subset, frame_target="emotion", silence="webrtcvad:3")
    assert data.labels == ("anger", "happiness", "neutral", "sadness", SILENCE)
    silent = 0
    for part in (data.train, data.validation, data.test):
        for path, label, frames in zip(part.ids, part.labels, part.frames):
            assert len(frames) == features[path].shape[-1] and set(frames) <= {label, SILENCE}
            silent += int((frames == SILENCE).sum())
    assert silent > 0


def test_compact_de_phones_through_from_fold(subset):
    data, features = fold_data(subset, frame_target="phones", phone_set="compact-de")
    assert data.labels == COMPACT.classes
    frames = np.concatenate(data.test.frames)
    assert set(frames) <= set(COMPACT.classes) and {PAUSE, "a", "t"} <= set(frames)
    assert all(len(f) == features[p].shape[-1] for p, f in zip(data.test.ids, data.test.frames))


def test_a_corpus_with_a_symbol_outside_the_phone_set_fails_when_read(subset, tmp_path):
    root = tmp_path / "emodb"
    (root / "lablaut").mkdir(parents=True)
    (root / "wav").symlink_to(subset / "wav")
    for path in (subset / "lablaut").glob("*.lablaut"):
        (root / "lablaut" / path.name).symlink_to(path)
    odd = root / "lablaut" / "03a01Waxx.lablaut"
    odd.unlink()
    lablaut(odd, [(0.1, "a"), (0.2, "Q")])
    recipe = Recipe(root=str(root), model="frame_cnn", task="frame", frame_target="phones", phone_set="compact-de")
    with pytest.raises(CorpusError, match=rf"{odd.name}: symbol 'Q' is in no class of phone set compact-de"):
        load_corpus(recipe)
