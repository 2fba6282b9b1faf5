"""The shipped `accurate` model: Whisper base MP-x, found by name, with an honest card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serkit.features.whisper.registry import RECOGNIZERS, recognizer_status
from serkit.inference import load_model
from serkit.inference.registry import shipped_model_path

from conftest import REPO


@pytest.fixture(scope="module")
def accurate():
    path = shipped_model_path("accurate")
    if path is None:
        pytest.skip("no accurate model is shipped")
    recognizer = json.loads((path / "model.json").read_text())["features"]["config"]["model"]
    status = recognizer_status(RECOGNIZERS[recognizer])
    if status != "installed":
        pytest.skip(f"{recognizer} not installed: {status}")
    return load_model("accurate")


def test_its_card_names_data_choice_licence_accuracy_and_speed(accurate):
    card = accurate.card
    # issue 18: trained on EMO-DB and nEMO, never on ASED (no licence stated)
    assert card["data"]["corpus"] == "emodb+nemo" and len(card["data"]["speakers"]) == 19
    assert set(card["data"]["licences"]) == {"emodb", "nemo"} and "NC" in card["weights_licence"]
    assert card["features"].endswith("layer 3+4") and accurate.spec.feature.config.layer == (3, 4)
    assert card["cross_validation"]["protocol"] == "speaker-kfold:5"
    assert card["training"]["chosen_by"] == "recipe"  # the cost chosen under loco, set in the recipe
    assert any("loco" in note and "ASED" in note for note in card["notes"])
    assert card["speed"]["x_real_time"] > 0 and "command" in card["speed"]


def test_the_emodb_only_model_it_replaced_still_loads_by_name():
    path = shipped_model_path("accurate-emodb")
    if path is None:
        pytest.skip("accurate-emodb is not shipped")
    card = json.loads((path / "card.json").read_text())
    assert card["data"]["corpus"] == "emodb" and card["cross_validation"]["protocol"] == "loso"
    model = load_model("accurate-emodb")
    assert model.spec.feature.config.layer == 4 and model.labels == load_model("accurate").labels


def test_it_predicts_the_example_clips(accurate):
    clips = sorted((REPO / "examples" / "emodb" / "wav").glob("*.wav"))
    results = accurate.predict_files(clips)
    assert all(r.ok for r in results)
    for r in results:
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert set(r.probabilities) == set(accurate.labels)
    # It has heard these speakers (trained on all of EMO-DB): not a test, but it must agree with them.
    truth = {"W": "anger", "F": "happiness", "N": "neutral", "T": "sadness"}
    known = [(r.label, truth[c.name[5]]) for r, c in zip(results, clips) if c.name[5] in truth]
    assert known and np.mean([a == b for a, b in known]) >= 0.75
