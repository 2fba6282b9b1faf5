"""Shared fixtures: where the real corpora are, and skips that say why."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """``$SERKIT_DATA``, defaulting to ``../shared/data`` beside the repository."""
    return Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def emodb_root() -> Path:
    root = data_root() / "emodb"
    if not (root / "wav").is_dir():
        pytest.skip(f"EMO-DB not found at {root} (set SERKIT_DATA to the folder holding emodb/)")
    return root


@pytest.fixture(scope="session")
def emodb_wavs(emodb_root: Path) -> list[Path]:
    return sorted((emodb_root / "wav").glob("*.wav"))


@pytest.fixture(scope="session")
def librispeech_root() -> Path:
    root = data_root() / "librispeech-mini" / "LibriSpeech"
    if not root.is_dir():
        pytest.skip(f"LibriSpeech mini not found at {root} (set SERKIT_DATA)")
    return root


def corpora_folder(name: str) -> Path:
    """``$SERKIT_CORPORA/<name>``, where tools/extract_corpora.py puts nEMO and ASED; skips, saying why,
    where it is unset or the folder is absent."""
    folder = os.environ.get("SERKIT_CORPORA")
    if not folder:
        pytest.skip(f"SERKIT_CORPORA is not set (tools/extract_corpora.py extracts {name} into it)")
    root = Path(folder).resolve() / name
    if not root.is_dir():
        pytest.skip(f"{name} not found at {root} (run tools/extract_corpora.py)")
    return root


def emodb_subset(emodb_root: Path, tmp_path: Path, speakers: tuple[str, ...], lablaut: bool = False) -> Path:
    """An EMO-DB-shaped folder holding links to the given speakers' files only (and, with
    ``lablaut``, their phone alignments)."""
    root = tmp_path / "emodb"
    folders = ("wav", "lablaut") if lablaut else ("wav",)
    for folder in folders:
        (root / folder).mkdir(parents=True)
        for path in sorted((emodb_root / folder).glob("*")):
            if path.name[:2] in speakers:
                (root / folder / path.name).symlink_to(path)
    return root


# Tiny EMO-DB-, nEMO- and ASED-shaped corpora of noise (tests of several corpora in one recipe).

#: Each class's amplitude, and each corpus's gain: the classes are told apart by loudness
#: relative to their corpus, which only normalising each corpus by its own statistics recovers.
AMPLITUDE = {"anger": 0.4, "happiness": 0.2, "neutral": 0.05, "sadness": 0.012}
GAIN = {"emodb": 1.0, "nemo": 0.25, "ased": 4.0}
EMODB_CODE = {"anger": "W", "happiness": "F", "neutral": "N", "sadness": "T"}
ASED_FOLDER = {"anger": ("a", "05Angry"), "happiness": ("h", "03Happy"), "neutral": ("n", "01Neutral"),
               "sadness": ("s", "04Sad")}


def _tiny_noise(path: Path, corpus: str, label: str, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    signal = np.clip(GAIN[corpus] * AMPLITUDE[label] * rng.standard_normal(8000), -0.99, 0.99)
    sf.write(path, signal, 16_000, subtype="PCM_16")


def write_tiny_corpora(root: Path) -> dict[str, str]:
    """Three speakers per corpus, two files of each class each (noise, at the class's amplitude
    times the corpus's gain); returns each corpus's root."""
    seed = 0
    (root / "nemo").mkdir(parents=True)
    with open(root / "nemo" / "data.tsv", "w", newline="", encoding="utf-8") as f:
        rows = csv.writer(f, delimiter="\t", lineterminator="\n")
        rows.writerow(["file_id", "emotion", "raw_text", "normalized_text", "speaker_id", "gender", "age"])
        for emodb, nemo, ased, sex in (("03", "AA0", "01", "male"), ("08", "BB0", "02", "female"),
                                       ("09", "CC0", "03", "female")):
            for label in AMPLITUDE:
                for n in (1, 2):
                    seed += 1
                    letter, folder = ASED_FOLDER[label]
                    ased_name = f"{letter}{folder[1]}-01-0{n}-{'02' if sex == 'male' else '01'}-{ased}.wav"
                    _tiny_noise(root / "emodb" / "wav" / f"{emodb}a0{n}{EMODB_CODE[label]}a.wav", "emodb", label, seed)
                    _tiny_noise(root / "nemo" / "samples" / f"{nemo}_{label}_{n}.wav", "nemo", label, seed + 1000)
                    _tiny_noise(root / "ased" / folder / ased_name, "ased", label, seed + 2000)
                    rows.writerow([f"{nemo}_{label}_{n}.wav", label, "Zdanie.", "zdanie.", nemo, sex, "30"])
    return {name: str(root / name) for name in GAIN}


def pytest_unconfigure(config) -> None:
    """The last line, when the browser tests skipped: which, and what enables them."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    page = [r for r in skipped if "test_serving_page.py" in r.nodeid]
    if page:
        reporter.write_line(
            f"{len(page)} web page tests (tests/test_serving_page.py) skipped: no Chromium; "
            "`sudo apt-get install -y chromium` enables them (.ci/run installs it)"
        )
