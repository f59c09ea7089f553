"""Session fixtures: real inference servers on 127.0.0.1 (see README.md in this directory).

Fixtures (all session-scoped unless noted):

``tiny_model``            TinyModel: ``.path`` of the cached random-weight GGUF, ``.vocab_size``, ``.sha256``.
``llama_server``          LlamaServer: real ``python -m llama_cpp.server``; ``.base_url`` (``http://127.0.0.1:P/v1``),
                          ``.root_url``, ``.model`` (alias ``tiny-llama``), ``.port``. Shared: do not stop it.
``delay_proxy``           FirstByteDelayProxy in front of ``llama_server``; ``.base_url``; delay 0 until a test
                          sets it (use ``servers.faults.slow_first_byte(proxy, seconds)``).
``dead_backend_url``      ``http://127.0.0.1:P/v1`` on a port that is bound but never listens (connection refused).
``litellm_proxy``         LiteLLMProxy: real ``litellm --config``; ``.base_url``, ``.root_url``, ``.master_key``
                          (hidden from repr), ``.auth_headers()``, ``.model`` (= ``tiny-chat``),
                          routes ``tiny-chat`` -> llama_server, ``tiny-chat-slow`` -> delay_proxy,
                          ``tiny-chat-down`` -> dead_backend_url.
``llama_server_factory``  callable(**kwargs) -> a new LlamaServer of your own (stopped at session end).
``stoppable_llama_server`` (function scope) a fresh LlamaServer a test may stop; stopped afterwards.
``queued_llama_server``   a LlamaServer started with ``interrupt_requests=False`` (concurrent requests queue
                          instead of cutting the running stream short) and an API key (``.api_key``, hidden
                          from repr): any other key gets a real 401.
``integration_timings``   dict of measured seconds (model generation, server startups), printed at the end.

The servers run from their own venv (``requirements-servers.txt``; interpreter from
INFERENCE_PLATFORM_SERVERS_PYTHON, default ``<project>/.venv-servers/bin/python``); the tests run in
the project venv and talk to them over HTTP. If that venv or a package in it is missing, every test
using these fixtures fails with what is missing and the setup command.
INFERENCE_PLATFORM_SKIP_INTEGRATION=1 skips the integration tests instead, with that reason shown.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import requirements
from servers.delay_proxy import FirstByteDelayProxy
from servers.process import LOOPBACK, ReservedDeadPort

SKIP_ENV = "INFERENCE_PLATFORM_SKIP_INTEGRATION"
HERE = Path(__file__).resolve().parent

MAIN_ROUTE = "tiny-chat"
SLOW_ROUTE = "tiny-chat-slow"
DOWN_ROUTE = "tiny-chat-down"

_TIMINGS: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(SKIP_ENV) != "1":
        return
    skip = pytest.mark.skip(reason=f"{SKIP_ENV}=1: integration tests with real servers skipped on request")
    for item in items:
        if item.get_closest_marker("integration") is not None and HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _TIMINGS:
        terminalreporter.write_sep("-", "integration servers (measured this session)")
        for name, seconds in _TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")


@pytest.fixture(scope="session")
def integration_timings() -> dict[str, float]:
    return _TIMINGS


@pytest.fixture(scope="session")
def _integration_packages() -> None:
    gone = requirements.missing()
    if gone:
        pytest.fail(
            "integration servers cannot start, the servers' venv is incomplete: "
            + "; ".join(gone)
            + f". Create it with: {requirements.install_hint()} "
            + f"(another interpreter: {requirements.SERVERS_PYTHON_ENV}=/path/to/python; "
            + f"or set {SKIP_ENV}=1 to skip these tests on purpose)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def integration_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logs and configs of this session's servers (pytest's basetemp, kept for the last 3 runs)."""
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def tiny_model(_integration_packages):
    from servers.tiny_gguf import ensure_tiny_model_with

    started = time.monotonic()
    # gguf and numpy live in the servers' venv: the model is written by its interpreter.
    model = ensure_tiny_model_with(requirements.servers_python())
    _TIMINGS["tiny model " + ("generated" if model.generated else "from cache")] = time.monotonic() - started
    return model


@pytest.fixture(scope="session")
def llama_server_factory(tiny_model, integration_workdir: Path) -> Iterator[Callable[..., object]]:
    from servers.llama_server import start_llama_server

    started: list = []

    def factory(**kwargs):
        kwargs.setdefault("name", f"llama-server-extra{len(started)}")
        server = start_llama_server(tiny_model.path, integration_workdir, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def llama_server(tiny_model, integration_workdir: Path):
    from servers.llama_server import start_llama_server

    server = start_llama_server(tiny_model.path, integration_workdir, name="llama-server")
    _TIMINGS["llama-cpp-python server startup"] = server.startup_seconds
    yield server
    server.stop()


@pytest.fixture()
def stoppable_llama_server(llama_server_factory):
    server = llama_server_factory(name="llama-server-stoppable")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def queued_llama_server(llama_server_factory):
    return llama_server_factory(
        name="llama-server-queued", interrupt_requests=False, api_key="sk-queued-" + secrets.token_urlsafe(24)
    )


@pytest.fixture(scope="session")
def delay_proxy(llama_server) -> Iterator[FirstByteDelayProxy]:
    proxy = FirstByteDelayProxy(upstream_port=llama_server.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def dead_backend_url() -> Iterator[str]:
    port = ReservedDeadPort()
    yield f"http://{LOOPBACK}:{port.port}/v1"
    port.close()


@pytest.fixture(scope="session")
def litellm_proxy(llama_server, delay_proxy, dead_backend_url, integration_workdir: Path):
    from servers.litellm_proxy import Route, start_litellm_proxy

    routes = (
        Route(MAIN_ROUTE, llama_server.model, llama_server.base_url),
        Route(SLOW_ROUTE, llama_server.model, delay_proxy.base_url),
        Route(DOWN_ROUTE, llama_server.model, dead_backend_url),
    )
    proxy = start_litellm_proxy(routes, integration_workdir / "litellm")
    _TIMINGS["LiteLLM proxy startup"] = proxy.startup_seconds
    yield proxy
    proxy.stop()
