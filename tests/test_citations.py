"""Seed 003 is cited by its real authors and its only table.

Seed 003 (``../shared/seeds/003_*.txt``) is Lakomkin, Weber, Magg, Wermter: *Reusing Neural
Speech Representations for Auditory Emotion Recognition* (IJCNLP 2017); its one results table,
Table 1, holds the baseline, MP-x, RNN-x and progressive-net rows.  The project once cited it as
another paper's authors and table, in sources, recipes and committed runs alike.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from serkit.experiments.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]

#: The wrong first author, spelt so that this file does not match its own search.
WRONG_CITATION = "Tit" + "s,? et al"


def seed003_citing_recipes() -> list[Path]:
    """The recipes of recipes/seed003/ that name seed 003 as what they reproduce."""
    return [path for path in sorted((REPO / "recipes" / "seed003").glob("*.yaml"))
            if (load_recipe(path).reproduces or "").startswith("seed 003")]


def test_seed003_recipes_cite_lakomkin_and_the_papers_only_table():
    recipes = seed003_citing_recipes()
    assert recipes, "no recipe in recipes/seed003/ reproduces seed 003"
    for path in recipes:
        reproduces = load_recipe(path).reproduces
        assert "Lakomkin et al." in reproduces, f"{path.name}: reproduces does not name Lakomkin et al."
        assert set(re.findall(r"Table (\w+)", reproduces)) <= {"1"}, f"{path.name}: seed 003 has only Table 1"


def test_no_tracked_file_cites_the_wrong_authors():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    # git grep reads the working tree's tracked files; it exits 1 when nothing matches.
    found = subprocess.run(["git", "grep", "-I", "-l", "-i", "-E", WRONG_CITATION],
                           cwd=REPO, capture_output=True, text=True)
    assert found.returncode == 1, f"wrong citation of seed 003 in: {found.stdout.split()}{found.stderr}"
