"""``cv`` and ``train`` share one option set (RunOptions), and each still lists every option."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from serkit.cli.main import RunOptions, app

SHARED = ["--config", "--corpus", "--root", "--classes", "--validation", "--model", "--features",
          "--normalisation", "--epochs", "--seed", "--workers", "--threads", "--cache", "--device"]


@pytest.mark.parametrize("command, own", [("cv", ["--out", "--protocol", "--jobs"]),
                                          ("train", ["--out", "--cv-results"])])
def test_help_lists_every_shared_option_and_the_commands_own(command, own):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in SHARED + own:
        assert option in result.output, option


def test_the_options_build_the_recipe_they_override():
    recipe = RunOptions(model="svm", features="egemaps", normalisation="utterance", seed=3).recipe()
    assert (recipe.model, recipe.features, recipe.normalisation, recipe.seed) == ("svm", "egemaps", "utterance", 3)
    assert len(dataclasses.fields(RunOptions)) == len(SHARED)
