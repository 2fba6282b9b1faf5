"""Per-layer figures for docs/results.md: every Whisper layer, one at a time, under LOSO.

For each MP-x SVM recipe (``recipes/seed003/seed003-whisper-*-mp-svm*.yaml``), runs the
recipe once per layer with the layer fixed (the SVM's cost chosen on the
fold's 2 validation speakers, not by the recipe's inner cross-validation,
which would cost nine times as much) and writes
``runs/seed003/whisper-layers/<recipe>/layer<K>/results.json``.  These rows describe
the layers; they choose nothing: the recipes' own runs choose the layer per
fold on training speakers, and that is the headline figure.

    python benchmarks/whisper_layers.py [--root ../shared/data/emodb] [--recipes NAME ...]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from serkit.experiments import load_recipe, run_cv
from serkit.features.cache import FeatureCache

REPO = Path(__file__).resolve().parents[1]
RECIPES = ("seed003-whisper-tiny-mp-svm", "seed003-whisper-tiny-mp-svm-7class",
           "seed003-whisper-base-mp-svm", "seed003-whisper-base-mp-svm-7class")
OUT = REPO / "runs" / "seed003" / "whisper-layers"


def layer_dir(recipe_name: str, layer: int | None) -> Path:
    return OUT / recipe_name / ("all-layers" if layer is None else f"layer{layer}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="../shared/data/emodb")
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = FeatureCache()  # the recipes' own runs filled it
    for name in args.recipes:
        recipe = load_recipe(REPO / "recipes" / "seed003" / f"{name}.yaml")
        for layer in recipe.search["layer"]:
            fixed = recipe.override(root=args.root, name=f"{name}-layer{layer}", layer=layer, search={},
                                   inner_cv=False)
            summary = run_cv(fixed, layer_dir(name, layer), cache=cache, workers=1, threads=1)
            print(f"{name:40s} layer {layer!s:5s} pooled UA {summary['pooled']['ua']:.3f} "
                  f"WA {summary['pooled']['wa']:.3f}")


if __name__ == "__main__":
    main()
