"""Seed 001's Figure 2: the first convolutional layer's filters of the phone and the emotion base models.

    python benchmarks/seed001_filters.py [--runs runs] [--fold 00] [--out docs/seed001-filters.png]

Reads fold ``--fold``'s model of ``runs/seed001/seed001-{phones,emotion}-base`` (the fold models stay
local: run the base recipes first) and draws each of its 64 filters (5 frames by 4 bands, time across),
each scaled to its own range, phones left and emotion right as in the paper.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from serkit.artifacts import load_weights

REPO = Path(__file__).resolve().parents[1]
BASES = ("phones", "emotion")


def first_layer(runs: Path, target: str, fold: str) -> np.ndarray:
    """``(filters, bands, frames)`` weights of conv1 of a base run's fold model."""
    model = runs / "seed001" / f"seed001-{target}-base" / "folds" / fold / "seed0" / "model"
    return load_weights(model)["conv1.conv.weight"].numpy()[:, 0]


def tile(filters: np.ndarray, columns: int = 8) -> np.ndarray:
    """The filters, each min-max scaled, in a grid with one blank row and column between them."""
    n, bands, frames = filters.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (bands + 1) - 1, columns * (frames + 1) - 1), np.nan)
    for k, f in enumerate(filters):
        low, high = f.min(), f.max()
        r, c = divmod(k, columns)
        # bands upwards, as a spectrogram: low frequencies at the bottom
        canvas[r * (bands + 1):r * (bands + 1) + bands, c * (frames + 1):c * (frames + 1) + frames] = (
            (f[::-1] - low) / (high - low + 1e-12))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs")
    parser.add_argument("--fold", default="00")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "seed001-filters.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, target in zip(axes, BASES):
        ax.imshow(tile(first_layer(args.runs, target, args.fold)), cmap="gray", interpolation="nearest")
        ax.set_title(f"{target} base, fold {args.fold}: conv1 (5 frames x 4 bands)", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=150)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
