"""The Whisper feature's fast paths against its reference, on real EMO-DB audio, and the shipped `accurate` model on them.

* ``padding="cached"``: exact when the cached keys and values are the window's
  own; with the silent window's, close to the fully encoded window, much
  closer than no padding at all.
* ``runtime="onnx"``: the same computation as PyTorch in another order:
  frames within about 1e-3 of values up to a few hundred, utterance means
  within about 1e-5.
"""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch

from serkit.audio import load_audio
from serkit.features.whisper.cached_padding import CachedPadding
from serkit.features.whisper.frontend import log_mel, pad_window
from serkit.features.whisper.layers import WhisperLayers
from serkit.features.whisper.registry import RECOGNIZERS, load_recognizer, recognizer_status
from serkit.inference import load_model
from serkit.inference.predictor import Predictor
from serkit.inference.registry import shipped_model_path

#: onnxruntime against PyTorch, frames: float32 in another order through blocks whose residual
#: stream reaches a few hundred in some dimensions (measured: 4e-3 at most on 40 clips).
FRAME_ATOL = 2e-2
#: ... and utterance means (measured: 2e-5 at most on 40 clips; the means reach about 5).
POOLED_ATOL = 2e-4
#: Cached padding given the window's own keys and values, against the whole window (measured 6e-6).
EXACT_ATOL = 1e-4


def installed(name: str) -> None:
    status = recognizer_status(RECOGNIZERS[name])
    if status != "installed":
        pytest.skip(f"{name} not installed: {status}")


@pytest.fixture(scope="module")
def clips(emodb_wavs):
    # 20 clips over every speaker, 1.5 s to 5.5 s.
    return [load_audio(path, 16_000) for path in emodb_wavs[::27]]


@pytest.fixture(scope="module")
def base():
    installed("whisper-base")
    return load_recognizer("whisper-base")


def layer4(encoder, **config) -> WhisperLayers:
    made = WhisperLayers(model="whisper-base", layer=4, **config)
    made._encoder = encoder  # one verified copy of the weights for every configuration
    return made


def test_cached_padding_is_the_window_itself_given_the_windows_own_padding(base, clips):
    fast = layer4(base, padding="cached")
    for clip in clips[:4]:
        window = log_mel(pad_window(clip))[None]
        mel, frames = fast.encoder_input(clip)
        with torch.inference_mode():
            reference = base(window, upto=4)[-1][0, :frames]
            own = CachedPadding(base, 4, window=window)(mel, upto=4)[-1][0, :frames]
        np.testing.assert_allclose(own.numpy(), reference.numpy(), atol=EXACT_ATOL, rtol=0)


def test_a_full_window_has_nothing_to_cache(base, clips):
    recording = np.concatenate(clips)[: 31 * 16_000]  # one full 30 s window and 1 s more
    reference = layer4(base).compute(recording)
    fast = layer4(base, padding="cached").compute(recording)
    assert fast.shape == reference.shape == (512, 1 + len(recording) // 320)
    np.testing.assert_allclose(fast[:, :1500], reference[:, :1500], atol=EXACT_ATOL, rtol=0)


def test_cached_padding_stays_close_to_the_encoded_padding(base, clips):
    encoded, cached, unpadded = layer4(base), layer4(base, padding="cached"), layer4(base, padded=False)
    gaps, unpadded_gaps = [], []
    for clip in clips[::2]:
        reference = encoded.compute(clip).mean(axis=1)
        gaps.append(np.abs(cached.compute(clip).mean(axis=1) - reference))
        unpadded_gaps.append(np.abs(unpadded.compute(clip).mean(axis=1) - reference))
    gaps, unpadded_gaps = np.stack(gaps), np.stack(unpadded_gaps)
    # Measured: median 0.02, 95th percentile 0.06 (one dimension, 388, carries a few large
    # activations that either way can move by several units); unpadded, median 0.06.
    assert np.median(gaps) < 0.05 and np.percentile(gaps, 95) < 0.15
    assert np.median(gaps) < 0.5 * np.median(unpadded_gaps)


@pytest.mark.parametrize("config", [{"padded": False}, {"padding": "cached"}], ids=["unpadded", "cached padding"])
def test_onnx_layer_4_is_pytorchs_on_real_clips(base, clips, config):
    torch_path, onnx_path = layer4(base, **config), layer4(base, runtime="onnx", **config)
    for clip in clips[::2]:
        reference, fast = torch_path.compute(clip), onnx_path.compute(clip)
        assert fast.shape == reference.shape == (512, 1 + len(clip) // 320)
        np.testing.assert_allclose(fast, reference, atol=FRAME_ATOL, rtol=0)
        np.testing.assert_allclose(fast.mean(axis=1), reference.mean(axis=1), atol=POOLED_ATOL, rtol=0)


def test_onnx_stacks_every_layer_as_pytorch_does(clips):
    installed("whisper-tiny.en")
    tiny = load_recognizer("whisper-tiny.en")
    for config in ({"padded": True}, {"padding": "cached"}, {"padded": False}):
        made = [WhisperLayers(model="whisper-tiny.en", runtime=runtime, **config) for runtime in ("torch", "onnx")]
        for feature in made:
            feature._encoder = tiny
        reference, fast = (feature.compute(clips[0]) for feature in made)
        assert fast.shape == reference.shape == (5 * 384, 1 + len(clips[0]) // 320)
        np.testing.assert_allclose(fast, reference, atol=FRAME_ATOL, rtol=0)


def test_int8_weights_change_the_layers_more_than_rounding(base, clips):
    fp32, int8 = layer4(base, padding="cached", runtime="onnx"), layer4(base, padding="cached", runtime="onnx-int8")
    gaps = np.stack([np.abs(int8.compute(c).mean(axis=1) - fp32.compute(c).mean(axis=1)) for c in clips[:5]])
    # A model reads int8 layers only if trained on them; they stay correlated with float32's.
    assert POOLED_ATOL < np.median(gaps) < 0.2


def test_new_settings_leave_older_cache_keys_alone():
    plain = WhisperLayers(model="whisper-base", layer=4)
    assert {"runtime", "padding"}.isdisjoint(plain.to_dict()["config"])
    assert plain.config_hash() == WhisperLayers(model="whisper-base", layer=4, runtime="torch",
                                                padding="encoded").config_hash()
    hashes = {WhisperLayers(model="whisper-base", layer=4, runtime=r, padding=p).config_hash()
              for r in ("torch", "onnx", "onnx-int8") for p in ("encoded", "cached")}
    assert len(hashes) == 6
    with pytest.raises(ValueError, match="runtime must be one of torch, onnx, onnx-int8"):
        WhisperLayers(runtime="tensorrt")
    with pytest.raises(ValueError, match="padding must be one of encoded, cached"):
        WhisperLayers(padding="dropped")
    with pytest.raises(ValueError, match="needs padded=True"):
        WhisperLayers(padded=False, padding="cached")


def test_a_feature_pickles_without_its_session_or_cache(base, clips):
    made = layer4(base, padding="cached", runtime="onnx")
    before = made.compute(clips[0])
    copy = pickle.loads(pickle.dumps(made))
    assert copy._onnx is None and copy._cached is None and copy == made
    copy._encoder = base
    np.testing.assert_array_equal(copy.compute(clips[0]), before)


@pytest.fixture(scope="module")
def accurate():
    """The EMO-DB-only model (shipped as ``accurate`` until issue 18's retraining), whose padding
    was first cached: the model these labels were checked for."""
    path = shipped_model_path("accurate-emodb")
    if path is None:
        pytest.skip("no accurate-emodb model is shipped")
    installed(json.loads((path / "model.json").read_text())["features"]["config"]["model"])
    return load_model("accurate-emodb", backend="torch")


def test_the_emodb_accurate_model_predicts_on_the_fast_path_as_before(accurate, emodb_wavs):
    """20 of EMO-DB's 4-class files: the same labels as on the fully encoded window, and as the
    model this one replaced (the padding encoded; it gave every 4-class file its own emotion)."""
    feature = accurate.spec.feature
    assert feature.cached_padding, "the accurate-emodb model should cache the window's padding"
    whole = WhisperLayers(dataclasses.replace(feature.config, padding="encoded"))
    reference = Predictor(dataclasses.replace(accurate.spec, feature=whole), accurate.backend, accurate.config)
    emotions = {"W": "anger", "F": "happiness", "N": "neutral", "T": "sadness"}
    paths = [path for path in emodb_wavs if path.name[5] in emotions][::17]
    fast, slow = accurate.predict_files(paths), reference.predict_files(paths)
    assert len(paths) == 20 and all(r.ok for r in fast + slow)
    assert [r.label for r in fast] == [r.label for r in slow] == [emotions[path.name[5]] for path in paths]
