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
import yaml
from ansible_collections.inference.platform.plugins.filter.inventory import resolved_pins

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "inventories"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"
VERSIONS = PROJECT_ROOT / "group_vars" / "all" / "versions.yml"
GATEWAY_PIN = resolved_pins(yaml.safe_load(VERSIONS.read_text(encoding="utf-8")))["litellm_image"]
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
        f"k3s_version is 'latest', which floats ('latest' moves under you); pin it in {VERSIONS} (or the inventory's "
        "group_vars/all) to an exact release such as v1.35.4+k3s1 (the project's pin).",
        f"vllm_image is 'docker.io/vllm/vllm-openai:latest', which floats (its tag 'latest' moves under you); pin it "
        f"in {VERSIONS} (or the inventory's group_vars/all) to a fixed tag, or a digest (name@sha256:<digest>) such "
        "as docker.io/vllm/vllm-openai:v0.33.0 (the project's pin).",
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
GOOD = where("good")
IN_GROUP_VARS = f"in the inventory's group_vars/all ({GOOD})"
WORLD_OPEN = (
    "opens SSH and the Kubernetes API (6443) to everybody: host_prep's firewall and the Hetzner firewalls would admit "
    "it. Write your administrators' networks (e.g. 198.51.100.0/24, or a VPN's address/32); if the hosts must really "
    "be reachable from anywhere, also set admin_cidrs_allow_world: true (it is warned about on every run)."
)
SEVENTY_B_FP16 = {
    "name": "llama-70b-fp16",
    "hf_id": "meta-llama/Llama-3.3-70B-Instruct",
    "revision": "main",
    "gpus": 1,
    "tensor_parallel": 1,
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.9,
    "quantization": None,
    "extra_args": [],
    "replicas": {"min": 1, "max": 1},
    "autoscale": {"queue_threshold": 5, "cooldown_seconds": 300, "scale_to_zero": False},
    "size": {"params_b": 70.6, "dtype": "bfloat16", "layers": 80, "kv_heads": 8, "head_dim": 128},
}
# Issue 19's table: each bad input, given to the good fixture with -e, and the sentences validate answers with.
REFUSED = {
    "tenants on a gateway without database": (
        {"litellm_database": "none"},
        [
            f"litellm_database is none {IN_GROUP_VARS}, but inference_tenants lists team-a: tenants become LiteLLM "
            "teams with keys and budgets, which live in the gateway's database. Write inference_tenants: [] (only "
            "the master key reaches the models), or litellm_database: postgres."
        ],
    ),
    "a node port outside the range": (
        {"litellm_service_type": "NodePort", "litellm_node_port": 8080},
        [
            f"litellm_service_type is NodePort {IN_GROUP_VARS} but litellm_node_port is '8080'; write a port from "
            "30000 to 32767 (the Kubernetes API server's default service-node-port-range), e.g. litellm_node_port: "
            "30400, and point verify_litellm_url at http://<a node's address>:<that port>."
        ],
    ),
    "gateway metrics without the label the wake query selects": (
        {"litellm_metrics_exclude_labels": ["client_ip", "requested_model"]},
        [
            f"litellm_metrics_exclude_labels {IN_GROUP_VARS} drops requested_model, which the platform reads (the "
            "scale-to-zero wake query selects requested_model; the gateway dashboard sums by requested_model, model, "
            "team_alias); remove it from the list."
        ],
    ),
    "world-open IPv4 admin_cidrs": (
        {"admin_cidrs": ["0.0.0.0/0"]},
        [f"admin_cidrs entry 0.0.0.0/0 {IN_GROUP_VARS} {WORLD_OPEN}"],
    ),
    "world-open IPv6 admin_cidrs": (
        {"admin_cidrs": ["::/0"]},
        [f"admin_cidrs entry ::/0 {IN_GROUP_VARS} {WORLD_OPEN}"],
    ),
    "a /4 in admin_cidrs": (
        {"admin_cidrs": ["0.0.0.0/4"]},
        [
            f"admin_cidrs entry 0.0.0.0/4 {IN_GROUP_VARS} "
            + WORLD_OPEN.replace("to everybody", "to a /4, a large part of the internet")
        ],
    ),
    "admin_cidrs as a string": (
        {"admin_cidrs": "10.0.0.0/8"},
        [
            f"admin_cidrs is the string '10.0.0.0/8' {IN_GROUP_VARS}, not a list; write a list: "
            "admin_cidrs: ['10.0.0.0/8']."
        ],
    ),
    "a floating gateway tag": (
        {"litellm_image": "ghcr.io/berriai/litellm-database:main-latest"},
        [
            "litellm_image is 'ghcr.io/berriai/litellm-database:main-latest', which floats (its tag 'main-latest' "
            f"moves under you); pin it in {VERSIONS} (or the inventory's group_vars/all) to a fixed tag, or a digest "
            f"(name@sha256:<digest>) such as {GATEWAY_PIN} (the project's pin)."
        ],
    ),
    "chart version ranges": (
        {"keda_chart_version": "*", "monitoring_kube_prometheus_stack_chart_version": ">=2.0"},
        [
            f"keda_chart_version is '*', which is a version range, not one release; pin it in {VERSIONS} (or the "
            "inventory's group_vars/all) to an exact release such as 2.20.2 (the project's pin).",
            "monitoring_kube_prometheus_stack_chart_version is '>=2.0', which is a version range, not one release; "
            f"pin it in {VERSIONS} (or the inventory's group_vars/all) to an exact release such as 88.5.3 (the "
            "project's pin).",
        ],
    ),
    "a partial k3s version": (
        {"k3s_version": "v1.35"},
        [
            "k3s_version is 'v1.35', which is not an exact release (major.minor.patch); pin it in "
            f"{VERSIONS} (or the inventory's group_vars/all) to an exact release such as v1.35.4+k3s1 (the project's "
            "pin)."
        ],
    ),
    "flags the platform sets, in extra_args": (
        {"inference_models": [{**SEVENTY_B_FP16, "name": "m", "size": {**SEVENTY_B_FP16["size"], "params_b": 1},
                               "extra_args": ["--tensor-parallel-size", "4", "--gpu-memory-utilization=1.5"]}],
         "inference_tenants": []},
        [
            "inference_models[0] ('m'): extra_args sets --gpu-memory-utilization, which the platform sets from the "
            "model entry; remove it from extra_args and write gpu_memory_utilization in the model entry instead. "
            "Fix it in the inventory's group_vars/all.",
            "inference_models[0] ('m'): extra_args sets --tensor-parallel-size, which the platform sets from the "
            "model entry; remove it from extra_args and write tensor_parallel in the model entry instead. Fix it in "
            "the inventory's group_vars/all.",
        ],
    ),
    "no tenants (null)": (
        {"inference_tenants": None},
        [
            'inference_tenants is empty (null): the key is there with no list under it. Write the tenants under it '
            '(docs/architecture.md, "The model list"), or inference_tenants: [] when no team is admitted yet. Fix it '
            "in the inventory's group_vars/all."
        ],
    ),
    "no models (null)": (
        {"inference_models": None, "inference_tenants": []},
        [
            'inference_models is empty (null): the key is there with no list under it. Write the model entries '
            'under it (docs/architecture.md, "The model list"), or inference_models: [] for a cluster that serves '
            "no model yet. Fix it in the inventory's group_vars/all."
        ],
    ),
    "a 70B model in 16 bit on one GPU": (
        {"inference_models": [SEVENTY_B_FP16], "inference_tenants": []},
        [
            "inference_models[0] ('llama-70b-fp16'): needs about 135.5 GiB per GPU (weights 131.5 GiB and KV cache "
            "for max_model_len 8192 2.5 GiB, split over 1 GPU(s), + 1.5 GiB runtime), but a GPU of gpu-1, gpu-2 has "
            "79.6 GiB (gpu_memory_gib in the inventory) x gpu_memory_utilization 0.9 = 71.64 GiB: vLLM would stop "
            "at start with out-of-memory or too little KV cache. Ways out: more GPUs per replica (gpus: 2, "
            "tensor_parallel: 2 needs about 68.5 GiB per GPU); a 4-bit quantized checkpoint (e.g. AWQ: about 43.45 "
            "GiB per GPU); a higher gpu_memory_utilization where the GPU serves nothing else (at most 0.98)."
        ],
    ),
}
ACCEPTED = {
    "gpu_required=false as a string": ("-e", "gpu_required=false"),
    "world-open admin_cidrs with the explicit opt-in": (
        "-e",
        json.dumps({"admin_cidrs": ["0.0.0.0/0"], "admin_cidrs_allow_world": "true"}),
    ),
    "the lab's gateway: no database, no tenants, a NodePort given as strings": (
        "-e",
        json.dumps({"litellm_database": "none", "inference_tenants": [], "litellm_service_type": "NodePort",
                    "litellm_node_port": "30400", "litellm_ingress_enabled": "false"}),
    ),
    "an image pinned by digest": ("-e", "vllm_image=docker.io/vllm/vllm-openai@sha256:" + "ab" * 32),
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
    results = [result_of_host for play in report["plays"] for task in play["tasks"] for result_of_host in
               task["hosts"].values()]
    return {
        "rc": result.returncode,
        "stats": report["stats"],
        "failures": [outcome.get("msg") for outcome in results if outcome.get("failed")],
        "warnings": [warning for outcome in results for warning in outcome.get("warnings", [])],
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
    for name, (extra, _) in REFUSED.items():
        cases[name] = ("good", "-e", json.dumps(extra))
    for name, args in ACCEPTED.items():
        cases[name] = ("good", *args)
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


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_value_is_refused_in_validate_naming_the_variable_and_the_fix(runs, case):
    """Issue 19's table: each bad input is refused by validate.yml, before any host is touched."""
    run = runs[case]
    assert run["rc"] == 2, run["raw"]
    assert run["failures"] == [REFUSED[case][1]]
    assert_controller_only_and_unchanged(run)


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_a_good_value_in_another_spelling_is_accepted(runs, case):
    run = runs[case]
    assert run["rc"] == 0, run["raw"]
    assert "derived from value of type" not in run["raw"]


def test_a_world_open_network_with_the_opt_in_is_warned_about(runs):
    warnings = runs["world-open admin_cidrs with the explicit opt-in"]["warnings"]
    # The images the versions file pins by tag only are warned about too (issue 18); the gateway's is accepted
    # explicitly by the example inventory, so it is neither refused nor warned.
    images = sorted(w.split(" ")[0] for w in warnings if " is pinned by tag only " in w)
    assert images == [
        "ee_base_image", "litellm_postgres_image", "llamacpp_cuda_image", "llamacpp_image", "vllm_image"
    ], warnings
    warnings = [w for w in warnings if " is pinned by tag only " not in w]
    assert warnings == [
        "admin_cidrs entry 0.0.0.0/0 opens SSH and the Kubernetes API (6443) to everybody, because "
        f"admin_cidrs_allow_world is true {IN_GROUP_VARS}. Narrow it to your administrators' networks when you can."
    ]
    assert [w for w in runs["good"]["warnings"] if " is pinned by tag only " not in w] == []
