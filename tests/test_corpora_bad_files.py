"""Bad audio while reading a corpus: fail on the first by default, list them all with skip_bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serkit.corpora import audio_duration, corpus_summary, read_corpus
from serkit.errors import AudioError, CorpusError

RATE = 16_000


def write_audio(path: Path, seconds: float = 0.5, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * RATE)
    sf.write(path, 0.1 * np.sin(np.arange(n) / 7), RATE, **kwargs)


def cut(path: Path, keep: float = 0.5) -> None:
    """Drop the end of a file, as a failed copy or download does."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def emodb_like(tmp_path) -> tuple[Path, dict[str, str]]:
    """An EMO-DB layout with three good files and one of each kind of bad file."""
    wav = tmp_path / "wav"
    for name in ("03a01Wa", "03a01Nc", "08a02Fb"):
        write_audio(wav / f"{name}.wav")
    bad = {
        "09a04Ta": "truncated",
        "10b01Lc": "not a readable audio file",
        "11b02Ea": "empty",
        "12b03Aa": "no samples",
    }
    for name in bad:
        write_audio(wav / f"{name}.wav")
    cut(wav / "09a04Ta.wav")
    (wav / "10b01Lc.wav").write_text("this is not audio\n")
    (wav / "11b02Ea.wav").write_bytes(b"")
    sf.write(wav / "12b03Aa.wav", np.zeros(0), RATE)
    return tmp_path, {str(wav / f"{n}.wav"): reason for n, reason in bad.items()}


def test_first_bad_file_fails_the_read_and_is_named(emodb_like):
    root, bad = emodb_like
    with pytest.raises(AudioError) as failure:
        read_corpus("emodb", root)
    assert failure.value.path in bad
    assert bad[failure.value.path] in failure.value.reason
    assert Path(failure.value.path).name in str(failure.value)


def test_skip_bad_keeps_the_good_and_lists_every_bad_file(emodb_like):
    root, bad = emodb_like
    calls = []
    table = read_corpus("emodb", root, skip_bad=True, progress=lambda *args: calls.append(args))
    assert sorted(table["utterance"]) == ["03a01Nc", "03a01Wa", "08a02Fb"]
    skipped = table.attrs["skipped"]
    assert {s["path"] for s in skipped} == set(bad)
    for entry in skipped:
        assert bad[entry["path"]] in entry["reason"]
    assert corpus_summary(table)["skipped"] == skipped
    assert calls == [(i, 7) for i in range(8)]


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "wav").mkdir()
    (tmp_path / "wav" / "03a01Wa.wav").write_text("nope")
    with pytest.raises(CorpusError, match="every one of the 1 emodb files is bad"):
        read_corpus("emodb", tmp_path, skip_bad=True)


def test_misnamed_file_is_a_corpus_error_not_skipped(tmp_path):
    write_audio(tmp_path / "wav" / "03a01Wa.wav")
    write_audio(tmp_path / "wav" / "notes.wav")
    with pytest.raises(CorpusError, match=r"notes\.wav: not an EMO-DB file name"):
        read_corpus("emodb", tmp_path, skip_bad=True)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("x.wav", {}),
        ("x.aiff", {"format": "AIFF"}),
        ("x.flac", {}),
        ("SA1.WAV", {"format": "NIST", "subtype": "PCM_16"}),
    ],
)
def test_truncation_is_caught_from_the_header_in_every_format(tmp_path, name, kwargs):
    path = tmp_path / name
    write_audio(path, 1.0, **kwargs)
    assert audio_duration(path) == 1.0
    cut(path)
    sf.info(str(path))  # soundfile alone opens the cut file without complaint
    with pytest.raises(AudioError, match="truncated"):
        audio_duration(path)


def test_truncated_flac_in_librispeech_and_sphere_in_timit(tmp_path):
    libri = tmp_path / "LibriSpeech" / "dev-clean" / "1" / "2"
    for i in range(2):
        write_audio(libri / f"1-2-{i:04d}.flac")
    (libri / "1-2.trans.txt").write_text("1-2-0000 A\n1-2-0001 B\n")
    cut(libri / "1-2-0001.flac")
    table = read_corpus("librispeech", tmp_path / "LibriSpeech", skip_bad=True)
    assert table["utterance"].tolist() == ["1-2-0000"]
    assert table.attrs["skipped"][0]["path"].endswith("1-2-0001.flac")

    timit = tmp_path / "TIMIT" / "TEST" / "DR3" / "MABC0"
    write_audio(timit / "SX1.WAV", format="NIST", subtype="PCM_16")
    cut(timit / "SX1.WAV", 0.8)
    with pytest.raises(AudioError, match=r"SX1\.WAV: truncated: the header declares 8000 samples"):
        read_corpus("timit", tmp_path / "TIMIT")
