"""What the benchmarks share: the machine they ran on, and where they write."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from serkit.devices import gpu_machines, processor_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def cpu_model() -> str:
    return processor_name()


def minutes_on(minutes: float, machines: list[str] | None, digits: int = 0) -> str:
    """A run's minutes as a table cell, naming the GPU where it ran on one: the CPU is the
    reference, and a GPU's minutes are not comparable with it."""
    gpus = gpu_machines(machines)
    return f"{minutes:.{digits}f}" + (f" on {', '.join(gpus)}" if gpus else "")


def write_section(title: str, text: str, doc_path: Path = DOC) -> None:
    """Replace the ``## title`` section of docs/benchmarks.md by ``text`` (or append it)."""
    doc = doc_path.read_text()
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    doc_path.write_text(doc.rstrip("\n") + "\n")


def rounds_arguments(description: str) -> argparse.Namespace:
    """``--rounds`` (best of how many timings) and ``--write`` (the section of docs/benchmarks.md), the
    arguments of the timing benchmarks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    return parser.parse_args()


def publish(title: str, text: str, write: bool) -> None:
    """Print a benchmark's section, and with ``write`` put it in docs/benchmarks.md."""
    print(text)
    if write:
        write_section(title, text)
