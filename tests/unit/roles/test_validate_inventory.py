"""The validate stage (playbooks/validate.yml, roles/validate_inventory) against fixture inventories.

Every fixture under tests/fixtures/inventories/ is a complete inventory (hosts.yml plus the project's
group_vars linked as 00_project, like inventories/onprem). Its hosts have TEST-NET addresses that
cannot be reached: a validate run that tried to contact a host would report it unreachable instead
of passing or failing with its message. Each bad inventory must fail with exactly its sentences; the
good one must pass; every run must report changed=0 for the controller alone.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "inventories"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"
VERSIONS = PROJECT_ROOT / "group_vars" / "all" / "versions.yml"
FAKE_TOKEN = "hf_fixtureTOKENnotAsecret0123456789"  # noqa: S105 (made-up token, asserted never printed)


def where(name: str) -> str:
    return str(FIXTURES / name)


EXPECTED = {
    "even_servers": [
        f"Group k8s_servers has 2 host(s) (cp-1, cp-2) in the inventory ({where('even_servers')}): etcd needs a "
        "majority, so put 1 host (no HA) or an odd number >= 3 (HA) in k8s_servers."
    ],
    "no_gpu_nodes": [
        f"Group gpu_nodes is empty in the inventory ({where('no_gpu_nodes')}), but gpu_required is true: add the "
        "hosts with NVIDIA GPUs to gpu_nodes, or set gpu_required: false in the inventory's group_vars/all for a "
        "cluster without GPUs."
    ],
    "gpu_not_in_cluster": [
        f"Host gpu-9 is in gpu_nodes but not a Kubernetes node (k8s_cluster) in the inventory "
        f"({where('gpu_not_in_cluster')}): add it to k8s_agents or k8s_servers, or remove it from gpu_nodes."
    ],
    "bad_names_and_addresses": [
        "Host name GPU_1 is not a DNS-1123 label: it becomes the host name and the Kubernetes node name; rename it "
        "in the inventory to lowercase a-z, 0-9 and '-' (at most 63 characters, e.g. gpu-1).",
        "node_ip 10.20.0.10 is used by cp-1, gpu-2: every node needs its own address on the private network; "
        "correct node_ip of all but one.",
        "ansible_host:port 192.0.2.10:22 is used by cp-1, gpu-2: two inventory names would configure the same "
        "machine; give each host its own ansible_host (or ansible_port), or remove the duplicate.",
    ],
    "node_ip_outside_network": [
        "Host gpu-2: node_ip 10.30.0.22 is outside private_network_cidr 10.20.0.0/24: write the host's address on "
        "the private network, or correct private_network_cidr in the inventory's group_vars/all."
    ],
    "overlapping_networks": [
        f"service_cidr '10.43.0.1/16' in the inventory's group_vars/all ({where('overlapping_networks')}) is not a "
        "network in CIDR notation with its host bits zero; write e.g. 10.43.0.0/16.",
        f"private_network_cidr 10.20.0.0/24 and pod_cidr 10.20.0.128/25 overlap in the inventory's group_vars/all "
        f"({where('overlapping_networks')}): packets for one would be routed to the other; choose pod_cidr outside "
        "10.20.0.0/24 (the k3s defaults are pod_cidr 10.42.0.0/16, service_cidr 10.43.0.0/16).",
    ],
    "bad_choices": [
        f"cluster_distribution is 'k8s' in the inventory's group_vars/all ({where('bad_choices')}); write one of: "
        "k3s, kubeadm.",
        f"nvidia_driver_strategy is 'dkms' in the inventory's group_vars/all ({where('bad_choices')}); write one "
        "of: operator, host.",
        f"platform_delivery is 'gitops' in the inventory's group_vars/all ({where('bad_choices')}); write one of: "
        "apply, render.",
    ],
    "floating_versions": [
        f"k3s_version is 'latest', which floats (latest, stable, nightly, edge, main, master move under you); pin a "
        f"fixed version or tag in {VERSIONS}, e.g. a release such as v1.2.3 or an image digest @sha256:...",
        f"vllm_image is 'docker.io/vllm/vllm-openai:latest', which floats (latest, stable, nightly, edge, main, "
        f"master move under you); pin a fixed version or tag in {VERSIONS}, e.g. a release such as v1.2.3 or an "
        "image digest @sha256:...",
    ],
    "bad_models": [
        "inference_models[1] ('llama-70b'): one replica requests 2 GPU(s) but vLLM would use 1 (tensor_parallel 1 x "
        "pipeline/data parallel in extra_args); GPUs that vLLM does not use sit idle. Write tensor_parallel: 2, or "
        "gpus: 1, or add --pipeline-parallel-size 2 to extra_args. Fix it in the inventory's group_vars/all.",
        "inference_tenants[0] ('team-a'): model 'llama-8b' is not in inference_models (known: llama-70b, "
        "qwen25-7b); write one of those names or add the model. Fix it in the inventory's group_vars/all.",
    ],
    "renamed_variable": [
        "nvidia_driver_install (set in group_vars/all or on the command line) was renamed to nvidia_driver_strategy: "
        "nvidia_driver_install: true becomes nvidia_driver_strategy: host, false becomes nvidia_driver_strategy: "
        "operator. Rename it in the inventory; the old name is ignored by every role."
    ],
    "host_overrides_cluster_setting": [
        "pod_cidr differs on gpu-1 from group_vars/all: it is a cluster-wide setting; set it once in the inventory's "
        "group_vars/all and remove it from host_vars and other groups."
    ],
}
NO_HF_CREDENTIAL_MESSAGE = (
    "Models llama-70b set hf_token_required: true but no Hugging Face token is set: put it in Ansible Vault as "
    'vllm_hf_token (e.g. vllm_hf_token: "{{ vault_hf_token }}" in the inventory\'s group_vars/all), export HF_TOKEN, '
    "or attach an AWX credential that sets it."
)


def run_validate(inventory: str, *extra: str, token: str | None = FAKE_TOKEN) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "HF_TOKEN"}
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    if token is not None:
        env["HF_TOKEN"] = token
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(FIXTURES / inventory), "playbooks/validate.yml", *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    report = json.loads(result.stdout)
    failures = [
        result_of_host.get("msg")
        for play in report["plays"]
        for task in play["tasks"]
        for result_of_host in task["hosts"].values()
        if result_of_host.get("failed")
    ]
    return {
        "rc": result.returncode,
        "stats": report["stats"],
        "failures": failures,
        "raw": result.stdout + result.stderr,
    }


@pytest.fixture(scope="module")
def runs() -> dict:
    """Every fixture inventory validated once, two at a time (the machine has two cores)."""
    cases = {name: (name,) for name in [*EXPECTED, "good"]}
    cases["good without token"] = ("good",)
    cases["no_gpu_nodes with gpu_required false"] = ("no_gpu_nodes", "-e", '{"gpu_required": false}')
    cases["distribution without ports"] = (
        "good",
        "-e",
        '{"cluster_distribution": "kubeadm", "cluster_ports": {"k3s": []}}',
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(run_validate, *args, token=None if name == "good without token" else FAKE_TOKEN)
            for name, args in cases.items()
        }
        return {name: future.result() for name, future in futures.items()}


def assert_controller_only_and_unchanged(run: dict) -> None:
    assert set(run["stats"]) == {"localhost"}, f"validate contacted or planned hosts: {sorted(run['stats'])}"
    assert run["stats"]["localhost"]["changed"] == 0
    assert run["stats"]["localhost"]["unreachable"] == 0


def test_the_good_inventory_passes(runs):
    run = runs["good"]
    assert run["rc"] == 0, run["raw"]
    assert run["failures"] == []
    assert_controller_only_and_unchanged(run)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_bad_inventory_fails_with_its_message(runs, case):
    run = runs[case]
    assert run["rc"] == 2, run["raw"]
    assert run["failures"] == [EXPECTED[case]]
    assert_controller_only_and_unchanged(run)


def test_a_gated_model_without_a_token_fails(runs):
    run = runs["good without token"]
    assert run["rc"] == 2, run["raw"]
    assert run["failures"] == [[NO_HF_CREDENTIAL_MESSAGE]]


def test_the_token_is_never_printed(runs):
    for name, run in runs.items():
        assert FAKE_TOKEN not in run["raw"], f"{name} printed the Hugging Face token"


def test_a_cluster_without_gpus_passes_when_gpus_are_not_required(runs):
    assert runs["no_gpu_nodes with gpu_required false"]["rc"] == 0


def test_the_token_stays_hidden_at_full_verbosity():
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-vvvv", "-i", str(FIXTURES / "good"), "playbooks/validate.yml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_TOKEN": FAKE_TOKEN},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert FAKE_TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", ["lab", "onprem"])
def test_the_shipped_inventories_pass(inventory):
    """inventories/lab and inventories/onprem are examples operators copy: they must validate."""
    lab_hosts = PROJECT_ROOT / "inventories" / "lab" / "hosts.yml"
    if inventory == "lab" and not lab_hosts.exists():
        pytest.skip("inventories/lab/hosts.yml is written by playbooks/lab.yml (make lab)")
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", f"inventories/{inventory}", "playbooks/validate.yml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_distribution_without_its_ports_is_refused(runs):
    run = runs["distribution without ports"]
    assert run["rc"] == 2
    assert run["failures"] == [
        [
            f"cluster_ports has no entry for cluster_distribution kubeadm in the inventory's group_vars/all "
            f"({where('good')}); keep the project default in group_vars/all/main.yml, or list that distribution's "
            "ports (port, proto, hosts, from, purpose)."
        ]
    ]
