"""``serkit serve``: the REST service and its web page, on uvicorn."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from serkit.cli.common import err, friendly_errors
from serkit.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve)


@friendly_errors
def serve(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name, model folder or FILE.onnx (default: the shipped model).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_mb: Annotated[float, typer.Option("--max-mb", help="Largest upload accepted, in MB.")] = 50.0,
    max_seconds: Annotated[float, typer.Option("--max-seconds", help="Longest audio accepted, in seconds.")] = 600.0,
    concurrency: Annotated[int, typer.Option(help="Predictions running at once.")] = 4,
    upload_timeout: Annotated[
        float, typer.Option("--upload-timeout", help="Seconds to receive a whole upload; a slower one is answered 408.")
    ] = 60.0,
    max_uploads: Annotated[
        int, typer.Option("--max-uploads", help="Uploads received at once; one more is answered 503.")
    ] = 16,
) -> None:
    """Serve a model over HTTP: POST /predict, GET /health, /models, /docs, and a web page at /."""
    import uvicorn

    from serkit.inference import load_model
    from serkit.serving import ServeLimits, create_app

    # Checked before the model loads: uvicorn would fail on a bad port only then, with a traceback.
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: a port is a number from 1 to 65535")
    try:  # uvicorn reports an unknown host only after the model has loaded, and keeps going
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigError(f"--host {host}: not an address this machine can listen on ({error})") from None
    limits = ServeLimits(max_upload_bytes=int(max_mb * 1e6), max_duration=max_seconds, concurrency=concurrency,
                         upload_timeout=upload_timeout, max_uploads=max_uploads)
    predictor = load_model(model)
    err.print(f"serving {model or 'the default model'} ({', '.join(predictor.labels)}) on http://{host}:{port}/",
              highlight=False, soft_wrap=True)
    uvicorn.run(create_app(predictor, limits), host=host, port=port, log_level="info")
