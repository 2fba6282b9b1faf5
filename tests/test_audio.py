"""Audio loading: formats, rates, channels, and every kind of bad file."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import soxr

from serkit.audio import content_hash, dc_offset, info, load_audio, remove_dc
from serkit.errors import AudioError


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "suffix, fmt, subtype",
    [
        (".wav", "WAV", "PCM_16"),
        (".flac", "FLAC", "PCM_16"),
        (".ogg", "OGG", "VORBIS"),
        (".aiff", "AIFF", "PCM_16"),
        (".wav", "WAV", "FLOAT"),
    ],
)
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_formats_and_rates_load_as_16k_mono(tmp_path, suffix, fmt, subtype, rate):
    path = tmp_path / f"a{suffix}"
    sf.write(path, tone(rate), rate, format=fmt, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 1  # 0.5 s at 16 kHz
    # A 440 Hz tone stays a 440 Hz tone through decoding and resampling.
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 440) < 4


def test_native_rate_is_kept_when_asked(tmp_path):
    sf.write(tmp_path / "a.wav", tone(44100), 44100)
    assert len(load_audio(tmp_path / "a.wav", sample_rate=None)) == 22050


def test_channels_are_averaged(tmp_path):
    left, right = tone(16000, freq=300), tone(16000, freq=500)
    sf.write(tmp_path / "st.wav", np.stack([left, right, np.zeros_like(left)], axis=1), 16000,
             subtype="FLOAT")
    y = load_audio(tmp_path / "st.wav")
    np.testing.assert_allclose(y, (left + right) / 3, atol=1e-6)


def test_resampling_matches_soxr(tmp_path):
    x = tone(44100, freq=1000)
    sf.write(tmp_path / "a.wav", x, 44100, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "a.wav"), soxr.resample(x, 44100, 16000, "HQ"),
                               atol=1e-6)


def test_extension_that_lies_still_loads(tmp_path):
    path = tmp_path / "really_aiff.wav"
    sf.write(path, tone(16000), 16000, format="AIFF")
    assert info(path).format == "AIFF"
    assert len(load_audio(path)) == 8000


def test_real_emodb_file_is_unchanged(emodb_wavs):
    path = emodb_wavs[0]
    y = load_audio(path)
    ref, rate = sf.read(path, dtype="float32")
    assert rate == 16000
    np.testing.assert_array_equal(y, ref)


def bad(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def expect_error(path, reason_part: str, **kwargs):
    with pytest.raises(AudioError) as e:
        load_audio(path, **kwargs)
    assert str(path) in str(e.value)
    assert reason_part in e.value.reason
    return e.value


def test_dc_offset_is_the_level_of_digital_silence_else_the_mean_never_the_median(emodb_wavs):
    speech = load_audio(emodb_wavs[0])
    padded = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(8000, np.float32)])
    assert padded.mean() != 0 and dc_offset(padded, 16000) == 0  # the mean would lift the zeros
    np.testing.assert_array_equal(remove_dc(padded, 16000), padded)
    np.testing.assert_allclose(remove_dc(padded + np.float32(0.125), 16000), padded, atol=1e-6)
    lopsided = load_audio(emodb_wavs[0].parent / "08b10La.wav")  # its waveform's median sits at +0.0078
    assert abs(dc_offset(lopsided, 16000)) < 0.001 < np.median(lopsided) - 0.005
    assert dc_offset(lopsided + np.float32(0.05), 16000) == pytest.approx(dc_offset(lopsided, 16000) + 0.05, abs=1e-6)


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "not found")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    sf.write(path, np.zeros(1600, np.float32), 16000)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: fail the open as it fails for anyone else

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(os, "open", denied)
    expect_error(path, "permission denied")


def test_text_named_wav(tmp_path):
    expect_error(bad(tmp_path, "notes.wav", b"this is not audio at all\n" * 10), "not a readable audio")


def test_empty_file(tmp_path):
    expect_error(bad(tmp_path, "empty.wav", b""), "empty")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "d.wav").mkdir()
    expect_error(tmp_path / "d.wav", "folder")


def test_truncated_wav(tmp_path, emodb_wavs):
    data = emodb_wavs[0].read_bytes()
    expect_error(bad(tmp_path, "cut.wav", data[: len(data) // 2]), "truncated")


def test_truncated_flac(tmp_path):
    sf.write(tmp_path / "a.flac", np.random.default_rng(0).normal(0, 0.1, 16000), 16000)
    data = (tmp_path / "a.flac").read_bytes()
    expect_error(bad(tmp_path, "cut.flac", data[: len(data) // 2]), "truncated")


def test_header_only_wav_has_no_samples(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    expect_error(tmp_path / "zero.wav", "no samples")


def test_nan_and_inf_samples(tmp_path):
    y = tone(16000)
    y[100] = np.nan
    sf.write(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    expect_error(tmp_path / "nan.wav", "NaN")
    y[100] = np.inf
    sf.write(tmp_path / "inf.wav", y, 16000, subtype="FLOAT")
    expect_error(tmp_path / "inf.wav", "infinite")


def test_too_short_for_the_feature(tmp_path):
    sf.write(tmp_path / "short.wav", tone(16000, seconds=0.01), 16000)
    error = expect_error(tmp_path / "short.wav", "too short", min_duration=0.025)
    assert "0.025" in error.reason


def test_content_hash_follows_bytes_not_names(tmp_path, emodb_wavs):
    copy = tmp_path / "renamed.wav"
    shutil.copy(emodb_wavs[0], copy)
    assert content_hash(copy) == content_hash(emodb_wavs[0])
    assert content_hash(emodb_wavs[1]) != content_hash(emodb_wavs[0])


def test_truncated_sphere(tmp_path):
    sf.write(tmp_path / "a.wav", tone(16000), 16000, format="NIST", subtype="PCM_16")
    data = (tmp_path / "a.wav").read_bytes()
    expect_error(bad(tmp_path, "cut.wav", data[: 1024 + 4000]), "truncated")


def test_own_wav_decoder_equals_libsndfile_on_all_of_emodb(emodb_wavs):
    # load_audio decodes plain 16-bit PCM WAV itself (for speed): it must agree with soundfile exactly.
    for path in emodb_wavs:
        np.testing.assert_array_equal(load_audio(path, sample_rate=None), sf.read(path, dtype="float32")[0])


@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_U8", "FLOAT"])
def test_own_wav_decoder_equals_libsndfile_on_generated_files(tmp_path, channels, subtype):
    rng = np.random.default_rng(channels)
    x = np.clip(rng.normal(0, 0.3, (4001, channels)), -1, 1).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, x, 22050, subtype=subtype)
    expected = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1, dtype=np.float32)
    np.testing.assert_array_equal(load_audio(path, sample_rate=None), expected)


def test_wav_with_an_extra_odd_chunk_and_trailing_bytes(tmp_path):
    import struct

    x = (np.arange(-500, 500) * 30).astype("<i2")
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd length, padded to even
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    data = b"data" + struct.pack("<I", x.nbytes) + x.tobytes()
    body = b"WAVE" + fmt + extra + data
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body + b"junk")
    np.testing.assert_array_equal(load_audio(path, sample_rate=None), sf.read(path, dtype="float32")[0])
