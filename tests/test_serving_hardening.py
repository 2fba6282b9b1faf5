"""The REST service against hostile or careless clients, through a real uvicorn process.

A client picks the file name (it must never reach the file system), may stall
in the middle of its body (it must not be held forever), and many such clients
at once must not exhaust the server's descriptors and temporary folders.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from test_serving_api import SERVE, multipart, request, running_server, trained_model, upload

#: The server under test gives a body this many seconds, and receives at most this many at once.
UPLOAD_TIMEOUT = 4
MAX_UPLOADS = 2


@pytest.fixture(scope="module")
def model_dir(emodb_root, tmp_path_factory) -> Path:
    return trained_model(emodb_root, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def uploads_folder(tmp_path_factory) -> Path:
    """The server's temporary folder (its ``TMPDIR``), where each upload gets a folder of its own."""
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="module")
def server(model_dir, uploads_folder, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("hardened") / "server.log"
    options = ("--upload-timeout", str(UPLOAD_TIMEOUT), "--max-uploads", str(MAX_UPLOADS))
    with running_server(model_dir, log, *options, env={**os.environ, "TMPDIR": str(uploads_folder)}) as base:
        yield base


@pytest.fixture(scope="module")
def clip(emodb_wavs) -> Path:
    return next(w for w in emodb_wavs if w.name[:2] == "10")


def stalled_upload(base: str, declared: int = 500_000) -> socket.socket:
    """A raw-body upload that declares ``declared`` bytes, sends 9 of them and stalls."""
    host, port = base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=UPLOAD_TIMEOUT + 30)
    connection.sendall(f"POST /predict?filename=stalled.wav HTTP/1.1\r\nHost: {host}\r\n"
                       f"Content-Type: audio/wav\r\nContent-Length: {declared}\r\n\r\nRIFF\0\0\0\0W".encode())
    return connection


def answer_on(connection: socket.socket) -> tuple[int, http.client.HTTPMessage, Any]:
    """The status, headers and JSON answer the server sends on ``connection``."""
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response.status, response.headers, json.loads(response.read())


def eventually(check: Callable[[], Any], timeout: float) -> Any:
    """The first true value ``check`` returns within ``timeout`` seconds (else its last value)."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def upload_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob("serkit-upload-*"))


# -- the name the client sends ---------------------------------------------------------------


NAMES = {"nul": "clip.wa\0v", "long-extension": "clip." + "x" * 300, "control": "clip\n\x7f.wav"}


@pytest.mark.parametrize("case", NAMES)
def test_the_client_file_name_never_reaches_the_file_system(server, clip, case):
    name = NAMES[case]
    status, multipart_answer = request(server, "POST", "/predict", *multipart(name, clip.read_bytes()))
    assert status == 200, multipart_answer
    assert multipart_answer["path"] == name  # echoed back as a plain JSON string
    status, raw_answer = request(server, "POST", f"/predict?filename={quote(name)}", clip.read_bytes())
    assert status == 200, raw_answer
    assert raw_answer == multipart_answer


# -- stalled and piled-up uploads ---------------------------------------------------------------


def test_a_stalled_upload_is_408_and_its_temporary_folder_removed(server, uploads_folder):
    start = time.monotonic()
    with closing(stalled_upload(server)) as connection:
        assert eventually(lambda: upload_folders(uploads_folder), UPLOAD_TIMEOUT), "the upload is being received"
        status, headers, answer = answer_on(connection)
    waited = time.monotonic() - start
    assert status == 408, answer
    assert f"{UPLOAD_TIMEOUT} s" in answer["error"]
    assert UPLOAD_TIMEOUT - 0.5 < waited < UPLOAD_TIMEOUT + 10
    assert headers["connection"] == "close"
    assert not upload_folders(uploads_folder)


def test_an_upload_past_the_cap_is_503_with_retry_after(server, clip):
    stalled = [stalled_upload(server) for _ in range(MAX_UPLOADS)]
    try:
        # The stalled uploads hold their places once the server has read their headers: soon, not at once.
        refused = eventually(lambda: _answer_if_503(server, clip), UPLOAD_TIMEOUT / 2)
        assert refused, f"a third upload was not refused while {MAX_UPLOADS} stalled"
        status, headers, answer = refused
        assert status == 503 and f"{MAX_UPLOADS} uploads" in answer["error"]
        assert int(headers["retry-after"]) > 0
    finally:
        for connection in stalled:
            connection.close()
    # A client that goes away gives its place back.
    assert eventually(lambda: upload(server, clip)[0] == 200, 5)


def _answer_if_503(server: str, clip: Path) -> tuple[int, Any, Any] | None:
    host, port = server.removeprefix("http://").split(":")
    with closing(http.client.HTTPConnection(host, int(port), timeout=UPLOAD_TIMEOUT + 30)) as connection:
        body, headers = multipart(clip.name, clip.read_bytes())
        connection.request("POST", "/predict", body, headers)
        response = connection.getresponse()
        answer = (response.status, response.headers, json.loads(response.read()))
    return answer if answer[0] == 503 else None


# -- the command ----------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_serve_on_a_port_out_of_range_is_a_one_line_error(tmp_path, port):
    result = subprocess.run([sys.executable, "-c", SERVE, "serve", "--model", str(tmp_path / "nowhere"),
                             "--port", port], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and port in result.stderr, result.stderr
    assert "nowhere" not in result.stderr, "the port is checked before the model is loaded"


def test_serve_on_a_host_that_does_not_resolve_is_a_one_line_error_before_the_model_loads(tmp_path):
    result = subprocess.run([sys.executable, "-c", SERVE, "serve", "--model", str(tmp_path / "nowhere"),
                             "--host", "no-such-host.invalid"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--host no-such-host.invalid" in result.stderr, result.stderr
    assert "nowhere" not in result.stderr
