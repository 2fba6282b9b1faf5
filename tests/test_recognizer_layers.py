"""The frozen recognizer's layers as a feature (serkit.features.recognizer_layers): equal to the
DS2 module's own intermediate outputs, on the shared grid, cached by the recognizer's weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from serkit.artifacts import INFO, ModelInfo, write_model
from serkit.audio.io import load_audio
from serkit.errors import ConfigError
from serkit.features.base import feature_from_dict
from serkit.features.cache import FeatureCache
from serkit.features.normalise import GlobalNormaliser
from serkit.features.presets import get_feature, get_preset
from serkit.features.recognizer_layers import RecognizerLayers
from serkit.models import build_model
from serkit.models.registry import model_config

FRONT = "spectrogram-seed003:log=ln"  # the ds2 recipe's
OPTIONS = {"channels": [4, 4], "hidden": 24, "num_layers": 3}


@pytest.fixture(scope="module")
def clips(librispeech_root) -> list[np.ndarray]:
    flacs = sorted((librispeech_root / "train-clean-5" / "1867").glob("*/*.flac"))[:3]
    return [load_audio(f, 16000)[: 16000 * 3] for f in flacs]  # 3 s each: quick


@pytest.fixture(scope="module")
def recognizer(clips, tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A randomly initialised ds2 with random batch-norm statistics, written by serkit's model
    writer as training writes it: a global normaliser fitted on the clips' spectrograms."""
    torch.manual_seed(0)
    front = get_feature(FRONT)
    model = build_model("ds2", 161, 29, **OPTIONS).eval()
    with torch.no_grad():  # statistics and affine parameters away from 0 and 1, so each one counts
        for name, tensor in model.state_dict().items():
            if name.endswith(("running_mean", "norm.weight", "norm.bias")):
                tensor.normal_(0.0, 0.5).add_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
    normaliser = GlobalNormaliser().fit([front.compute(c) for c in clips])
    info = ModelInfo(model=model_config(model), features=front.to_dict(), feature_preset=FRONT,
                     labels=("_", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ' "), task={"kind": "ctc"},
                     normalisation="global", normaliser=normaliser.to_dict())
    folder = tmp_path_factory.mktemp("ds2") / "model"
    write_model(folder, model.state_dict(), info)
    return folder, model


def module_states(model, x: np.ndarray) -> dict[str, torch.Tensor]:
    """The DS2 module's own outputs of conv2 and each GRU layer, ``(frames, width)``."""
    seen: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_, __, output):
            h = output[0] if isinstance(output, tuple) else output  # conv layers give (h, lengths)
            seen[name] = h.flatten(1, 2).transpose(1, 2)[0] if h.dim() == 4 else h[0]
        return hook

    handles = [getattr(model, n).register_forward_hook(keep(n)) for n in ("conv2", "gru1", "gru2", "gru3")]
    with torch.no_grad():
        model(torch.from_numpy(x)[None], torch.tensor([x.shape[1]]))
    for h in handles:
        h.remove()
    return seen


def test_each_layer_equals_the_ds2_modules_own_output(recognizer, clips):
    folder, model = recognizer
    feature = get_feature(f"recognizer-seed003:model={folder},layer=1")
    front = get_feature(FRONT)
    normaliser = feature.loaded[1]
    for clip in clips:
        states = module_states(model, normaliser.transform(front.compute(clip)))
        for layer, name in enumerate(("conv2", "gru1", "gru2", "gru3")):
            ours = RecognizerLayers(feature.config, layer=layer).process_signal(clip)
            assert ours.dtype == np.float32 and ours.shape == tuple(states[name].T.shape)
            assert ours.shape[1] == 1 + len(clip) // 320  # the shared grid at hop 320
            np.testing.assert_allclose(ours, states[name].T.numpy(), rtol=1e-4, atol=1e-4)
        stacked = RecognizerLayers(feature.config, layer=(3, 1)).process_signal(clip)
        np.testing.assert_allclose(stacked, torch.cat([states["gru3"], states["gru1"]], 1).T.numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_hop_160_lines_up_with_the_10ms_features_for_the_progressive_net(recognizer, clips):
    folder, _ = recognizer
    spec = f"mfcc-seed003+pitch-seed003+recognizer-seed003:model={folder},layer=2,hop=160"
    combined = get_preset(spec).feature
    own = RecognizerLayers(model=str(folder), layer=2).process_signal(clips[0])
    out = combined.process_signal(clips[0])
    assert out.shape == (26 + 2 + 48, 1 + len(clips[0]) // 160)
    np.testing.assert_array_equal(out[28:, 0::2], own)  # every even frame is the recognizer's own


def test_the_cache_key_follows_the_weights_and_the_feature_reads_back(recognizer, tmp_path):
    folder, model = recognizer
    info = ModelInfo.from_dict(json.loads((folder / INFO).read_text()), folder / INFO)
    copy = tmp_path / "model"
    write_model(copy, model.state_dict(), info)
    feature = RecognizerLayers(model=str(copy), layer=2)
    assert feature_from_dict(feature.to_dict()) == feature
    before = feature.config_hash()
    assert RecognizerLayers(model=str(copy), layer=3).config_hash() != before
    changed = {k: v + 0.01 if k == "gru2.rnn.forward_lstms.0.bias_hh_l0" else v for k, v in model.state_dict().items()}
    write_model(copy, changed, info)
    retrained = RecognizerLayers(model=str(copy), layer=2)
    assert retrained.config_hash() != before
    assert FeatureCache(tmp_path / "cache").folder(retrained).name == f"{retrained.config_hash()}-16000hz"


def test_a_layer_or_hop_the_recognizer_lacks_is_refused_when_it_loads(recognizer, clips):
    folder, _ = recognizer
    with pytest.raises(ConfigError, match="layers 0..3"):
        RecognizerLayers(model=str(folder), layer=4).process_signal(clips[0])
    with pytest.raises(ConfigError, match="hop 320 or 160"):
        RecognizerLayers(model=str(folder), layer=1, hop=480).process_signal(clips[0])
    with pytest.raises(ConfigError):
        RecognizerLayers(layer=(1, 1))
