"""The layout is the pipeline: imports run one way, down it, and only the CLI prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "serkit"

#: Each stage may import the stages before it, never those after it.
PIPELINE = ("audio", "corpora", "features", "protocols", "evaluation", "models", "training",
            "experiments", "inference", "serving", "cli")
#: Models take tensors: they never read files, corpora or features.
MODELS_MAY_NOT = ("audio", "corpora", "features", "protocols")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        yield (parts[0] if len(parts) > 1 else None), path


def imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "serkit" and len(parts) > 1 and parts[1] in PIPELINE:
                stages.add(parts[1])
    return stages


@pytest.mark.parametrize("stage, path", [m for m in modules() if m[0] in PIPELINE],
                         ids=lambda v: str(v).split("src/serkit/")[-1])
def test_imports_run_down_the_pipeline(stage, path):
    later = set(PIPELINE[PIPELINE.index(stage) + 1:])
    assert not imported_stages(path) & later, f"{path} imports a later stage"
    if stage == "models":
        assert not imported_stages(path) & set(MODELS_MAY_NOT), f"{path}: models must not read data"


@pytest.mark.parametrize("stage, path", [m for m in modules() if m[0] != "cli"],
                         ids=lambda v: str(v).split("src/serkit/")[-1])
def test_library_code_does_not_print(stage, path):
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
    assert not calls, f"{path} prints; library code logs"
