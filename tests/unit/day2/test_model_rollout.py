"""playbooks/model_rollout.yml in render mode: the candidate is rendered beside the
live model under model_rollout/ with its own name, labels and Service selector (the live Service can
never send it traffic), and the vllm component shows the promoted version; bad input fails before
anything is written. The gate itself runs only in apply mode against a cluster (roles/model_rollout/README.md)."""

from __future__ import annotations

import json

import pytest
import yaml
from day2_support import local_inventory, run_playbook

MODEL = {
    "name": "qwen25-7b",
    "hf_id": "Qwen/Qwen2.5-7B-Instruct",
    "revision": "main",
    "gpus": 1,
    "tensor_parallel": 1,
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.9,
    "quantization": None,
    "extra_args": [],
    "replicas": {"min": 2, "max": 2},
    "autoscale": {"queue_threshold": 5, "cooldown_seconds": 300, "scale_to_zero": False},
}
OTHER = {**MODEL, "name": "llama-8b", "hf_id": "meta-llama/Llama-3.1-8B-Instruct"}


@pytest.fixture
def site(tmp_path):
    render = tmp_path / "render"
    inventory = local_inventory(
        tmp_path,
        hosts={},
        groups={},
        all_vars={
            "cluster_name": "lab",
            "platform_delivery": "render",
            "platform_render_dir": str(render),
            "inference_models": [MODEL, OTHER],
            "vllm_model_cache_access_modes": ["ReadWriteMany"],
        },
    )
    return inventory, render


def documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_render_shows_the_candidate_beside_the_live_model_and_the_promoted_state(site):
    inventory, render = site
    run = run_playbook(
        inventory,
        "model_rollout.yml",
        "-e",
        "model_rollout_name=qwen25-7b",
        "-e",
        "model_rollout_revision=a1b2c3d4e5",
        "-e",
        "model_rollout_replicas_max=3",
    )
    assert run.returncode == 0, run.stdout[-4000:]
    candidate = {doc["kind"]: doc for doc in documents(render / "model_rollout" / "manifests" / "model-qwen25-7b.yaml")}
    assert set(candidate) == {"Deployment", "Service", "Job"}
    deployment, service = candidate["Deployment"], candidate["Service"]
    name = deployment["metadata"]["name"]
    assert name.startswith("qwen25-7b-c") and len(name) == len("qwen25-7b-c") + 8
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": name,
    }
    assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] == name
    assert deployment["metadata"]["labels"]["inference.platform/component"] == "model_rollout"
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--revision") + 1] == "a1b2c3d4e5"
    assert args[args.index("--served-model-name") + 1] == "qwen25-7b"
    assert service["metadata"]["name"] == name
    assert service["spec"]["selector"]["app.kubernetes.io/instance"] == name
    assert candidate["Job"]["metadata"]["annotations"]["inference.platform/revision"] == "a1b2c3d4e5"

    live = {doc["kind"]: doc for doc in documents(render / "vllm" / "manifests" / "model-qwen25-7b.yaml")}
    # The live Service selects only the live Deployment's pods, never the candidate's.
    assert live["Service"]["spec"]["selector"] == {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": "qwen25-7b",
    }
    assert live["Deployment"]["metadata"]["name"] == "qwen25-7b"
    assert live["Deployment"]["metadata"]["annotations"]["inference.platform/revision"] == "a1b2c3d4e5"
    assert live["Deployment"]["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    # Unchanged: the other model, and the keys not given (hf_id, gpus, replicas.min).
    other = {doc["kind"]: doc for doc in documents(render / "vllm" / "manifests" / "model-llama-8b.yaml")}
    assert other["Deployment"]["metadata"]["annotations"]["inference.platform/revision"] == "main"
    live_args = live["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert live_args[live_args.index("--model") + 1] == "Qwen/Qwen2.5-7B-Instruct"
    assert live["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert "no gate ran" in " ".join((run.stdout + run.stderr).split()).lower()


def test_unknown_model_is_refused_before_anything_is_written(site):
    inventory, render = site
    run = run_playbook(
        inventory, "model_rollout.yml", "-e", "model_rollout_name=mistral-7b", "-e", "model_rollout_revision=x1"
    )
    assert run.returncode != 0
    assert "model_rollout_name must name an inference_models entry (qwen25-7b, llama-8b; got 'mistral-7b')" in " ".join(
        run.stdout.split()
    )
    assert not render.exists()


def test_replicas_min_above_max_is_refused(site):
    inventory, render = site
    run = run_playbook(
        inventory, "model_rollout.yml", "-e", "model_rollout_name=qwen25-7b", "-e", "model_rollout_replicas_min=3"
    )
    assert run.returncode != 0
    # The model rule of the collection's filter, as for any entry (nothing of it is repeated in the role).
    said = " ".join((run.stdout + run.stderr).split())
    assert "replicas is min 3, max 2; write integers with 1 <= min <= max" in said
    assert not render.exists()


def test_missing_name_is_refused_by_the_argument_spec(site):
    inventory, _ = site
    run = run_playbook(inventory, "model_rollout.yml", "-e", "model_rollout_revision=x1")
    assert run.returncode != 0
    assert "model_rollout_name" in run.stdout + run.stderr


def test_new_arguments_are_rendered_for_the_candidate_and_the_promoted_state(site):
    inventory, render = site
    run = run_playbook(
        inventory,
        "model_rollout.yml",
        "-e",
        '{"model_rollout_name": "qwen25-7b", "model_rollout_extra_args": ["--enforce-eager", "--max-num-seqs", "64"]}',
    )
    assert run.returncode == 0, run.stdout[-4000:]
    candidate = {doc["kind"]: doc for doc in documents(render / "model_rollout" / "manifests" / "model-qwen25-7b.yaml")}
    live = {doc["kind"]: doc for doc in documents(render / "vllm" / "manifests" / "model-qwen25-7b.yaml")}
    for deployment in (candidate["Deployment"], live["Deployment"]):
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[-3:] == ["--enforce-eager", "--max-num-seqs", "64"], args
        assert args[args.index("--revision") + 1] == "main"
    # Same weights: the preload Job is the live one (its name keys the weights); the candidate's name keys the flags.
    assert candidate["Job"]["metadata"]["name"] == live["Job"]["metadata"]["name"]
    other = {doc["kind"]: doc for doc in documents(render / "vllm" / "manifests" / "model-llama-8b.yaml")}
    assert other["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--enable-chunked-prefill"


def test_the_candidate_key_changes_with_the_arguments(site):
    inventory, render = site
    names = []
    for extra_args in (["--enforce-eager"], ["--max-num-seqs", "64"]):
        run = run_playbook(
            inventory,
            "model_rollout.yml",
            "-e",
            json.dumps({"model_rollout_name": "qwen25-7b", "model_rollout_extra_args": extra_args}),
        )
        assert run.returncode == 0, run.stdout[-4000:]
        (deployment,) = [doc for doc in documents(render / "model_rollout" / "manifests" / "model-qwen25-7b.yaml")
                         if doc["kind"] == "Deployment"]
        names.append(deployment["metadata"]["name"])
    assert names[0] != names[1], names


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (["--max-model-len", "4096"], "extra_args sets --max-model-len, which the platform sets from the model entry"),
        ("--enforce-eager", "model_rollout_extra_args a list"),
    ],
)
def test_arguments_the_model_rules_refuse_stop_the_rollout_before_anything_is_written(site, value, said):
    inventory, render = site
    run = run_playbook(
        inventory,
        "model_rollout.yml",
        "-e",
        json.dumps({"model_rollout_name": "qwen25-7b", "model_rollout_extra_args": value}),
    )
    assert run.returncode != 0
    assert said in " ".join((run.stdout + run.stderr).split())
    assert not render.exists()
