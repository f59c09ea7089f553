"""inference.platform.preflight_problems: one host weighed against the cluster and the models, from what
roles/preflight read (molecule/preflight runs the same filter through the role on lab hosts)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.inference.platform.plugins.filter.preflight import preflight_problems

ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((ROOT / "roles/preflight/defaults/main.yml").read_text())
PROJECT = yaml.safe_load((ROOT / "group_vars/all/main.yml").read_text())
MODEL = {
    "name": "qwen25-7b", "hf_id": "Qwen/Qwen2.5-7B-Instruct", "revision": "main", "gpus": 1, "tensor_parallel": 1,
    "max_model_len": 8192, "gpu_memory_utilization": 0.9, "quantization": None, "extra_args": [],
    "replicas": {"min": 1, "max": 1}, "autoscale": {"queue_threshold": 5, "cooldown_seconds": 300,
                                                    "scale_to_zero": False},
    "size": {"params_b": 7.62, "layers": 28, "kv_heads": 4, "head_dim": 128}, "cache_size": "20Gi",
}
SETTINGS = {
    **DEFAULTS,
    "inference_models": [MODEL],
    "cluster_ports": PROJECT["cluster_ports"],
    "cluster_distribution": "k3s",
    "cluster_allow_cgroup_v1": False,
    "nvidia_driver_strategy": "operator",
}
OBSERVED = {
    "host": "gpu-1",
    "is_gpu": True,
    "is_server": False,
    "facts": {"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24",
              "kernel": "6.8.0-45-generic", "processor_vcpus": 16, "memtotal_mb": 64 * 1024,
              "tcp_listen": [], "udp_listen": []},
    "disk_avail_bytes": 500 * 1024 ** 3,
    "lspci": {"rc": 0, "stdout_lines": ["01:00.0 0300: 10de:27b0 (rev a1)"]},
    "gpu_facts": {},
    "efi": False,
    "mokutil": {},
    "efivar": {},
    "nvidia_module": False,
    "dpkg_lines": ["ii  bash", "ii  openssh-server"],
    "clock_skew": 0,
    "timedatectl": {"rc": 0, "stdout_lines": ["NTP=yes", "NTPSynchronized=yes"]},
    "cgroup": {"version": "v2", "detail": "cgroup2fs"},
    "runtime": {},
}


def check(observed=None, **settings):
    seen = copy.deepcopy(OBSERVED)
    for key, value in (observed or {}).items():
        seen[key] = value
    return preflight_problems(seen, {**SETTINGS, **settings})


def test_a_good_gpu_host_passes_with_a_summary():
    result = check()
    assert result["errors"] == []
    assert result["summary"] == (
        "gpu-1: Ubuntu 24.04, kernel 6.8.0-45-generic, cgroup v2, runtime the containerd k3s bundles, 16 CPU(s) "
        "(needs 6), 64.0 GiB memory (needs 28), 500.0 GiB free on /var/lib (needs 50.0), NVIDIA GPUs: 1, Secure Boot "
        "off (legacy BIOS boot), clock synchronised, 2 cluster port rule(s) free."
    )


@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_a_cgroup_v1_host_is_refused_with_the_fix(version):
    [error] = check({"cgroup": {"version": version}})["errors"]
    assert "kubelet refuses to start on cgroup v1 (failCgroupV1, KEP-5573)" in error
    assert "systemd.unified_cgroup_hierarchy=1" in error and "cluster_allow_cgroup_v1: true" in error


def test_with_the_opt_in_cgroup_v1_is_a_note():
    result = check({"cgroup": {"version": "hybrid"}}, cluster_allow_cgroup_v1="true")
    assert result["errors"] == []
    assert any("cluster_allow_cgroup_v1 is true, so kubelet is told failCgroupV1: false" in n for n in result["notes"])


def test_kubeadm_with_an_end_of_life_containerd_is_refused():
    runtime = {"version": "1.6.20~ds1-1+deb12u3", "source": "package containerd (apt candidate)"}
    [error] = check({"runtime": runtime}, cluster_distribution="kubeadm")["errors"]
    assert error.startswith(
        "gpu-1: the container runtime would be containerd 1.6.20~ds1-1+deb12u3 (package containerd (apt candidate)), "
        "older than 2.0 (preflight_containerd_min_version)"
    )


@pytest.mark.parametrize("version", ["2.0.5", "1:2.1.4-0ubuntu1", "v2.4.2"])
def test_kubeadm_with_containerd_2_passes(version):
    runtime = {"version": version.lstrip("v"), "source": "preflight_containerd_version"}
    assert check({"runtime": runtime}, cluster_distribution="kubeadm")["errors"] == []


def test_kubeadm_without_any_containerd_says_what_to_do():
    [error] = check({"runtime": {"version": "", "source": "package containerd"}}, cluster_distribution="kubeadm")[
        "errors"]
    assert "run apt-get update if the lists are empty" in error


def test_a_model_too_big_for_the_measured_gpu_is_refused_at_preflight():
    gpu_facts = {"gpus": [{"memory": {"total_mib": 24576}}]}
    big = {**MODEL, "name": "big", "size": {**MODEL["size"], "params_b": 14.7, "layers": 48, "kv_heads": 8}}
    result = check({"gpu_facts": gpu_facts}, preflight_gpu_source="gpu_facts", inference_models=[MODEL, big])
    [error] = result["errors"]
    assert error.startswith("inference_models[1] ('big'): needs about 30.38 GiB per GPU")
    assert "but a GPU of gpu-1 has 24.0 GiB (measured by gpu_facts) x gpu_memory_utilization 0.9 = 21.6 GiB" in error


def test_the_existing_sizing_checks_keep_their_words():
    errors = check({"facts": {**OBSERVED["facts"], "memtotal_mb": 8 * 1024}})["errors"]
    assert errors == [
        "gpu-1: 8.0 GiB of memory, needs 28 GiB (preflight_min_memory_gib + preflight_memory_gib_per_gpu x 1 GPU(s) "
        "of the largest replica); use a host with more memory, or a model with fewer GPUs per replica, or lower the "
        "threshold if you have measured less is enough."
    ]


def test_a_gpu_node_without_gpus_and_a_taken_port():
    facts = {**OBSERVED["facts"], "tcp_listen": [{"port": 10250, "name": "nginx", "pid": 7, "address": "0.0.0.0"}]}  # noqa: S104 (a listener read from the host)
    errors = check({"lspci": {"rc": 0, "stdout_lines": []}, "facts": facts})["errors"]
    assert errors == [
        "gpu-1 is in gpu_nodes but shows no NVIDIA GPU (lspci -n -d 10de: lists no display or 3D controller); check "
        "the hardware (lspci -nn | grep -i nvidia), or remove the host from gpu_nodes.",
        "gpu-1: port 10250/tcp (kubelet) is taken by nginx (pid 7) on 0.0.0.0; stop or move that service, the "
        "cluster needs the port (cluster_ports in group_vars/all).",
    ]
