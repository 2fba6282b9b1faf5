"""Train one model on a whole corpus, to use rather than to score, and write its card.

The validation part is held out by speaker (the recipe's validation
strategy) and chooses the epoch; there is no test part, so the figures on
the card come from cross-validating the same recipe (``serkit cv``), whose
``results.json`` the caller passes in.  Nothing on the card is measured on
data the model was trained or chosen on, except what is labelled validation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from serkit import __version__
from serkit.errors import SerkitError
from serkit.experiments.cv import Corpus, FoldProgress, _features, load_corpus
from serkit.experiments.fitting import FoldData, prepare, train_member
from serkit.experiments.recipe import Recipe
from serkit.features.cache import FeatureCache
from serkit.protocols import make_folds
from serkit.training.checkpoint import atomic_write_text

MODEL_FILES = ("model.safetensors", "model.json")


def train_model(
    recipe: Recipe,
    model_dir: str | Path,
    *,
    cv_results: str | Path | None = None,
    cache: FeatureCache | None = None,
    workers: int | None = None,
    threads: int | None = None,
    progress: FoldProgress | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` on its whole corpus into ``model_dir``; returns the model card."""
    if recipe.classical:
        raise SerkitError(f"serkit train builds neural models; {recipe.model} is a cross-validation baseline")
    model_dir = Path(model_dir)
    crossval = _read_results(cv_results, recipe) if cv_results else None
    corpus = load_corpus(recipe)
    fold = make_folds(corpus.table, "all", recipe.validation, seed=recipe.seed, hashes=corpus.hashes)[0]
    features = _features(recipe, corpus.table, cache, workers, progress)
    prepared = prepare(recipe, FoldData.from_fold(corpus.table, fold, features, corpus.labels))
    report = (lambda d, t: progress("training", d, t)) if progress else None
    trainer, fit = train_member(recipe, prepared, recipe.seed, model_dir / "training", threads, report)
    for name in MODEL_FILES:
        shutil.copy2(model_dir / "training" / "model" / name, model_dir / name)
    card = model_card(recipe, corpus, fold, fit, crossval, model_dir)
    atomic_write_text(model_dir / "card.json", json.dumps(card, indent=2) + "\n")
    atomic_write_text(model_dir / "README.md", card_markdown(card))
    return card


def model_card(recipe: Recipe, corpus: Corpus, fold: Any, fit: Any, crossval: dict | None, model_dir: Path) -> dict:
    table = corpus.table
    validation = {k: v for k, v in fit.history[fit.chosen_epoch - 1].items() if k.startswith("validation_")}
    return {
        "serkit_version": __version__,
        "recipe": recipe.name,
        "model": recipe.model,
        "features": recipe.features,
        "normalisation": recipe.normalisation,
        "classes": list(corpus.labels),
        "class_set": recipe.classes,
        "data": {
            "corpus": recipe.corpus,
            "utterances": len(table),
            "speakers": sorted(table["speaker"].unique().tolist()),
            "hours": round(float(table["duration"].sum()) / 3600, 3),
            "data_hash": corpus.data_hash,
            "validation_speakers": list(fold.speakers("validation")),
        },
        "training": {"chosen_epoch": fit.chosen_epoch, "selection": fit.selection,
                     "epochs_run": fit.epochs_run, "validation_at_chosen_epoch": validation,
                     "seconds": round(fit.seconds, 1)},
        "cross_validation": None if crossval is None else {
            "protocol": crossval["protocol"],
            "pooled": crossval["pooled"],
            "mean": crossval["mean"],
            "ci95": {k: crossval["ci95"][k] for k in ("wa", "ua", "f1")},
            "config_hash": crossval["config_hash"],
        },
        "size_bytes": (model_dir / "model.safetensors").stat().st_size,
        "config_hash": recipe.config_hash(),
    }


def card_markdown(card: dict[str, Any]) -> str:
    data, cv = card["data"], card["cross_validation"]
    lines = [
        f"# Model card: {card['recipe']}",
        "",
        f"- model: {card['model']} on {card['features']} (normalisation: {card['normalisation']})",
        f"- classes ({card['class_set']}): {', '.join(card['classes'])}",
        f"- trained on: {data['corpus']}, {data['utterances']} utterances, {len(data['speakers'])} speakers "
        f"({data['hours']} h); epoch chosen on validation speakers {', '.join(data['validation_speakers'])}",
        f"- size: {card['size_bytes'] / 1e6:.2f} MB; serkit {card['serkit_version']}",
    ]
    if cv:
        lines.append(
            f"- cross-validated ({cv['protocol']}): pooled UA {cv['pooled']['ua']:.3f}, WA {cv['pooled']['wa']:.3f}, "
            f"F1 {cv['pooled']['f1']:.3f} (UA 95% CI {cv['ci95']['ua'][0]:.3f}-{cv['ci95']['ua'][1]:.3f})"
        )
    else:
        lines.append("- cross-validated figures: none given (run `serkit cv` with the same recipe)")
    return "\n".join(lines) + "\n"


def _read_results(path: str | Path, recipe: Recipe) -> dict[str, Any]:
    results = json.loads(Path(path).read_text())
    if results.get("config_hash") != recipe.config_hash():
        raise SerkitError(
            f"{path} cross-validated another configuration ({results.get('config_hash')}, "
            f"this recipe is {recipe.config_hash()}): its figures would not describe this model"
        )
    return results
