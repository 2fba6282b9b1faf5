"""The REST service: one loaded predictor behind ``POST /predict``, and a web page.

Every kind of bad input is answered with a 4xx and ``{"error": "..."}``:
audio that cannot be used is 422, an upload past the size or duration limit
is 413.  The size is checked while the body streams in (and from
``Content-Length`` before any of it is read), so an oversized upload is never
held whole.  The upload goes to a temporary file because the audio loader
checks a file's header against its size (truncation) before decoding it.
That file's name is the server's own: the name the client sends is only
echoed back, never used as a path.

A client cannot hold the server by stalling: the whole body must arrive within
``limits.upload_timeout`` seconds (else 408, and its temporary folder is
removed), and at most ``limits.max_uploads`` bodies are received at once; one
more is answered 503 at once rather than queued, since a queue would fill with
the same stalled clients.

The model is loaded once by the caller; predictions run in worker threads
(at most ``limits.concurrency`` at once), so the predictor must be safe to
call from several threads, which serkit's predictors are.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Protocol

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from serkit import __version__
from serkit.audio.io import info
from serkit.errors import AudioError, ConfigError, SerkitError
from serkit.inference import AudioTooLongError

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: Name given to a raw-body upload that does not say its own.
DEFAULT_NAME = "upload.wav"
#: An extension kept on the temporary file: libsndfile needs it to recognise headerless formats (raw, VOX, ...).
_PLAIN_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
#: Seconds a client refused for too many uploads at once is told to wait (an upload takes about that long).
RETRY_AFTER = 5


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask of the server."""

    #: Bytes of request body (the file, plus the multipart envelope when there is one).
    max_upload_bytes: int = 50 * 1024 * 1024
    #: Seconds of audio, read from the file's header before decoding it.
    max_duration: float = 600.0
    #: Predictions running at once; more requests wait their turn.
    concurrency: int = 4
    #: Seconds for the whole request body, from its headers on (50 MB in 60 s is 0.8 MB/s);
    #: a deadline for the whole body, not between chunks, so trickling a byte at a time does not reset it.
    upload_timeout: float = 60.0
    #: Request bodies received at once (stalled ones included); one more is answered 503.
    max_uploads: int = 16

    def __post_init__(self) -> None:
        if (self.max_upload_bytes < 1 or self.max_duration <= 0 or self.concurrency < 1
                or self.upload_timeout <= 0 or self.max_uploads < 1):
            raise ConfigError(f"server limits must be positive: {self}")


class Predictor(Protocol):
    """What the server needs of a loaded model (see :mod:`serkit.inference`)."""

    labels: Any
    card: dict

    def predict_file(self, path: str | Path) -> Any: ...


class LimitError(SerkitError):
    """An upload past the server's size or duration limit (HTTP 413)."""


class UploadTimeout(SerkitError):
    """A request body not received within ``ServeLimits.upload_timeout`` (HTTP 408)."""


class TooManyUploads(SerkitError):
    """More request bodies at once than ``ServeLimits.max_uploads`` (HTTP 503)."""


class Segment(BaseModel):
    start: float
    end: float
    #: a classifier's label and class probabilities
    label: str | None = None
    probabilities: dict[str, float] | None = None
    #: a regression model's value per target (instead of label and probabilities)
    values: dict[str, float] | None = None
    #: shorter than a second (``min_trusted``): too short to trust, left out of the file's label
    too_short: bool | None = None


class PredictionBody(BaseModel):
    """One element of ``serkit predict --format json``, without ``error``."""

    path: str
    duration: float
    label: str | None = None
    probabilities: dict[str, float] | None = None
    values: dict[str, float] | None = None
    #: a frame model's label per frame, ``frame_rate`` frames per second
    frame_rate: float | None = None
    frames: list[str] | None = None
    #: a ctc model's transcript
    transcript: str | None = None
    #: a segmented recording's every segment is too short, so its label rests on them all
    short_speech_only: bool | None = None
    segments: list[Segment] | None = None
    #: a per-frame regression (a continuous model): each target's value per frame, ``frame_rate``
    #: frames per second, frame ``i`` at ``i / frame_rate`` s (``values`` holds their means)
    trace: dict[str, list[float]] | None = None


class ErrorBody(BaseModel):
    error: str


_AUDIO_BODY = {"schema": {"type": "string", "format": "binary"}}
_PREDICT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One audio file (WAV, FLAC, OGG, ...): a multipart field `file`, or the raw body "
        "(then `?filename=NAME` names it in the answer).",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"],
                           "properties": {"file": {"type": "string", "format": "binary"}}}
            },
            "application/octet-stream": _AUDIO_BODY,
            "audio/*": _AUDIO_BODY,
        },
    }
}


def create_app(predictor: Predictor, limits: ServeLimits | None = None) -> FastAPI:
    """The service answering with ``predictor``, which is loaded once by the caller."""
    limits = limits or ServeLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.limiter = anyio.CapacityLimiter(limits.concurrency)
        app.state.uploads = anyio.Semaphore(limits.max_uploads)
        yield

    app = FastAPI(
        title="serkit",
        version=__version__,
        description="Speech emotion recognition: upload an audio file, get its label, the probability "
        "of every class and, for a long recording, a timeline; from a continuous model, its trace "
        "(arousal and valence per frame, `frame_rate` frames a second).",
        lifespan=lifespan,
    )
    _add_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "labels": list(predictor.labels)}

    @app.get("/models")
    def models() -> dict[str, Any]:
        """The loaded model's card."""
        return {"labels": list(predictor.labels), "card": predictor.card}

    @app.post(
        "/predict",
        response_model=PredictionBody,
        responses={status: {"model": ErrorBody} for status in (400, 408, 413, 422, 503)},
        openapi_extra=_PREDICT_DOC,
    )
    async def predict(request: Request) -> JSONResponse:
        """Label one audio file; a long one also gets a timeline of ``segments``, and a continuous
        model's answer the ``trace`` of each target with its ``frame_rate``."""
        with tempfile.TemporaryDirectory(prefix="serkit-upload-") as folder:
            name, path = await _receive_in_time(request, limits, Path(folder))
            result = await anyio.to_thread.run_sync(
                _predict, predictor, path, name, limits, limiter=request.app.state.limiter
            )
        log.info("%r: %s", name, result.get("label", result.get("values")))  # %r: names may hold line breaks
        return JSONResponse(result)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _predict(predictor: Predictor, path: Path, name: str, limits: ServeLimits) -> dict[str, Any]:
    """Check the duration from the header, then predict; errors name the upload, not the temporary file."""
    try:
        duration = info(path).duration
        if duration > limits.max_duration:
            raise LimitError(f"{name}: {duration:.1f} s of audio, past the limit of {limits.max_duration:g} s")
        result = predictor.predict_file(path).to_dict()
    except AudioTooLongError as e:
        raise LimitError(f"{name}: {e.reason}") from None
    except AudioError as e:
        raise AudioError(name, e.reason) from None
    except (OSError, ValueError) as e:
        if isinstance(e, SerkitError):
            raise
        # Input the loader did not foresee; logged in full, since it may also be a fault of the server's.
        log.warning("%r: unreadable upload", name, exc_info=True)
        raise AudioError(name, f"cannot be read ({type(e).__name__}: {getattr(e, 'strerror', None) or e})") from None
    if result.get("error"):  # a predictor that reports rather than raises
        raise AudioError(name, str(result["error"]))
    result.pop("error", None)
    result["path"] = name
    return result


async def _receive_in_time(request: Request, limits: ServeLimits, folder: Path) -> tuple[str, Path]:
    """:func:`_receive_upload` in one of ``limits.max_uploads`` places, within ``limits.upload_timeout``."""
    uploads: anyio.Semaphore = request.app.state.uploads
    try:
        uploads.acquire_nowait()
    except anyio.WouldBlock:
        raise TooManyUploads(f"{limits.max_uploads} uploads are being received already; retry later") from None
    try:
        with anyio.fail_after(limits.upload_timeout):
            return await _receive_upload(request, limits, folder)
    except TimeoutError:
        raise UploadTimeout(f"the upload was not received within {limits.upload_timeout:g} s") from None
    finally:
        uploads.release()


async def _receive_upload(request: Request, limits: ServeLimits, folder: Path) -> tuple[str, Path]:
    """Write the uploaded file into ``folder``: its name and where it now is."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes:
        raise _too_large(limits, int(declared))
    body = _limited(request, limits)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await MultiPartParser(request.headers, body, max_files=1, max_fields=16).parse()
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise SerkitError("no file in the multipart field 'file'")
            name, path = _client_name(upload.filename), _server_path(folder, upload.filename)
            with open(path, "wb") as f:
                await anyio.to_thread.run_sync(shutil.copyfileobj, upload.file, f)
        finally:
            await form.close()
        return name, path
    filename = request.query_params.get("filename")
    name, path = _client_name(filename), _server_path(folder, filename)
    async with await anyio.open_file(path, "wb") as f:
        async for chunk in body:
            await f.write(chunk)
    return name, path


def _client_name(filename: str | None) -> str:
    """The name the client gave, without folders: only ever echoed back, never opened."""
    return PurePath(filename or DEFAULT_NAME).name or DEFAULT_NAME


def _server_path(folder: Path, filename: str | None) -> Path:
    """The temporary file, named by the server: ``upload`` plus the client's extension only when short and plain."""
    suffix = PurePath(_client_name(filename)).suffix
    return folder / ("upload" + (suffix if _PLAIN_SUFFIX.fullmatch(suffix) else ""))


async def _limited(request: Request, limits: ServeLimits) -> AsyncIterator[bytes]:
    """The request body, stopped with :class:`LimitError` as soon as it passes the size limit."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limits.max_upload_bytes:
            raise _too_large(limits, received, at_least=True)
        yield chunk


def _too_large(limits: ServeLimits, size: int, at_least: bool = False) -> LimitError:
    return LimitError(
        f"upload of {'more than ' if at_least else ''}{size / 1e6:.1f} MB, "
        f"past the limit of {limits.max_upload_bytes / 1e6:g} MB"
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


#: The rest of an unread body is not worth reading: closing the connection frees its descriptor at once.
_CLOSE = {"Connection": "close"}


def _add_error_handlers(app: FastAPI) -> None:
    """Every error a client can cause becomes ``{"error": ...}`` with a 4xx status."""

    @app.exception_handler(LimitError)
    async def limit(request: Request, e: LimitError) -> JSONResponse:
        log.info("refused: %s", e)
        return _error(413, str(e))

    @app.exception_handler(UploadTimeout)
    async def slow(request: Request, e: UploadTimeout) -> JSONResponse:
        log.info("refused: %s", e)
        return _error(408, str(e), _CLOSE)

    @app.exception_handler(TooManyUploads)
    async def busy(request: Request, e: TooManyUploads) -> JSONResponse:
        log.warning("refused: %s", e)
        return _error(503, str(e), {**_CLOSE, "Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(SerkitError)
    async def unusable(request: Request, e: SerkitError) -> JSONResponse:
        log.info("unusable input: %s", e)
        return _error(422, str(e))

    @app.exception_handler(MultiPartException)
    async def malformed(request: Request, e: MultiPartException) -> JSONResponse:
        return _error(400, f"malformed multipart body: {e.message}")

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, e: ClientDisconnect) -> JSONResponse:
        # Nobody reads this answer; it only keeps the disconnect out of the error log.
        return _error(400, "client disconnected before the upload was complete")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return _error(422, "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()))

    @app.exception_handler(HTTPException)
    async def http(request: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)
