"""Shared fixtures: where the real corpora are, and skips that say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
