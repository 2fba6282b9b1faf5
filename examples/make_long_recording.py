"""Join the bundled example clips into one long recording, with silence between them.

The quick start predicts on it to show a timeline: each clip is one emotion,
so the segments should follow the clip boundaries printed here.

    python examples/make_long_recording.py OUT.wav
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

CLIPS = Path(__file__).resolve().parent / "emodb" / "wav"
SILENCE_SECONDS = 1.0


def main(out: Path) -> None:
    pieces, start = [], 0.0
    for clip in sorted(CLIPS.glob("*.wav")):
        signal, rate = sf.read(clip, dtype="float32")
        gap = np.zeros(int(SILENCE_SECONDS * rate), np.float32)
        pieces += [signal, gap]
        print(f"{start:6.2f}-{start + len(signal) / rate:6.2f} s  {clip.name}")
        start += (len(signal) + len(gap)) / rate
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, np.concatenate(pieces), rate, subtype="PCM_16")
    print(f"wrote {out} ({start:.1f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/long-example.wav"))
