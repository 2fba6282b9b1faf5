"""The web page in headless Chromium, with real uploads to a real server.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
NUL-separated JSON on file descriptors 3 and 4), so the test needs no driver
and no Python package beyond the standard library.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_serving_api import concatenated, running_server, trained_model, upload

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)"
)


class DevTools:
    """A headless Chromium and one page of it, spoken to over the DevTools pipe."""

    def __init__(self, timeout: float = 30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="serkit-chromium-")
        their_in, to_browser = os.pipe()
        from_browser, their_out = os.pipe()

        def descriptors_3_and_4() -> None:
            # Moved above 10 first, so that neither dup2 can overwrite the other's source.
            read, write = fcntl.fcntl(their_in, fcntl.F_DUPFD, 10), fcntl.fcntl(their_out, fcntl.F_DUPFD, 10)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=descriptors_3_and_4, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(their_in)
        os.close(their_out)
        self._out, self._in = to_browser, from_browser
        self._buffer = b""
        self._id = 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], self.timeout)
            chunk = os.read(self._in, 1 << 16) if ready else b""
            if not chunk:
                raise RuntimeError("Chromium did not answer (closed or timed out)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.send(method, session=self.session, **params)

    def evaluate(self, expression: str) -> Any:
        return self.page("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def choose_file(self, selector: str, path: Path) -> None:
        """Set a file input as a user choosing ``path`` would (the page gets its change event)."""
        document = self.page("DOM.getDocument")["root"]["nodeId"]
        node = self.page("DOM.querySelector", nodeId=document, selector=selector)["nodeId"]
        self.page("DOM.setFileInputFiles", nodeId=node, files=[str(path)])

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(10)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._out)
            os.close(self._in)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server(emodb_root, tmp_path_factory) -> Iterator[str]:
    model_dir = trained_model(emodb_root, tmp_path_factory.getbasetemp())
    with running_server(model_dir, tmp_path_factory.mktemp("page") / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser(server) -> Iterator[DevTools]:
    chromium = DevTools()
    try:
        yield chromium
    finally:
        chromium.close()


def open_page_and_upload(browser: DevTools, server: str, path: Path) -> str:
    """Load the page afresh, choose ``path`` and wait for the answer; returns the page's state."""
    browser.page("Page.navigate", url=f"{server}/")
    # The class list arrives from /models; the page is ready once it shows it.
    browser.wait_for("document.readyState === 'complete' && document.getElementById('model').textContent")
    browser.choose_file("#file", path)
    return browser.wait_for("['done', 'error'].includes(document.body.dataset.state) && document.body.dataset.state")


def test_page_shows_the_label_and_probabilities_the_api_gives(browser, server, emodb_wavs):
    clip = next(w for w in emodb_wavs if w.name.startswith("13"))
    status, expected = upload(server, clip)
    assert status == 200
    assert open_page_and_upload(browser, server, clip) == "done"
    assert browser.evaluate("document.getElementById('label').textContent") == expected["label"]
    rows = browser.evaluate(
        "[...document.querySelectorAll('#probabilities tbody tr')].map(r => [r.dataset.label, r.cells[1].textContent])"
    )
    assert dict(rows) == {k: f"{100 * p:.1f} %" for k, p in expected["probabilities"].items()}
    assert rows[0][0] == expected["label"]  # ranked, the label first
    assert browser.evaluate("document.getElementById('timeline-figure').hidden") is True


def test_page_draws_the_timeline_of_a_long_recording(browser, server, emodb_wavs, tmp_path):
    long = concatenated([w for w in emodb_wavs if w.name.startswith("14")][:4], tmp_path / "long.wav")
    status, expected = upload(server, long)
    assert status == 200 and expected["segments"]
    assert open_page_and_upload(browser, server, long) == "done"
    assert browser.evaluate("document.getElementById('label').textContent") == expected["label"]
    drawn = browser.evaluate("[...document.querySelectorAll('#timeline g.segment')].map(g => g.dataset.label)")
    assert drawn == [s["label"] for s in expected["segments"]]
    assert browser.evaluate("document.getElementById('timeline-figure').hidden") is False


def test_page_shows_the_api_error_for_a_bad_file(browser, server, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording\n" * 10)
    status, expected = upload(server, bad)
    assert status == 422
    assert open_page_and_upload(browser, server, bad) == "error"
    assert browser.evaluate("document.getElementById('status').textContent") == expected["error"]
    assert browser.evaluate("document.getElementById('result').hidden") is True
