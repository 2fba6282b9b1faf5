"""Models shipped inside the package, found by name, and their cards.

A shipped model is a model folder (as ``serkit train`` writes it:
``model.safetensors``, ``model.json``, ``card.json``, ``README.md``) under
``serkit/inference/models/<name>/``.  ``default`` is what ``serkit predict``
uses when no model is named.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from serkit.artifacts import CARD, SHIPPED_MODELS
from serkit.errors import SerkitError

DEFAULT_MODEL = "default"


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    name: str
    path: Path
    card: dict[str, Any]

    @property
    def summary(self) -> str:
        return card_summary(self.card)


def shipped_models(models_dir: Path = SHIPPED_MODELS) -> list[ShippedModel]:
    """Every model folder under ``models_dir`` (those with a ``model.json``), by name."""
    if not models_dir.is_dir():
        return []
    return [ShippedModel(p.name, p, read_card(p)) for p in sorted(models_dir.iterdir())
            if (p / "model.json").is_file()]


def shipped_model_path(name: str, models_dir: Path = SHIPPED_MODELS) -> Path | None:
    """The folder of the shipped model ``name``, or None."""
    path = models_dir / name
    return path if name and "/" not in name and (path / "model.json").is_file() else None


def default_model_path(models_dir: Path = SHIPPED_MODELS) -> Path:
    path = shipped_model_path(DEFAULT_MODEL, models_dir)
    if path is None:
        raise SerkitError(
            f"no default model is installed (looked for {models_dir / DEFAULT_MODEL}); "
            "name one with --model DIR|NAME|FILE.onnx (a folder written by `serkit train`)"
        )
    return path


def read_card(model_dir: Path) -> dict[str, Any]:
    """A model folder's ``card.json``, or an empty card when it has none."""
    path = Path(model_dir) / CARD
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SerkitError(f"{path}: unreadable model card ({error})") from None
    if not isinstance(card, dict):
        raise SerkitError(f"{path}: a model card is a JSON object, not {type(card).__name__}")
    return card


def _headline(pooled: dict[str, Any], targets: Any) -> str:
    """A card's cross-validated figures in a few words, whatever the task."""
    if targets:
        return "CCC " + ", ".join(f"{t} {pooled[f'ccc_{t}']:.3f}" for t in targets)
    shown = [(key, name) for key, name in (("ua", "UA"), ("wa", "WA"), ("cer", "CER"), ("wer", "WER"),
                                           ("fer", "FER"), ("per", "PER")) if key in pooled]
    return ", ".join(f"{name} {pooled[key]:.3f}" for key, name in shown)


def card_summary(card: dict[str, Any]) -> str:
    """One line: architecture, features, classes, cross-validated UA, size, and how to use it
    where a person wrote that on the card (``use``)."""
    if not card:
        return "(no model card)"
    parts = [f"{card.get('model', '?')} on {card.get('features', '?')}"]
    classes = card.get("classes") or []
    if classes:
        parts.append(f"{len(classes)} classes ({', '.join(classes)})")
    data = card.get("data") or {}
    if data.get("semi_synthetic_from"):
        parts.append(f"trained on a semi-synthetic test bed of {', '.join(data['semi_synthetic_from'])}")
    elif data.get("corpus"):
        parts.append(f"trained on {data['corpus']}")
    cv = card.get("cross_validation")
    if cv:
        parts.append(f"{cv['protocol']} {_headline(cv['pooled'], card.get('targets') or ())}")
    if card.get("size_bytes"):
        parts.append(f"{card['size_bytes'] / 1e6:.1f} MB")
    if card.get("use"):  # how the model is meant to be run, where that is not plain `serkit predict`
        parts.append(f"use: {card['use']}")
    return "; ".join(parts)
