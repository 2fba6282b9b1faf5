"""Write ``requirements.lock`` from what is installed, as registry pins only.

``pip freeze`` writes ``name @ file:///…`` for a package installed from a wheel
on disk, and ``torch==2.13.0+cpu`` for the local CPU build; a lock like that
installs on one machine only. This script writes every installed distribution
(but the project itself and pip's own tools) as ``name==version`` with the local
label dropped, then asks the package index whether that release exists there,
and exits 1 naming every one that does not.

Run it with the environment's own Python::

    .venv/bin/python tools/lock.py            # check, then write requirements.lock
    .venv/bin/python tools/lock.py --stdout   # check, then print
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

PROJECT = "serkit"
# pip leaves these out of a freeze too: the venv brings its own.
TOOLS = frozenset({"pip", "setuptools", "wheel", "distribute"})
INDEX = "https://pypi.org/simple"
PIN_PATTERN = r"^[A-Za-z0-9._-]+==[^ @;]+$"
HEADER = (
    "# Written by tools/lock.py from the installed environment: registry pins only (name==version).\n"
)


def installed_pins(path: list[str] | None = None, exclude: frozenset[str] = TOOLS | {PROJECT}) -> dict[str, str]:
    """Every distribution on ``path`` (default ``sys.path``) as name -> public version.

    The version only, never how it was installed: a wheel from a folder on disk
    pins like one from the index, and ``2.13.0+cpu`` becomes ``2.13.0``.
    """
    pins = {}
    for dist in metadata.distributions(**({"path": path} if path is not None else {})):
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) not in exclude:
            pins[name] = public_version(dist.version)
    return pins


def public_version(version: str) -> str:
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def lock_text(pins: dict[str, str]) -> str:
    lines = [f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda p: p[0].lower())]
    return HEADER + "\n".join(lines) + "\n"


def registry_versions(name: str, index: str = INDEX, timeout: float = 30) -> set[str]:
    """The versions an index offers for ``name`` (PEP 691 JSON simple API)."""
    request = urllib.request.Request(
        f"{index.rstrip('/')}/{canonicalize_name(name)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            page = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return set()
        raise
    if "versions" in page:  # PEP 700
        return {str(Version(v)) for v in page["versions"] if _valid(v)}
    return {v for f in page.get("files", []) if (v := _file_version(f["filename"]))}


def _valid(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _file_version(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except ValueError:
        return None


def missing_from_registry(pins: dict[str, str], index: str = INDEX) -> list[str]:
    """The ``name==version`` pins the index does not offer, sorted."""

    def absent(item: tuple[str, str]) -> str | None:
        name, version = item
        return None if str(Version(version)) in registry_versions(name, index) else f"{name}=={version}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        return sorted(p for p in pool.map(absent, pins.items()) if p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "requirements.lock")
    parser.add_argument("--stdout", action="store_true", help="print the lock instead of writing it")
    parser.add_argument("--index", default=INDEX, help=f"the package index to check against ({INDEX})")
    args = parser.parse_args(argv)

    pins = installed_pins()
    missing = missing_from_registry(pins, args.index)
    if missing:
        print(f"not on {args.index} (the lock would install only here):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    text = lock_text(pins)
    if args.stdout:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"{args.out}: {len(pins)} packages, all on {args.index}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
