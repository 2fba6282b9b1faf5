"""The feature cache: keyed by content and configuration, reused, invalidated, atomic."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import serkit.features.cache as cache_module
from serkit.audio.io import content_hash
from serkit.errors import AudioError
from serkit.features.base import Feature
from serkit.features.cache import FeatureCache, default_cache_dir
from serkit.features.prosody import Loudness


@dataclasses.dataclass(frozen=True)
class CountingConfig:
    sample_rate: int = 16_000
    hop: int = 160
    gain: float = 1.0


class Counting(Feature):
    """Frame means times a gain, counting how often it is really computed."""

    family = "test-counting"
    Config = CountingConfig
    calls = 0

    def compute(self, signal: np.ndarray) -> np.ndarray:
        type(self).calls += 1
        n = self.n_frames(signal.size)
        padded = np.pad(signal, (0, n * self.config.hop - signal.size))
        return (self.config.gain * padded.reshape(n, -1).mean(axis=1))[np.newaxis]


@pytest.fixture
def wav(tmp_path: Path, emodb_wavs: list[Path]) -> Path:
    path = tmp_path / "audio" / "clip.wav"
    path.parent.mkdir()
    shutil.copy(emodb_wavs[0], path)
    return path


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("SERKIT_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert FeatureCache().root == tmp_path / "elsewhere"
    monkeypatch.delenv("SERKIT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "serkit" / "features"
    assert FeatureCache(tmp_path / "mine").root == tmp_path / "mine"


def test_second_run_reuses_the_cache(tmp_path, wav):
    cache = FeatureCache(tmp_path / "cache")
    feature = Counting()
    Counting.calls = 0
    first = cache.get(feature, wav)
    assert Counting.calls == 1
    np.testing.assert_array_equal(first, feature.process_file(wav))
    Counting.calls = 0
    # a new cache object over the same folder (a later run) computes nothing
    again = FeatureCache(tmp_path / "cache").get(feature, wav)
    assert Counting.calls == 0
    np.testing.assert_array_equal(again, first)
    entries = list((tmp_path / "cache").rglob("*.npy"))
    assert entries == [cache.entry(feature, cache.digest(wav))]
    assert (cache.folder(feature) / "feature.json").exists()
    assert not list((tmp_path / "cache").rglob("*.tmp")), "no temporary file is left behind"


def test_the_key_is_the_content_not_the_name(tmp_path, wav):
    cache = FeatureCache(tmp_path / "cache")
    copy = tmp_path / "renamed.wav"
    shutil.copy(wav, copy)
    Counting.calls = 0
    cache.get(Counting(), wav)
    cache.get(Counting(), copy)
    assert Counting.calls == 1


def test_a_changed_setting_recomputes(tmp_path, wav):
    cache = FeatureCache(tmp_path / "cache")
    Counting.calls = 0
    base = cache.get(Counting(), wav)
    doubled = cache.get(Counting(gain=2.0), wav)
    assert Counting.calls == 2
    np.testing.assert_allclose(doubled, 2 * base)
    assert cache.folder(Counting()) != cache.folder(Counting(gain=2.0))
    assert cache.folder(Loudness()) != cache.folder(Loudness(sample_rate=8000))


def test_a_changed_file_recomputes(tmp_path, wav):
    cache = FeatureCache(tmp_path / "cache")
    Counting.calls = 0
    before = cache.get(Counting(), wav)
    signal, rate = sf.read(wav, dtype="float32")
    sf.write(wav, 0.5 * signal, rate, subtype="PCM_16")  # same name, same size, new content
    after = cache.get(Counting(), wav)
    assert Counting.calls == 2
    np.testing.assert_allclose(after, 0.5 * before, atol=1e-4)


def count_hashes(monkeypatch) -> list[Path]:
    hashed: list[Path] = []
    real = cache_module.content_hash
    monkeypatch.setattr(cache_module, "content_hash", lambda p: hashed.append(p) or real(p))
    return hashed


def test_a_file_is_hashed_once_while_unchanged(tmp_path, wav, monkeypatch):
    hashed = count_hashes(monkeypatch)
    # as if the file had been written long ago (its change time cannot be set back)
    monkeypatch.setattr(cache_module, "RACY_SECONDS", -1e9)
    cache = FeatureCache(tmp_path / "cache")
    digest = cache.digest(wav)
    cache.get(Counting(), wav)
    cache.get(Counting(gain=3.0), wav)
    assert len(hashed) == 1
    assert digest == content_hash(wav)


def test_a_file_changed_just_before_hashing_is_hashed_again(tmp_path, wav, monkeypatch):
    hashed = count_hashes(monkeypatch)
    cache = FeatureCache(tmp_path / "cache")
    assert cache.digest(wav) == cache.digest(wav)
    assert len(hashed) == 2


def test_a_missing_file_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="missing.wav.*not found"):
        FeatureCache(tmp_path).digest(tmp_path / "missing.wav")


def test_an_unreadable_entry_is_recomputed(tmp_path, wav, caplog):
    cache = FeatureCache(tmp_path / "cache")
    feature = Counting()
    good = cache.get(feature, wav)
    cache.entry(feature, cache.digest(wav)).write_bytes(b"not numpy")
    Counting.calls = 0
    with caplog.at_level(logging.WARNING, logger="serkit.features.cache"):
        again = cache.get(feature, wav)
    assert Counting.calls == 1 and "unreadable" in caplog.text
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(cache.load(feature, cache.digest(wav)), good)


def test_store_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    feature = Counting()
    digest = "ab" * 32
    cache.store(feature, digest, np.ones((1, 3), np.float32))

    def broken(path, array):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module, "_save_npy", broken)
    with pytest.raises(OSError):
        cache.store(feature, digest, np.zeros((1, 3), np.float32))
    # the old entry is intact and no temporary file remains
    np.testing.assert_array_equal(cache.load(feature, digest), np.ones((1, 3)))
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_a_large_entry_is_mapped_copy_on_write_and_a_small_one_read(tmp_path, wav, monkeypatch):
    monkeypatch.setattr(cache_module, "MAP_ABOVE", 100)  # bytes: the clip's frames are a few kB
    cache = FeatureCache(tmp_path / "cache")
    feature = Counting()
    fresh = cache.get(feature, wav)  # computed: what the caller keeps is already the mapped entry
    again = FeatureCache(tmp_path / "cache").get(feature, wav)
    assert isinstance(fresh, np.memmap) and isinstance(again, np.memmap)
    np.testing.assert_array_equal(again, feature.process_file(wav))
    entry = cache.entry(feature, cache.digest(wav))
    before = entry.read_bytes()
    again *= 2  # writable, as a loaded array is, but the cache entry stays as it was
    assert entry.read_bytes() == before
    monkeypatch.setattr(cache_module, "MAP_ABOVE", 1 << 30)
    assert not isinstance(FeatureCache(tmp_path / "cache").get(feature, wav), np.memmap)
