"""Model cards state the training corpora's terms and what they leave for the weights."""

from __future__ import annotations

import json

import pandas as pd

from serkit.corpora.registry import corpus_licence, training_licences, weights_licence


def test_each_corpus_we_train_on_records_its_terms():
    assert corpus_licence("nemo") == "CC BY-NC-SA 4.0"
    assert corpus_licence("librispeech") == "CC BY 4.0"
    assert corpus_licence("ased") is None  # none stated
    assert corpus_licence("EMO-DB") == corpus_licence("emodb") is not None


def test_share_alike_passes_to_the_weights_and_an_unstated_licence_blocks_them():
    assert weights_licence({"emodb": corpus_licence("emodb"), "nemo": "CC BY-NC-SA 4.0"}).startswith("CC BY-NC-SA 4.0")
    assert weights_licence({"emodb": corpus_licence("emodb"), "ased": None}).startswith("not cleared")
    assert "emodb" in weights_licence({"emodb": corpus_licence("emodb")})


def test_a_semi_synthetic_bed_carries_its_source_corpora_terms(tmp_path):
    (tmp_path / "streams.json").write_text(json.dumps({"corpus": "emodb,nemo"}))
    bed = pd.DataFrame({"corpus": ["recola", "recola"]})
    bed.attrs = {"root": str(tmp_path)}
    assert training_licences(bed) == {"emodb": corpus_licence("emodb"), "nemo": "CC BY-NC-SA 4.0"}
    several = pd.DataFrame({"corpus": ["emodb", "ased"]})
    assert training_licences(several) == {"ased": None, "emodb": corpus_licence("emodb")}
