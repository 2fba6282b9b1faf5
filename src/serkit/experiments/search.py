"""The settings search that ``serkit cv`` (per fold) and ``serkit train`` (once) share.

A recipe's ``search`` (``{layer: [0, 1, 2, 3]}``) expands into candidate
recipes; each is fitted on the training part and scored on the validation
part (or the training side's inner folds), and the best one is kept.  With
nothing to search the recipe is fitted as it is.  The test part is not here:
the caller predicts it with the kept fitter only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from serkit.errors import SerkitError
from serkit.experiments.fitters import Fitter, make_fitter
from serkit.experiments.fold_data import Part
from serkit.experiments.recipe import Recipe
from serkit.progress import Progress


@dataclasses.dataclass(frozen=True)
class Search:
    """The kept fitter, the values that chose it (``{}`` with no search) and every candidate's score."""

    fitter: Fitter
    chosen: dict[str, Any]
    tried: list[dict[str, Any]]

    def record(self) -> dict[str, Any]:
        """What a fold's ``predictions.json`` keeps of the choices."""
        record = self.fitter.record()
        if self.tried:
            record["search"] = {"chosen": self.chosen, "tried": self.tried}
        return record


def fit_best(recipe: Recipe, labels: tuple[str, ...], train: Part, validation: Part, out_dir: Path, *,
             threads: int | None = None, progress: Progress | None = None) -> Search:
    """Fit every candidate of ``recipe`` (checkpoints under ``out_dir``) and keep the best on validation."""
    candidates = recipe.candidates()
    if len(candidates) == 1:
        fitter = make_fitter(recipe, labels, out_dir, threads=threads, progress=progress)
        return Search(fitter.fit(train, validation), {}, [])
    tried, best = [], None
    for values, candidate in candidates:
        fitter = make_fitter(candidate, labels, out_dir / candidate_slug(values), threads=threads,
                             progress=progress).fit(train, validation)
        if fitter.validation_score is None:
            raise SerkitError("a search needs a validation part (or inner_cv) to choose on; there is none")
        tried.append({"values": values, "validation_ua": fitter.validation_ua, "validation": fitter.validation_score})
        if best is None or fitter.validation_score > best[1].validation_score:
            best = (values, fitter)
    return Search(best[1], best[0], tried)


def candidate_slug(values: dict[str, Any]) -> str:
    return "-".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())
