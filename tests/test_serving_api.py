"""The REST service, through a real uvicorn process on a loopback port.

The server is started with ``serkit serve`` on a tiny model trained here on
three EMO-DB speakers (one epoch: a few seconds), and every answer is compared
with the library's own prediction of the same file, so the HTTP layer is
checked for what it returns, not only for its status codes.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

#: The server under test refuses uploads past this (decimal MB) or this much audio.
MAX_MB = 1
MAX_SECONDS = 30
SPEAKERS = ("03", "08", "09")
#: ``serkit serve`` through the module that registers it, so the test does not rely on main.py's wiring.
SERVE = ("import typer; from serkit.cli.serving import register; "
         "app = typer.Typer(); app.callback()(lambda: None); register(app); app()")


# -- helpers shared with test_serving_page.py ---------------------------------------


def trained_model(emodb_root: Path, base: Path) -> Path:
    """A one-epoch BLSTM on three EMO-DB speakers, trained once per test session under ``base``."""
    from serkit.experiments.recipe import Recipe
    from serkit.experiments.train import train_model

    model_dir = base / "serving-model"
    if (model_dir / "card.json").is_file():
        return model_dir
    root = base / "serving-emodb"
    (root / "wav").mkdir(parents=True, exist_ok=True)
    for wav in sorted((emodb_root / "wav").glob("*.wav")):
        if wav.name[:2] in SPEAKERS and not (root / "wav" / wav.name).exists():
            (root / "wav" / wav.name).symlink_to(wav)
    recipe = Recipe(root=str(root), model="blstm", features="logmel-seed001", validation="speakers:1",
                    model_options={"hidden": 16}).override(epochs=1)
    train_model(recipe, model_dir, workers=1, threads=1)
    return model_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(model_dir: Path, log_path: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``serkit serve`` on a free loopback port until the block ends; yields its base URL.

    ``env`` is the server's environment (default: this process's).
    """
    for _ in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", SERVE, "serve", "--model", str(model_dir), "--port", str(port), *options],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        try:
            if _wait_healthy(port, process):
                yield f"http://127.0.0.1:{port}"
                return
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if b"address already in use" not in log_path.read_bytes().lower():
            break
    pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")


def _wait_healthy(port: int, process: subprocess.Popen, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if request(f"http://127.0.0.1:{port}", "GET", "/health", timeout=2)[0] == 200:
                return True
        except OSError:
            time.sleep(0.1)
    return False


def request(base: str, method: str, path: str, body: Any = None, headers: dict | None = None,
            timeout: float = 60, chunked: bool = False) -> tuple[int, Any]:
    """One HTTP request; returns the status and the decoded JSON (or text) answer."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.getheader("content-type", "").startswith("application/json"):
        return response.status, json.loads(data)
    return response.status, data.decode("utf-8", "replace")


def multipart(name: str, data: bytes, field: str = "file") -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body holding one file, and its header."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(base: str, path: Path) -> tuple[int, Any]:
    body, headers = multipart(path.name, path.read_bytes())
    return request(base, "POST", "/predict", body, headers)


def library_answer(predictor: Any, path: Path) -> dict[str, Any]:
    """What the service should answer for ``path``: the library's prediction, named by file name."""
    return {**predictor.predict_file(path).to_dict(), "path": path.name}


def assert_same_answer(got: dict[str, Any], expected: dict[str, Any], tolerance: float = 1e-5) -> None:
    assert got.keys() == expected.keys()
    assert (got["path"], got["label"]) == (expected["path"], expected["label"])
    assert got["duration"] == pytest.approx(expected["duration"], abs=1e-3)
    assert got["probabilities"].keys() == expected["probabilities"].keys()
    for label, p in expected["probabilities"].items():
        assert got["probabilities"][label] == pytest.approx(p, abs=tolerance), label
    for mine, theirs in zip(got.get("segments", []), expected.get("segments", []), strict=True):
        assert (mine["start"], mine["end"], mine["label"]) == (theirs["start"], theirs["end"], theirs["label"])


def concatenated(wavs: list[Path], path: Path) -> Path:
    """A long recording made of several clips, each followed by half a second of silence."""
    pieces = []
    for wav in wavs:
        signal, rate = sf.read(wav, dtype="float32")
        pieces += [signal, np.zeros(rate // 2, np.float32)]
    sf.write(path, np.concatenate(pieces), rate, subtype="PCM_16")
    return path


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(emodb_root, tmp_path_factory) -> Path:
    return trained_model(emodb_root, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def predictor(model_dir):
    from serkit.inference import load_model

    return load_model(str(model_dir))


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    # --max-uploads above the 20 concurrent requests below: on a loaded machine 20 uploads can be in
    # flight at once, and the limit's own 503 is tested in test_serving_hardening.py
    with running_server(model_dir, log, "--max-mb", str(MAX_MB), "--max-seconds", str(MAX_SECONDS),
                        "--max-uploads", "32") as base:
        yield base


@pytest.fixture(scope="module")
def clips(emodb_wavs) -> list[Path]:
    """Five clips of different speakers and emotions."""
    return [w for w in emodb_wavs if w.name[:2] in ("10", "11", "12", "13", "14")][::23][:5]


# -- the endpoints --------------------------------------------------------------------


def test_health_and_models_describe_the_loaded_model(server, model_dir):
    card = json.loads((model_dir / "card.json").read_text())
    status, health = request(server, "GET", "/health")
    assert status == 200 and health["status"] == "ok"
    assert health["labels"] == card["classes"]
    status, models = request(server, "GET", "/models")
    assert status == 200
    assert models["card"] == card and models["labels"] == card["classes"]


def test_openapi_documents_predict_and_its_errors(server):
    status, spec = request(server, "GET", "/openapi.json")
    assert status == 200
    post = spec["paths"]["/predict"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "application/octet-stream" in post["requestBody"]["content"]
    assert {"200", "413", "422"} <= set(post["responses"])
    assert {"/health", "/models"} <= set(spec["paths"])
    status, docs = request(server, "GET", "/docs")
    assert status == 200 and "swagger" in docs.lower()


def test_page_and_its_script_are_served(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and 'id="file"' in page and "static/app.js" in page
    status, script = request(server, "GET", "/static/app.js")
    assert status == 200 and "predict" in script


def test_multipart_upload_answers_what_the_library_predicts(server, predictor, clips):
    for clip in clips[:3]:
        status, answer = upload(server, clip)
        assert status == 200, answer
        assert "error" not in answer
        assert answer["label"] in predictor.labels
        assert sum(answer["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert_same_answer(answer, library_answer(predictor, clip))


def test_raw_body_answers_as_multipart_does(server, clips):
    clip = clips[0]
    status, raw = request(server, "POST", f"/predict?filename={clip.name}", clip.read_bytes(),
                          {"Content-Type": "audio/wav"})
    assert status == 200, raw
    assert raw == upload(server, clip)[1]
    status, unnamed = request(server, "POST", "/predict", clip.read_bytes())
    assert status == 200 and unnamed["path"] == "upload.wav" and unnamed["label"] == raw["label"]


def test_long_recording_gets_a_timeline(server, predictor, clips, tmp_path):
    long = concatenated(clips[:4], tmp_path / "long.wav")
    status, answer = upload(server, long)
    assert status == 200, answer
    assert answer["segments"], "a recording past the segmentation threshold is segmented"
    for segment in answer["segments"]:
        assert 0 <= segment["start"] < segment["end"] <= answer["duration"] + 1e-3
        assert sum(segment["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert_same_answer(answer, library_answer(predictor, long))


# -- audio the loader must convert ----------------------------------------------------


def test_stereo_44k_is_mixed_down_and_resampled(server, predictor, clips, tmp_path):
    signal, rate = sf.read(clips[1], dtype="float32")
    stereo = np.stack([soxr.resample(signal, rate, 44_100)] * 2, axis=1)
    path = tmp_path / "stereo-44k.wav"
    sf.write(path, stereo, 44_100, subtype="PCM_16")
    status, answer = upload(server, path)
    assert status == 200, answer
    assert_same_answer(answer, library_answer(predictor, path))
    # Mixing identical channels and resampling back loses next to nothing: the answer stays the 16 kHz one.
    original = library_answer(predictor, clips[1])
    assert answer["duration"] == pytest.approx(original["duration"], abs=2e-3)
    for label, p in original["probabilities"].items():
        assert answer["probabilities"][label] == pytest.approx(p, abs=0.02)


def test_telephone_8k_audio_is_upsampled(server, predictor, clips, tmp_path):
    signal, rate = sf.read(clips[2], dtype="float32")
    path = tmp_path / "telephone-8k.wav"
    sf.write(path, soxr.resample(signal, rate, 8_000), 8_000, subtype="PCM_16")
    status, answer = upload(server, path)
    assert status == 200, answer
    assert answer["duration"] == pytest.approx(len(signal) / rate, abs=2e-3)
    assert_same_answer(answer, library_answer(predictor, path))


# -- bad input: always a 4xx with a message -----------------------------------------------


def _bad_files(clip: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, a word the error must contain)."""
    data = clip.read_bytes()
    signal, rate = sf.read(clip, dtype="int16")

    def wav(samples: np.ndarray) -> bytes:
        import io

        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()

    return {
        "empty.wav": (b"", "empty"),
        "notes.wav": (b"this is a text file, not a recording\n" * 20, "not a readable audio file"),
        "truncated.wav": (data[: len(data) // 2], "truncated"),
        "blip.wav": (wav(signal[: rate // 20]), "too short"),
        "silence.wav": (wav(np.zeros(2 * rate, np.int16)), "silent"),
    }


@pytest.mark.parametrize("name", ["empty.wav", "notes.wav", "truncated.wav", "blip.wav", "silence.wav"])
def test_unusable_audio_is_422_naming_the_file_and_reason(server, clips, name):
    data, reason = _bad_files(clips[0])[name]
    status, answer = request(server, "POST", "/predict", *multipart(name, data))
    assert status == 422, answer
    assert answer["error"].startswith(f"{name}: ") and reason in answer["error"]


def test_malformed_requests_are_4xx_with_an_error(server, clips):
    body, headers = multipart(clips[0].name, clips[0].read_bytes(), field="audio")
    status, answer = request(server, "POST", "/predict", body, headers)
    assert status == 422 and "file" in answer["error"]
    status, answer = request(server, "POST", "/predict", b"--x\r\nnot multipart at all",
                             {"Content-Type": "multipart/form-data; boundary=zzz"})
    assert status == 400 and "multipart" in answer["error"]
    status, answer = request(server, "GET", "/predict")
    assert status == 405 and answer["error"]
    status, answer = request(server, "GET", "/nowhere")
    assert status == 404 and answer["error"]


# -- limits ------------------------------------------------------------------------------


def _long_wav(seconds: float, rate: int, path: Path) -> Path:
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal(int(seconds * rate)).astype(np.float32), rate, subtype="PCM_16")
    return path


def test_upload_past_the_size_limit_is_413(server, tmp_path):
    big = _long_wav(40, 16_000, tmp_path / "big.wav")  # 1.28 MB
    assert big.stat().st_size > MAX_MB * 1e6
    status, answer = upload(server, big)
    assert status == 413 and "limit" in answer["error"]
    # Without Content-Length the size is only known while the body streams in.
    data = big.read_bytes()
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    status, answer = request(server, "POST", "/predict", chunks, chunked=True)
    assert status == 413 and "limit" in answer["error"]


def test_audio_past_the_duration_limit_is_413(server, tmp_path):
    long = _long_wav(MAX_SECONDS + 5, 8_000, tmp_path / "long-8k.wav")  # small in bytes, long in seconds
    assert long.stat().st_size < MAX_MB * 1e6
    status, answer = upload(server, long)
    assert status == 413 and answer["error"].startswith("long-8k.wav: ") and "limit" in answer["error"]


# -- concurrency ------------------------------------------------------------------------------


def test_twenty_concurrent_requests_each_get_their_own_answer(server, clips):
    alone = {clip.name: upload(server, clip)[1] for clip in clips}
    requests = [clips[i % len(clips)] for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda clip: upload(server, clip), requests))
    for clip, (status, answer) in zip(requests, answers, strict=True):
        assert status == 200, answer
        assert_same_answer(answer, alone[clip.name], tolerance=1e-6)


# -- the command ----------------------------------------------------------------------------


def test_serve_with_a_missing_model_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-c", SERVE, "serve", "--model", str(tmp_path / "nowhere")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "error:" in result.stderr and "nowhere" in result.stderr and "Traceback" not in result.stderr
