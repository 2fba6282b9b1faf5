"""Time-aligned phone (or word) labels: TIMIT ``.PHN``/``.WRD`` and EMO-DB ``.lablaut``.

The table's ``alignment`` column points to these files.  Both formats become
one :class:`Alignment`: segment start and end times in seconds and a label
per segment, ready to be turned into frame targets on the feature grid.

* TIMIT: one segment per line, ``<start sample> <end sample> <label>`` at
  16 kHz (``0 3050 h#``).
* EMO-DB ``lablaut`` (xlabel format, Latin-1): a header ending in a line
  ``#``, then one line per segment giving its *start* time in seconds, a
  colour number and the label, ``    0.119160   -1 !t<TAB>+asp``; a segment
  ends where the next one starts.  The last label, ``.``, marks where speech
  ends: its segment has no length.  Before the first segment the file is
  unlabelled (the silence before speech).  (Read as end times, every label
  would sit one segment late: stop closures would be louder than vowels and
  the ``.`` segment speech; docs/seed001-targets.md measures it.)  The label's first field
  (tab- or space-separated) is the German SAMPA phone; the rest are marks (``+asp``
  aspiration, ``+lar``/``-lar`` start and end of laryngealisation, stress
  digits), kept in ``marks``.  Where a mark stands first (``-1 -sth``) the
  phone is empty: the segment only carries the mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serkit.errors import CorpusError

TIMIT_SAMPLE_RATE = 16_000

# One space or tab separates the colour from the label, whose phone field may
# be empty ("-1 \t+hoe"): splitting on runs of whitespace would lose that.
_XLABEL_LINE = re.compile(r"^\s*(?P<time>\d+(?:\.\d*)?)\s+-?\d+(?:[ \t](?P<label>.*))?$")


@dataclass(frozen=True)
class Alignment:
    """Labelled segments of one recording; times in seconds."""

    starts: np.ndarray
    ends: np.ndarray
    labels: tuple[str, ...]
    #: per segment, the marks that follow the label (lablaut); empty strings for TIMIT
    marks: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def read_alignment(path: str | Path) -> Alignment:
    """Read a TIMIT ``.PHN``/``.WRD`` or an EMO-DB ``.lablaut`` file (chosen by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".phn", ".wrd"):
        return read_timit_segments(path)
    if suffix == ".lablaut":
        return read_lablaut(path)
    raise CorpusError(f"{path}: not an alignment file serkit reads (.PHN, .WRD, .lablaut)")


def read_timit_segments(path: str | Path, sample_rate: int = TIMIT_SAMPLE_RATE) -> Alignment:
    starts, ends, labels = [], [], []
    for number, line in enumerate(_lines(path, "ascii"), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            start, end, label = int(fields[0]), int(fields[1]), " ".join(fields[2:])
        except (ValueError, IndexError):
            raise CorpusError(
                f"{path}, line {number}: expected '<start> <end> <label>', got {line!r}"
            ) from None
        if not label or end < start:
            raise CorpusError(f"{path}, line {number}: bad segment {line!r}")
        starts.append(start)
        ends.append(end)
        labels.append(label)
    seconds = np.array(starts) / sample_rate, np.array(ends) / sample_rate
    return _alignment(path, *seconds, labels, [""] * len(labels))


def read_lablaut(path: str | Path) -> Alignment:
    lines = _lines(path, "latin-1")
    try:
        body = lines[lines.index("#") + 1 :]
    except ValueError:
        raise CorpusError(f"{path}: no '#' line ends the xlabel header") from None
    times, labels, marks = [], [], []
    for number, line in enumerate(body, len(lines) - len(body) + 1):
        if not line.strip():
            continue
        match = _XLABEL_LINE.match(line)
        if not match:
            raise CorpusError(
                f"{path}, line {number}: expected '<start time> <colour> <label>', got {line!r}"
            )
        time = float(match["time"])
        text = match["label"] or ""
        fields = text.split()
        # Labellers separated the fields with tabs or spaces; an empty phone
        # shows as leading blank space, or as a mark (+x starts, -x ends a
        # feature) standing where the phone would.
        if text[:1].isspace() or (fields and fields[0].startswith(("+", "-"))):
            fields.insert(0, "")
        times.append(time)
        labels.append(fields[0] if fields else "")
        marks.append(" ".join(fields[1:]))
    starts = np.array(times, dtype=np.float64)
    return _alignment(path, starts, np.append(starts[1:], starts[-1:]), labels, marks)


def _lines(path: str | Path, encoding: str) -> list[str]:
    try:
        return Path(path).read_text(encoding=encoding).splitlines()
    except FileNotFoundError:
        raise CorpusError(f"{path}: alignment file not found") from None
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not {encoding} text ({e.reason})") from None


def _alignment(path, starts, ends, labels, marks) -> Alignment:
    if len(ends) and (np.any(np.diff(ends) < 0) or np.any(ends < starts)):
        raise CorpusError(f"{path}: segment times go backwards")
    return Alignment(
        np.asarray(starts, np.float64), np.asarray(ends, np.float64), tuple(labels), tuple(marks)
    )
