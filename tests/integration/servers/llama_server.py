"""The real llama.cpp server from llama-cpp-python, serving the tiny GGUF on loopback."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .process import LOOPBACK, ServerProcess, free_port, http_status
from .requirements import servers_python

DEFAULT_ALIAS = "tiny-llama"


@dataclasses.dataclass
class LlamaServer:
    """A running ``python -m llama_cpp.server``.

    ``base_url`` is what an OpenAI client takes (``http://127.0.0.1:P/v1``); ``root_url`` has no
    ``/v1``. ``model`` is the alias the server lists in /v1/models.
    """

    model_path: Path
    model: str
    port: int
    process: ServerProcess
    n_ctx: int
    # The key the server demands (None: any or no key is accepted); hidden from repr.
    api_key: str | None = dataclasses.field(default=None, repr=False)

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def startup_seconds(self) -> float | None:
        return self.process.startup_seconds

    def is_running(self) -> bool:
        return self.process.is_running()

    def stop(self) -> None:
        """Stop the server (the port then refuses connections). Idempotent."""
        self.process.stop()

    def restart(self) -> LlamaServer:
        """Start it again on the same port and model after :meth:`stop`."""
        self.process.start()
        return self


def start_llama_server(
    model_path: Path,
    log_dir: Path,
    alias: str = DEFAULT_ALIAS,
    port: int | None = None,
    n_ctx: int = 4096,
    n_threads: int = 1,
    ready_timeout: float = 90.0,
    name: str = "llama-server",
    python: Path | None = None,
    interrupt_requests: bool = True,
    api_key: str | None = None,
) -> LlamaServer:
    """Start the server and return once GET /v1/models answers 200.

    ``python`` is the servers' venv interpreter (default :func:`~.requirements.servers_python`).

    ``interrupt_requests`` is llama-cpp-python's own setting (default true): while a request waits
    for the model, the server ends the stream in progress early with ``[DONE]`` and no
    ``finish_reason`` (measured: 2 concurrent streams -> one or both cut short, the server log says
    "ASGI callable returned without completing response"). With ``False`` requests queue and are
    served one after the other, complete.

    ``api_key``: the server then answers 401 to any other bearer key. It reaches the server through
    its environment (``API_KEY``), never argv, so it is in no process listing or log.

    The server has no /health and no /metrics (both 404 with llama-cpp-python 0.3.36), so
    readiness is /v1/models. It serves one request at a time.
    """
    port = port or free_port()
    argv = [
        str(python or servers_python()),
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        alias,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads),
        "--n_threads_batch",
        str(n_threads),
        "--interrupt_requests",
        str(interrupt_requests).lower(),
    ]
    env = dict(os.environ)
    # llama-cpp-python's settings come from argv and the environment; an inherited API_KEY or
    # MODEL would change the server under test.
    for variable in ("API_KEY", "MODEL", "HOST", "PORT", "CONFIG_FILE"):
        env.pop(variable, None)
    if api_key:
        env["API_KEY"] = api_key
    models_url = f"http://{LOOPBACK}:{port}/v1/models"
    process = ServerProcess(
        name=f"{name}:{port}",
        argv=argv,
        log_path=log_dir / f"{name}-{port}.log",
        ready=lambda: http_status(models_url, {"Authorization": f"Bearer {api_key}"} if api_key else None) == 200,
        env=env,
        ready_timeout=ready_timeout,
    )
    process.start()
    return LlamaServer(model_path=model_path, model=alias, port=port, process=process, n_ctx=n_ctx, api_key=api_key)
