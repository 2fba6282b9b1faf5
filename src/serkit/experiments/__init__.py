"""Experiments: recipes, cross-validation and whole-corpus training on top of the pipeline.

This is where the stages meet: corpora, features, protocols, models, training
and evaluation.  The CLI's ``cv`` and ``train`` commands are thin shells over
:func:`run_cv` and :func:`train_model`.
"""

from serkit.experiments.cv import run_cv
from serkit.experiments.recipe import Recipe, load_recipe

__all__ = ["Recipe", "load_recipe", "run_cv"]
