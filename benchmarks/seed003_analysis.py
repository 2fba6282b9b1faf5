"""Seed 003's Section 3 analysis: what a recognizer's layers say about emotion and loudness.

For each layer of a recognizer over EMO-DB's 4-class utterances:

* **Figure 4**: a t-SNE map of the utterances' mean-pooled layer, coloured by emotion, and how
  well the emotions separate in the layer itself (silhouette of the standardised pooled vectors,
  cosine distance; -1 to 1, higher is more separate); the same silhouette by sentence (EMO-DB's
  ten texts) and by speaker says what else the layer holds.  It describes the layers and chooses
  nothing.
* **Figure 6**: the Pearson correlation of every unit's activation with the loudness (serkit's
  ``loudness`` feature, its 10 ms frames averaged in pairs onto the recognizer's 20 ms frames)
  over every frame of every utterance; per layer the largest |r| and how many units exceed 0.5,
  and the most correlated unit drawn beside the loudness of one utterance.

``--recognizer`` is a feature spec that stacks every layer: ``whisper-base:padding=cached``
(the accurate model's Whisper layers), ``whisper-tiny.en:padded=false`` (the default's), or
``recognizer-seed003`` (serkit's own CTC recognizer, its GRU layers 1..5: recipes/seed003/).  Writes the
figures to docs/figures/ and, with ``--write``, its section of docs/seed003-analysis.md::

    python benchmarks/seed003_analysis.py --recognizer whisper-base:padding=cached [--write]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402
from sklearn.metrics import silhouette_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from serkit.corpora import read_corpus, select_classes  # noqa: E402
from serkit.features.cache import FeatureCache  # noqa: E402
from serkit.features.presets import get_preset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "seed003-analysis.md"
FIGURES = REPO / "docs" / "figures"
COLOURS = {"anger": "tab:red", "happiness": "tab:orange", "neutral": "tab:gray", "sadness": "tab:blue"}


def all_layers(feature):
    """Whisper's feature as it is (it stacks every layer); serkit's recognizer with every GRU layer
    stacked (layer 0, the convolutions, is wider than the others and left out)."""
    if hasattr(feature, "n_layers"):
        return feature
    return type(feature)(feature.config, layer=tuple(range(1, feature.loaded[2].num_layers + 1)))


def layer_blocks(stacked: np.ndarray, n_layers: int) -> list[np.ndarray]:
    """A stacked ``(n_layers * width, frames)`` array as one ``(width, frames)`` array per layer."""
    return np.split(stacked, n_layers, axis=0)


def on_recognizer_frames(loudness: np.ndarray, frames: int) -> np.ndarray:
    """The 10 ms loudness averaged in pairs onto 20 ms frames, cut or edge-padded to ``frames``."""
    pairs = loudness[: 2 * (len(loudness) // 2)].reshape(-1, 2).mean(axis=1)
    return np.pad(pairs, (0, max(0, frames - len(pairs))), mode="edge")[:frames]


def unit_correlations(activations: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """Pearson r of every row of ``activations`` (units, frames) with ``loudness`` (frames)."""
    a = activations - activations.mean(axis=1, keepdims=True)
    b = loudness - loudness.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = a @ b / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))
    return np.nan_to_num(r)


def slug(spec: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", spec.lower()).strip("-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recognizer", default="whisper-base:padding=cached")
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "emodb")
    parser.add_argument("--cache", type=Path, default=None, help="feature cache (default: $SERKIT_CACHE)")
    parser.add_argument("--write", action="store_true", help="write the recognizer's section of docs/seed003-analysis.md")
    args = parser.parse_args()

    table = select_classes(read_corpus("emodb", str(args.root)), "4class").reset_index(drop=True)
    cache = FeatureCache(args.cache) if args.cache else FeatureCache()
    feature, loudness_feature = all_layers(get_preset(args.recognizer).feature), get_preset("loudness").feature
    stacked = [cache.get(feature, path) for path in table.path]
    loudness = [cache.get(loudness_feature, path)[0] for path in table.path]
    # Whisper knows its layer count; serkit's recognizer stacks the layers its spec names
    numbers = list(range(feature.n_layers)) if hasattr(feature, "n_layers") else list(feature.layers)
    per_layer = list(zip(*(layer_blocks(x, len(numbers)) for x in stacked)))
    labels = table.label.to_numpy()

    rows, maps = [], []
    for index, arrays in enumerate(per_layer):
        pooled = StandardScaler().fit_transform(np.stack([x.mean(axis=1) for x in arrays]))
        maps.append(TSNE(perplexity=30, init="pca", random_state=0).fit_transform(pooled))
        frames = np.concatenate(arrays, axis=1)
        loud = np.concatenate([on_recognizer_frames(v, x.shape[1]) for v, x in zip(loudness, arrays)])
        r = unit_correlations(frames, loud)
        rows.append({"index": index, "layer": numbers[index], "silhouette": silhouette_score(pooled, labels, metric="cosine"),
                     "by_text": silhouette_score(pooled, table.text, metric="cosine"),
                     "by_speaker": silhouette_score(pooled, table.speaker, metric="cosine"),
                     "unit": int(np.argmax(np.abs(r))), "r": float(r[np.argmax(np.abs(r))]),
                     "over_half": int(np.sum(np.abs(r) > 0.5)), "units": len(r)})
        print(rows[-1], flush=True)

    name = slug(args.recognizer)
    FIGURES.mkdir(parents=True, exist_ok=True)
    tsne_png, loud_png = FIGURES / f"seed003-tsne-{name}.png", FIGURES / f"seed003-loudness-{name}.png"
    draw_maps(maps, numbers, labels, tsne_png, args.recognizer)
    best = max(rows, key=lambda row: abs(row["r"]))
    example = int(np.argmax([len(v) for v in loudness]))
    draw_unit(per_layer[best["index"]][example][best["unit"]], on_recognizer_frames(
        loudness[example], per_layer[best["index"]][example].shape[1]), best, Path(table.path[example]).name,
        loud_png, args.recognizer)
    section = markdown(args.recognizer, rows, len(table), tsne_png, loud_png)
    print(section)
    if args.write:
        write_section(args.recognizer, section)


def draw_maps(maps: list[np.ndarray], numbers: list[int], labels: np.ndarray, path: Path, recognizer: str) -> None:
    columns = min(4, len(maps))
    rows = -(-len(maps) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if index >= len(maps):
            continue
        for label, colour in COLOURS.items():
            points = maps[index][labels == label]
            ax.scatter(points[:, 0], points[:, 1], s=5, c=colour, label=label)
        ax.set_title(f"layer {numbers[index]}", fontsize=9)
    axes.ravel()[0].legend(fontsize=7, loc="best", markerscale=2)
    figure.suptitle(f"t-SNE of mean-pooled layers, EMO-DB 4 classes ({recognizer})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw_unit(activation: np.ndarray, loudness: np.ndarray, best: dict, utterance: str, path: Path,
              recognizer: str) -> None:
    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / (x.std() + 1e-9)

    seconds = np.arange(len(activation)) * 0.02
    figure, ax = plt.subplots(figsize=(8, 2.8))
    ax.plot(seconds, z(loudness), label="loudness (z)", color="black", linewidth=1)
    ax.plot(seconds, z(activation), label=f"layer {best['layer']} unit {best['unit']} (z)", color="tab:red", linewidth=1)
    ax.set_xlabel("seconds")
    ax.set_title(f"{recognizer}: the unit most correlated with loudness (r = {best['r']:.2f} over all frames), {utterance}",
                 fontsize=9)
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(recognizer: str, rows: list[dict], n: int, tsne_png: Path, loud_png: Path) -> str:
    lines = [f"## {recognizer}", "", "```", f"python benchmarks/seed003_analysis.py --recognizer {recognizer} --write", "```", "",
             f"{n} EMO-DB utterances (4 classes). Silhouette: the emotions' separation in the standardised mean-pooled "
             "layer (cosine); loudness: Pearson r of each unit with the loudness over every frame.", "",
             "| layer | silhouette by emotion | by sentence | by speaker | units | most correlated unit | its r | units with abs(r) > 0.5 |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['silhouette']:.3f} | {r['by_text']:.3f} | {r['by_speaker']:.3f} | {r['units']} | "
              f"{r['unit']} | {r['r']:+.2f} | {r['over_half']} |" for r in rows]
    lines += ["", f"![t-SNE per layer](figures/{tsne_png.name})", "", f"![the unit and the loudness](figures/{loud_png.name})", ""]
    return "\n".join(lines)


def write_section(recognizer: str, section: str) -> None:
    """Replace (or add) the recognizer's section, keeping the page's introduction and the others."""
    header = ("# Seed 003, Section 3: what the recognizers' layers hold\n\n"
              "Written by `benchmarks/seed003_analysis.py` (its docstring says what each figure is). Seed 003 "
              "(Lakomkin et al. 2017) shows the t-SNE of its recognizer's layers coloured by emotion (Figure 4) and a "
              "unit whose activation follows the loudness (Figure 6). These rows describe the layers and choose "
              "nothing.\n\n")
    text = DOC.read_text() if DOC.exists() else header
    sections = re.split(r"(?m)^(?=## )", text)
    kept = [s for s in sections[1:] if not s.startswith(f"## {recognizer}\n")]
    DOC.write_text(sections[0] + "".join(sorted([*kept, section + "\n"])))


if __name__ == "__main__":
    main()
