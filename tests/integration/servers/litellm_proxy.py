"""A real LiteLLM proxy (``litellm --config FILE``) on loopback in front of the llama server.

The master key is generated per session (``sk-`` + 32 random bytes, urlsafe) and reaches the proxy
only through the environment variable the config file names (``os.environ/...``), so it is in no
file, no argv and no log. Tests read it from :attr:`LiteLLMProxy.master_key`; its ``repr`` is
hidden so a failing assertion does not print it.

There is no database (no DATABASE_URL): LiteLLM's virtual keys, teams and budgets need Prisma
engines that cannot be downloaded here. Without a database LiteLLM answers any bearer key other
than the master key with HTTP 400 "No connected db." and a request without a key with 401.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path

from .process import LOOPBACK, ServerProcess, free_port, http_status
from .requirements import servers_python

MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
# Environment variables that would change what the proxy does if inherited from the caller.
_SCRUBBED_ENV = ("DATABASE_URL", "DIRECT_URL", "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "REDIS_HOST", "REDIS_URL")


@dataclasses.dataclass(frozen=True)
class Route:
    """One model_list entry: public ``name`` -> ``openai/<backend_model>`` at ``api_base``."""

    name: str
    backend_model: str
    api_base: str


@dataclasses.dataclass
class LiteLLMProxy:
    port: int
    routes: tuple[Route, ...]
    config_path: Path
    process: ServerProcess
    master_key: str = dataclasses.field(repr=False)

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def model(self) -> str:
        """The first (main) public model name."""
        return self.routes[0].name

    @property
    def startup_seconds(self) -> float | None:
        return self.process.startup_seconds

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"}

    def is_running(self) -> bool:
        return self.process.is_running()

    def stop(self) -> None:
        self.process.stop()


def new_master_key() -> str:
    return "sk-" + secrets.token_urlsafe(32)


def litellm_executable(python: Path | None = None) -> str:
    """The ``litellm`` console script of the servers' venv (beside its interpreter)."""
    python = python or servers_python()
    beside = python.parent / "litellm"
    if beside.is_file():
        return str(beside)
    raise FileNotFoundError(f"no `litellm` command beside {python}: the servers' venv lacks litellm[proxy]")


def write_config(
    path: Path, routes: tuple[Route, ...], request_timeout: float = 60.0, settings: dict | None = None
) -> None:
    """The proxy's config file; ``settings`` replaces whole sections (e.g. the role's general_settings)."""
    config = {
        "model_list": [
            {
                "model_name": route.name,
                "litellm_params": {
                    "model": f"openai/{route.backend_model}",
                    "api_base": route.api_base,
                    # llama-cpp-python's server does not check keys unless started with one; the
                    # OpenAI client inside LiteLLM insists on having some key.
                    "api_key": "backend-does-not-check",
                },
            }
            for route in routes
        ],
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
        "litellm_settings": {"num_retries": 0, "request_timeout": request_timeout, "telemetry": False},
        **(settings or {}),
    }
    # JSON is YAML: no YAML library needed in the test process.
    path.write_text(json.dumps(config, indent=2) + "\n")


def start_litellm_proxy(
    routes: tuple[Route, ...],
    work_dir: Path,
    master_key: str | None = None,
    port: int | None = None,
    ready_timeout: float = 180.0,
    settings: dict | None = None,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> LiteLLMProxy:
    """Start the proxy and return once /v1/models answers 200 to the master key (settings: see write_config;
    extra_args and extra_env: what a Deployment adds to the CLI's arguments and environment)."""
    port = port or free_port()
    master_key = master_key or new_master_key()
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "litellm-config.yaml"
    write_config(config_path, routes, settings=settings)

    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env[MASTER_KEY_ENV] = master_key
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # do not try to fetch the cost map from the internet
    env.setdefault("LITELLM_LOG", "INFO")
    env.update(extra_env or {})

    argv = [litellm_executable(), "--config", str(config_path), "--host", LOOPBACK, "--port", str(port), *extra_args]
    models_url = f"http://{LOOPBACK}:{port}/v1/models"
    headers = {"Authorization": f"Bearer {master_key}"}
    process = ServerProcess(
        name=f"litellm:{port}",
        argv=argv,
        log_path=work_dir / f"litellm-{port}.log",
        ready=lambda: http_status(models_url, headers) == 200,
        env=env,
        cwd=work_dir,
        ready_timeout=ready_timeout,
    )
    process.start()
    return LiteLLMProxy(port=port, routes=routes, config_path=config_path, process=process, master_key=master_key)
