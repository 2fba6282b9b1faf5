"""What the benchmarks share: the machine they ran on, and where they write."""

from __future__ import annotations

import re
from pathlib import Path

from serkit.devices import processor_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def cpu_model() -> str:
    return processor_name()


def write_section(title: str, text: str, doc_path: Path = DOC) -> None:
    """Replace the ``## title`` section of docs/benchmarks.md by ``text`` (or append it)."""
    doc = doc_path.read_text()
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    doc_path.write_text(doc.rstrip("\n") + "\n")
