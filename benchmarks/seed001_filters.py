"""Seed 001's Figure 2: the first convolutional layer's filters of the phone and the emotion base models.

    python benchmarks/seed001_filters.py [--runs runs] [--fold 00] [--out docs/seed001-filters.png]

Reads fold ``--fold``'s model of ``runs/seed001/seed001-{phones,emotion}-base`` (the fold models stay
local: run the base recipes first) and draws each of its 64 filters (5 frames by 4 bands, time across),
each scaled to its own range, phones left and emotion right as in the paper.

The paper reads its figure as "ASR filters smoother".  A picture of 64 small filters shows noise as
readily as structure, so the script also prints, for every fold model there is, how far the layer
moved from its initial weights (redrawn from the fold's seed, as training drew them) and the filters'
mean correlation between neighbouring frames and between neighbouring bands, against the same
figures of those initial weights: a smoother filter has a higher neighbour correlation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from serkit.artifacts import load_weights, read_model_info
from serkit.models.registry import build_model
from serkit.training.optim import build_seeded

REPO = Path(__file__).resolve().parents[1]
BASES = ("phones", "emotion")


CONV1 = "conv1.conv.weight"


def fold_model(runs: Path, target: str, fold: str) -> Path:
    return runs / "seed001" / f"seed001-{target}-base" / "folds" / fold / "seed0" / "model"


def first_layer(runs: Path, target: str, fold: str) -> np.ndarray:
    """``(filters, bands, frames)`` weights of conv1 of a base run's fold model."""
    return load_weights(fold_model(runs, target, fold))[CONV1].numpy()[:, 0]


def initial_first_layer(model: Path) -> np.ndarray:
    """conv1 as training initialised it: the same network drawn from the member's seed (its folder)."""
    config = dict(read_model_info(model).model["config"])
    seed = int(model.parent.name.removeprefix("seed"))
    net = build_seeded(lambda: build_model("frame_cnn", config.pop("n_dims"), config.pop("n_classes"), **config), seed)
    return net.state_dict()[CONV1].numpy()[:, 0]


def neighbour_correlation(filters: np.ndarray, axis: int) -> float:
    """Mean over filters of the correlation between each value and its neighbour along ``axis``
    (1: bands, 2: frames), each filter centred on its own mean."""
    centred = filters - filters.mean(axis=(1, 2), keepdims=True)
    n = centred.shape[axis]
    a, b = np.take(centred, range(n - 1), axis=axis), np.take(centred, range(1, n), axis=axis)
    return float(np.mean((a * b).sum(axis=(1, 2)) / np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))))


def movement_table(runs: Path) -> list[str]:
    """Markdown rows: per base run, over its fold models, the layer's change and its smoothness."""
    rows = ["| base | folds | distance from the initial weights (relative) | neighbour correlation, frames: trained / initial "
            "| bands: trained / initial |", "| --- | --- | --- | --- | --- |"]
    for target in BASES:
        folds = sorted(p.parents[1].name for p in (runs / "seed001" / f"seed001-{target}-base" / "folds").glob("*/seed0/model"))
        if not folds:
            continue
        pairs = [(first_layer(runs, target, f), initial_first_layer(fold_model(runs, target, f))) for f in folds]
        moved = [np.linalg.norm(w - w0) / np.linalg.norm(w0) for w, w0 in pairs]
        corr = {axis: ([neighbour_correlation(w, axis) for w, _ in pairs], [neighbour_correlation(w0, axis) for _, w0 in pairs])
                for axis in (2, 1)}
        cells = [f"{np.mean(t):+.3f} / {np.mean(i):+.3f}" for t, i in corr.values()]
        rows.append(f"| {target} | {len(folds)} | {np.mean(moved):.3f} ({min(moved):.3f}-{max(moved):.3f}) | {' | '.join(cells)} |")
    return rows


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
    print("\n".join(movement_table(args.runs)))


if __name__ == "__main__":
    main()
