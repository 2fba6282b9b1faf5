"""Whole-corpus extraction: parallel equals serial, order, cache reuse, progress, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from serkit.errors import AudioError
from serkit.features.cache import FeatureCache
from serkit.features.extract import extract
from serkit.features.prosody import Loudness, Pitch


@pytest.fixture
def clips(emodb_wavs: list[Path]) -> list[Path]:
    # every 45th file: 12 utterances across speakers and emotions
    return emodb_wavs[::45]


@pytest.fixture
def bad_files(tmp_path: Path, emodb_wavs: list[Path]) -> dict[str, Path]:
    truncated = tmp_path / "truncated.wav"
    data = emodb_wavs[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # a copy cut short
    text = tmp_path / "notes.wav"
    text.write_text("these are notes, not audio\n")
    return {"truncated": truncated, "text": text, "missing": tmp_path / "missing.wav"}


def test_parallel_equals_serial_in_input_order(clips):
    feature = Pitch()
    order = clips[::-1]  # not sorted: the result must follow the input
    serial = extract(feature, order, workers=1)
    parallel = extract(feature, order, workers=2)
    assert list(parallel.features) == [str(p) for p in order]
    assert list(serial.features) == [str(p) for p in order]
    for path in order:
        np.testing.assert_array_equal(parallel.features[str(path)], serial.features[str(path)])
        np.testing.assert_array_equal(serial.features[str(path)], feature.process_file(path))
    assert parallel.errors == [] and parallel.computed == len(clips) and parallel.cached == 0


def test_progress_is_reported_up_to_the_total(clips):
    calls: list[tuple[int, int]] = []
    extract(Loudness(), clips, workers=2, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (len(clips), len(clips))
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == len(clips) for _, t in calls)


def test_second_run_uses_the_cache(tmp_path, clips):
    cache = FeatureCache(tmp_path / "cache")
    first = extract(Loudness(), clips, cache=cache, workers=2)
    assert (first.computed, first.cached) == (len(clips), 0)
    second = extract(Loudness(), clips, cache=FeatureCache(tmp_path / "cache"), workers=2)
    assert (second.computed, second.cached) == (0, len(clips))
    for key, array in first.features.items():
        np.testing.assert_array_equal(second.features[key], array)
    changed = extract(Loudness(win_length=320), clips[:3], cache=cache, workers=1)
    assert changed.computed == 3


def test_the_first_bad_file_raises_by_default(clips, bad_files):
    for kind, bad in bad_files.items():
        paths = [*clips[:3], bad, *clips[3:6]]
        for workers in (1, 2):
            with pytest.raises(AudioError) as error:
                extract(Loudness(), paths, workers=workers)
            assert error.value.path == str(bad), kind
    with pytest.raises(AudioError, match="truncated"):
        extract(Loudness(), [bad_files["truncated"]], workers=1)
    with pytest.raises(AudioError, match="not a readable audio file"):
        extract(Loudness(), [bad_files["text"]], workers=1)


@pytest.mark.parametrize("with_cache", [False, True])
def test_skip_bad_collects_bad_files_and_goes_on(tmp_path, clips, bad_files, with_cache):
    cache = FeatureCache(tmp_path / "cache") if with_cache else None
    paths = [bad_files["text"], *clips[:4], bad_files["truncated"], *clips[4:], bad_files["missing"]]
    result = extract(Pitch(), paths, cache=cache, workers=2, skip_bad=True)
    assert list(result.features) == [str(p) for p in clips]
    assert [path for path, _ in result.errors] == [
        str(bad_files["text"]), str(bad_files["truncated"]), str(bad_files["missing"])
    ]
    reasons = dict(result.errors)
    assert "not a readable audio file" in reasons[str(bad_files["text"])]
    assert "truncated" in reasons[str(bad_files["truncated"])]
    assert "not found" in reasons[str(bad_files["missing"])]


def test_too_short_for_the_feature_is_a_bad_file(tmp_path, emodb_wavs):
    import soundfile as sf

    from serkit.features.functionals import EGeMAPS

    short = tmp_path / "short.wav"
    sf.write(short, np.full(400, 0.1, np.float32), 16_000)  # 25 ms: below openSMILE's 60 ms
    result = extract(EGeMAPS(), [emodb_wavs[0], short], workers=2, skip_bad=True)
    assert list(result.features) == [str(emodb_wavs[0])]
    assert result.features[str(emodb_wavs[0])].shape == (88,)
    assert "too short" in dict(result.errors)[str(short)]


def test_duplicates_are_computed_once(tmp_path, clips):
    copy = tmp_path / "copy.wav"
    shutil.copy(clips[0], copy)
    result = extract(Loudness(), [clips[0], clips[1], clips[0], copy], workers=1)
    assert list(result.features) == [str(clips[0]), str(clips[1]), str(copy)]
    assert result.computed == 3
    np.testing.assert_array_equal(result.features[str(copy)], result.features[str(clips[0])])
