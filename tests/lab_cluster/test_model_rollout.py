"""A model rollout under load (issue 17): playbooks/model_rollout.yml changes the lab model's arguments while a client
streams chat completions through LiteLLM, and the client sees no failed request.

What is real: the rollout playbook in apply mode (the candidate beside the live Deployment, its smoke gate through a
port-forward, its removal, the live Deployment's rolling update), kubeadm's scheduler, kubelet, kube-proxy and
endpoints, llama-server (the drain before a replica stops, roles/vllm "Stopping") and the LiteLLM proxy. STAND-IN: the
GPUs (two on the lab's GPU node, roles/lab_standins): the candidate and then the surge replica each take one beside
the live replica. What only a GPU host shows: the gate's thresholds on real hardware, load times of real weights.

The test rolls the model to new arguments and back (a second rollout to the inventory's extra_args), so the lab model
is as the inventory says for whatever runs after it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from lab_cluster_support import (
    INVENTORY_ARGS,
    MODELS,
    NAMESPACES,
    SITE_VARS,
    TIMINGS,
    call,
    gateway_request,
    kubectl_json,
    master_key,
    playbook,
    wait,
)

MODEL = MODELS[0]
# Arguments the rollout gives the lab model, then takes back: llama-server's generation threads (the lab's CPU).
NEW_ARGS = ["--threads", "2"]
# The client: streams at once, tokens per answer, longest a stream may take, longest the whole test may stream.
STREAMS = 3
MAX_TOKENS = 24
REQUEST_TIMEOUT = 60
CLIENT_DEADLINE = 900


@dataclass
class Client:
    """Streams chat completions through the gateway on STREAMS threads until stopped; counts each request's outcome."""

    key: str
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def one(self) -> str | None:
        """One streamed request; None when it ended with [DONE] and no error event, else what went wrong."""
        request = gateway_request(
            "/v1/chat/completions",
            {
                "model": MODEL["name"],
                "stream": True,
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": "tell me a story"}],
            },
            self.key,
        )
        done = False
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310 - lab NodePort
                for raw in response:
                    line = raw.decode(errors="replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        continue
                    event = json.loads(data)
                    if "error" in event:
                        return f"error event: {data[:200]}"
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}: {error.read().decode(errors='replace')[:200]}"
        except (OSError, ValueError) as error:
            return f"{type(error).__name__}: {error}"
        return None if done else "the stream ended without [DONE]"

    def run(self) -> None:
        deadline = time.monotonic() + CLIENT_DEADLINE
        while not self.stop.is_set() and time.monotonic() < deadline:
            failure = self.one()
            with self.lock:
                if failure is None:
                    self.ok += 1
                else:
                    self.failures.append(f"{time.strftime('%H:%M:%S')} {failure}")

    @property
    def total(self) -> int:
        with self.lock:
            return self.ok + len(self.failures)


def server_args() -> list[str]:
    deployment = kubectl_json("-n", NAMESPACES["models"], "get", "deployment", MODEL["name"])
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"]


def pods_settled(args: list[str]):
    """Every pod of the live Deployment runs `args` and none is stopping (the old replica drained and is gone)."""
    deployment = kubectl_json("-n", NAMESPACES["models"], "get", "deployment", MODEL["name"])
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    pods = kubectl_json("-n", NAMESPACES["models"], "get", "pods", "-l", selector)["items"]
    return bool(pods) and all(
        "deletionTimestamp" not in pod["metadata"] and pod["spec"]["containers"][0]["args"] == args for pod in pods
    )


def candidates() -> list[str]:
    """What a rollout left of its candidate (Deployments, Services, pods labelled as the rollout's)."""
    found = kubectl_json(
        "-n",
        NAMESPACES["models"],
        "get",
        "deployments,services,pods",
        "-l",
        f"inference.platform/component=model_rollout,inference.platform/model={MODEL['name']}",
    )["items"]
    return [f"{item['kind']} {item['metadata']['name']}" for item in found]


def rollout(extra_args: list[str], label: str):
    """playbooks/model_rollout.yml in apply mode on the session's lab, timed under `label`."""
    extra = {"model_rollout_name": MODEL["name"], "model_rollout_extra_args": extra_args}
    proc = playbook("model_rollout.yml", *INVENTORY_ARGS, "-e", json.dumps(extra), extra=SITE_VARS, timeout=900)
    TIMINGS[label] = proc.seconds
    return proc


@pytest.fixture(scope="module")
def key(site):
    assert site.returncode == 0, site.log.read_text()[-6000:]
    gateway_key = master_key()

    def answers():
        status, body = call("/v1/models", key=gateway_key, timeout=10)
        return status == 200 and MODEL["name"] in {m["id"] for m in body["data"]}

    wait("the gateway listing the lab model", answers, timeout=600, every=5)
    return gateway_key


def test_a_rollout_of_new_arguments_and_back_fails_no_streamed_request(key):
    before = server_args()
    assert before[-len(NEW_ARGS) :] != NEW_ARGS, before
    client = Client(key)
    steps = {}
    threads = [threading.Thread(target=client.run, daemon=True) for _ in range(STREAMS)]
    for thread in threads:
        thread.start()
    try:
        wait("the client's first answers", lambda: client.ok >= STREAMS, timeout=120, every=1)
        for label, extra_args, expected in (
            ("model_rollout.yml (new arguments, under load)", NEW_ARGS, before + NEW_ARGS),
            ("model_rollout.yml (back to the inventory's, under load)", MODEL["extra_args"], before),
        ):
            started = time.monotonic()
            run = rollout(extra_args, label)
            assert run.returncode == 0, run.log.read_text()[-6000:]
            assert "passed: TTFT p95" in " ".join(run.stdout.split()), run.stdout[-3000:]
            assert server_args() == expected
            assert candidates() == []
            # The old replica stops after the playbook: stream on until it drained and is gone.
            wait("the old replica gone", lambda expected=expected: pods_settled(expected), timeout=180, every=2)
            steps[label] = (time.monotonic() - started, client.total)
    finally:
        client.stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        counts = f"{client.total} streamed requests through LiteLLM, {len(client.failures)} failed"
        print(
            f"\nclient: {counts}; "
            + "; ".join(
                f"{label}: {seconds:.0f} s, {done} requests by its end" for label, (seconds, done) in steps.items()
            )
        )
        for failure in client.failures[:20]:
            print(f"  failed: {failure}")
    TIMINGS[f"client under both rollouts: {counts}"] = sum(seconds for seconds, _ in steps.values())
    assert client.failures == [], f"{counts}: {client.failures[:10]}"
    assert client.ok >= 10 * STREAMS, counts
