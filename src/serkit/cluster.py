"""Where work runs: here, or on Ray (a local instance or an existing cluster).

``--executor`` takes ``local`` (this machine's processes, the default),
``ray`` (a Ray instance started here for the run and stopped after it) or
``ray://HOST:PORT`` (an existing cluster's Ray client address; nothing is
started or stopped there).  Ray is an optional extra, imported only when asked
for: without it the option says how to install it.

Both features and experiments run on Ray, so the session lives here, beside
the stages: :func:`ray_session` joins a Ray instance that is already running in
this process (a test's, or an outer session's) and stops only one it started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator
from types import ModuleType

from serkit.errors import SerkitError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'serkit[cluster]'"


@dataclasses.dataclass(frozen=True)
class Executor:
    """What ``--executor`` names: ``local``, or Ray at ``address`` (None: a local Ray instance)."""

    kind: str = "local"
    address: str | None = None

    @classmethod
    def parse(cls, text: str) -> Executor:
        if text == "local":
            return cls()
        if text == "ray":
            return cls("ray")
        if text.startswith("ray://") and len(text) > len("ray://"):
            return cls("ray", text)
        raise SerkitError(f"--executor {text!r}: expected local, ray or ray://HOST:PORT")

    @property
    def ray(self) -> bool:
        return self.kind == "ray"


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`SerkitError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SerkitError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray, connected for the block: to ``address`` (``ray://HOST:PORT``), else to a local instance of
    ``num_cpus`` CPUs (default: every core) started here; one already running in this process is
    used as it is, and only what this call started is shut down."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        try:
            ray.init(address=address, logging_level=logging.WARNING, runtime_env=worker_environment())
        except (ConnectionError, ValueError, RuntimeError) as error:  # what ray's client raises, unwrapped
            raise SerkitError(f"--executor {address}: cannot connect to Ray there ({error})") from None
    else:
        # "local": a new instance even where `ray start` left one running here; no dashboard: it costs
        # seconds of start-up and a web server nobody asked for.
        ray.init(address="local", num_cpus=num_cpus or _cores(), include_dashboard=False,
                 logging_level=logging.WARNING)
    log.info("ray: %s, %s CPUs", address or "local instance", ray.cluster_resources().get("CPU"))
    try:
        yield ray
    finally:
        ray.shutdown()


def worker_environment() -> dict[str, dict[str, str]] | None:
    """What a remote cluster's workers need of this process's environment: the device that features'
    torch models run on (``--device`` sets it here; a local instance's workers inherit it)."""
    from serkit.devices import DEVICE_VARIABLE  # imports torch: only when connecting

    device = os.environ.get(DEVICE_VARIABLE)
    return {"env_vars": {DEVICE_VARIABLE: device}} if device else None


def _cores() -> int:
    # as serkit.features.extract.available_cores, which this module may not import
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
