"""A cross-validation fold's own model, published as a model folder with its card.

``serkit train`` trains again on the whole corpus, so its card quotes figures of other models: the
folds of ``serkit cv`` with the same recipe.  A recipe with one fold (a predefined split, such as
the seed 003 recognizer's held-out LibriSpeech speakers) can publish that fold's model instead
(``serkit train --from-cv RUN``): its card's figures are then the published model's own, on test
speakers it never trained or chose on, and its data are the fold's training part.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from serkit.artifacts import INFO, WEIGHTS, CvResults
from serkit.errors import SerkitError
from serkit.experiments.cv import load_corpus, run_folds
from serkit.experiments.recipe import Recipe
from serkit.outputs import owned_folder


def publish_fold_model(recipe: Recipe, run_dir: str | Path, model_dir: str | Path) -> dict[str, Any]:
    """Publish the model of ``run_dir``'s only fold (a finished ``serkit cv`` run of ``recipe``)
    into ``model_dir`` with its card; returns the card."""
    from serkit.experiments.train import model_card, publish, staging_folder, write_card

    run_dir, model_dir = Path(run_dir), Path(model_dir)
    results = CvResults.read(run_dir / "results.json")
    if results.config_hash != recipe.config_hash():
        raise SerkitError(f"{run_dir} ran another configuration ({results.config_hash}, this recipe is "
                          f"{recipe.config_hash()}): its model is not this recipe's")
    corpus = load_corpus(recipe)
    folds = run_folds(recipe, corpus)
    if len(folds) != 1 or recipe.ensemble != 1 or recipe.search:
        raise SerkitError(f"{recipe.name}: --from-cv publishes the model of a run with one fold, one seed and no "
                          f"search (a predefined split); this one has {len(folds)} folds, ensemble "
                          f"{recipe.ensemble}: use serkit train")
    fold = folds[0]
    record = json.loads((run_dir / "folds" / f"{fold.index:02d}" / "predictions.json").read_text())
    member = record["members"][0]
    source = run_dir / "folds" / f"{fold.index:02d}" / f"seed{member['seed']}" / "model"
    chosen = member["history"][member["chosen_epoch"] - 1]
    training = {"published_from": f"fold {fold.index:02d} of {run_dir.name}", "chosen_epoch": member["chosen_epoch"],
                "selection": member["selection"], "epochs_run": member["epochs_run"],
                "validation_at_chosen_epoch": {k: v for k, v in chosen.items() if k.startswith("validation_")},
                "seconds": round(float(record["seconds"]), 1)}
    train = corpus.table.iloc[list(fold.train)]
    with owned_folder(staging_folder(model_dir)) as staging:
        for name in (WEIGHTS, INFO):
            shutil.copy2(source / name, staging / name)
        card = model_card(recipe, corpus, fold, training, results, staging)
        card["data"] |= {"utterances": len(train), "speakers": sorted(train["speaker"].unique().tolist()),
                         "hours": round(float(train["duration"].sum()) / 3600, 3),
                         "test_speakers": list(fold.speakers("test"))}
        card = write_card(card, recipe, staging)
        publish(staging, model_dir)
    return card
