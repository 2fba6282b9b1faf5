"""Variants of the accurate model under leave-one-corpus-out, compared by their development figures.

The accurate model is a logistic regression on Whisper base's layers, mean-pooled.  Which layers,
which pooling, whether the training corpora weigh the same, and (declared adaptation) whether each
corpus is standardised by its own statistics: each variant is scored here under ``loco`` over EMO-DB,
nEMO and ASED (4 classes), with the cost fixed at 0.001 unless the variant names another, from
the feature cache that ``serkit cv`` of ``recipes/product/loco-whisper-base-logistic.yaml``
fills.  These are development figures: issue 18 allows choosing a configuration by them; the corpora
serkit never saw are the test.  The winner becomes a recipe whose own ``serkit cv`` gives its row in
docs/results.md.  Writes docs/loco-variants.md::

    SERKIT_CORPORA=/work/corpora python benchmarks/loco_variants.py [--cache /tmp/serkit-cache] [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from serkit.evaluation import unweighted_average_recall
from serkit.experiments.cv import load_corpus
from serkit.experiments.recipe import load_recipe
from serkit.features.cache import FeatureCache
from serkit.features.presets import get_preset
from serkit.models.classical import build_classical

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "product" / "loco-whisper-base-logistic.yaml"
CORPORA = ("emodb", "nemo", "ased")
COST = 1e-3
WIDTH = 512  # Whisper base


def pooled(cache_dir: Path, keep: Path) -> dict[str, np.ndarray]:
    """Each file's every layer mean- and std-pooled over its frames (kept in ``keep`` once made)."""
    if keep.exists():
        return dict(np.load(keep, allow_pickle=True))
    recipe = load_recipe(RECIPE)
    table = load_corpus(recipe).table
    feature, cache = get_preset(recipe.features).feature, FeatureCache(cache_dir)
    arrays = [cache.get(feature, path) for path in table.path]
    data = {"mean": np.stack([x.mean(axis=1) for x in arrays]).astype(np.float32),
            "std": np.stack([x.std(axis=1) for x in arrays]).astype(np.float32),
            "label": table.label.to_numpy(), "corpus": table.corpus.to_numpy()}
    np.savez(keep, **data)
    return data


def layers(x: np.ndarray, chosen: list[int]) -> np.ndarray:
    return np.concatenate([x[:, k * WIDTH:(k + 1) * WIDTH] for k in chosen], axis=1)


def by_corpus(x: np.ndarray, corpus: np.ndarray) -> np.ndarray:
    """Each corpus standardised by its own rows' statistics (no labels): the declared adaptation."""
    out = np.empty_like(x)
    for name in set(corpus):
        rows = corpus == name
        out[rows] = (x[rows] - x[rows].mean(0)) / (x[rows].std(0) + 1e-6)
    return out


def corpus_weights(corpus: np.ndarray) -> np.ndarray:
    """Sample weights giving every training corpus the same total weight."""
    weights = np.array([1.0 / np.sum(corpus == c) for c in corpus])
    return weights * len(corpus) / weights.sum()


def loco(x: np.ndarray, labels: np.ndarray, corpus: np.ndarray, balance: bool = False,
         cost: float = COST) -> dict[str, float]:
    """UA on each corpus of a model fitted on the other two."""
    uas = {}
    for target in CORPORA:
        train, test = corpus != target, corpus == target
        model = build_classical("logistic", c=cost)
        weights = {"logisticregression__sample_weight": corpus_weights(corpus[train])} if balance else {}
        model.fit(x[train], labels[train], **weights)
        uas[target] = unweighted_average_recall(labels[test], model.predict(x[test]), labels=sorted(set(labels)))
    return uas


def name_of(chosen: list[int]) -> str:
    return "layers " + "+".join(map(str, chosen)) if len(chosen) > 1 else f"layer {chosen[0]}"


def variants(data: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, bool, bool, float]]:
    """Name -> (rows, corpus-balanced, adapted, cost), in the order they were tried."""
    mean, std, corpus = data["mean"], data["std"], data["corpus"]
    found = {f"layer {k}": (layers(mean, [k]), False, False, COST) for k in range(7)}
    for chosen in ([3, 4], [2, 3, 4], [3, 4, 5], [2, 3, 4, 5, 6], list(range(7))):
        found[name_of(chosen)] = (layers(mean, chosen), False, False, COST)
    for k in (3, 4):
        both = np.concatenate([layers(mean, [k]), layers(std, [k])], 1)
        found[f"layer {k}, mean and std"] = (both, False, False, COST)
        found[f"layer {k}, corpus-balanced"] = (layers(mean, [k]), True, False, COST)
    found["layers 3+4, corpus-balanced"] = (layers(mean, [3, 4]), True, False, COST)
    for chosen in ([3], [4], [3, 4], list(range(7))):
        found[f"{name_of(chosen)}, adapted"] = (by_corpus(layers(mean, chosen), corpus), False, True, COST)
    # the costs around the best plain and adapted variants, then the adapted layer sets near the best
    for cost in (1e-4, 3e-4, 3e-3, 1e-2, 1e-1):
        found[f"layers 3+4, cost {cost:g}"] = (layers(mean, [3, 4]), False, False, cost)
    for cost in (1e-4, 3e-4, 1e-2):
        found[f"{name_of(list(range(7)))}, adapted, cost {cost:g}"] = (by_corpus(mean, corpus), False, True, cost)
    for chosen in ([2, 3, 4, 5, 6], [3, 4, 5, 6], [1, 2, 3, 4, 5, 6]):
        found[f"{name_of(chosen)}, adapted"] = (by_corpus(layers(mean, chosen), corpus), False, True, COST)
    return found


def markdown(rows: dict[str, dict[str, float]], adapted: dict[str, bool], command: str) -> str:
    lines = ["# The accurate model's variants under leave-one-corpus-out (development figures)", "",
             __doc__.split("\n\n")[1].replace("\n", " ").replace("``", "`").removesuffix(" Writes docs/loco-variants.md::"), "", "```", command, "```", "",
             "UA in % per target corpus (trained on the other two) and the mean; *adapted*: every corpus "
             "standardised by its own statistics (declared; issue 18's goal there is 72, without it 65). "
             f"{len(rows)} variants were tried, in this order; the best of them by its mean is a figure chosen on, "
             "expected to be higher than what the same variant gives on corpora serkit never saw.", "",
             "| variant | adapted | " + " | ".join(CORPORA) + " | mean |", "|---" * (3 + len(CORPORA)) + "|"]
    for name, uas in rows.items():
        mean = 100 * np.mean(list(uas.values()))
        lines.append(f"| {name} | {'yes' if adapted[name] else 'no'} | "
                     + " | ".join(f"{100 * uas[c]:.1f}" for c in CORPORA) + f" | **{mean:.1f}** |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/serkit-cache"))
    parser.add_argument("--keep", type=Path, default=Path("/tmp/loco-variants-pooled.npz"))
    parser.add_argument("--write", action="store_true", help="write docs/loco-variants.md")
    args = parser.parse_args()
    data = pooled(args.cache, args.keep)
    rows, adapted = {}, {}
    for name, (x, balance, adapt, cost) in variants(data).items():
        rows[name], adapted[name] = loco(x, data["label"], data["corpus"], balance, cost), adapt
        print(name, {c: round(100 * u, 1) for c, u in rows[name].items()}, flush=True)
    if args.write:
        command = "SERKIT_CORPORA=/work/corpora python benchmarks/loco_variants.py --write"
        (REPO / "docs" / "loco-variants.md").write_text(markdown(rows, adapted, command))


if __name__ == "__main__":
    main()
