"""preflight reads and never writes: run again against the converged lab hosts (normally and in check mode)
it changes nothing, and each failing case stops with its message. The runs go through ansible-playbook with
this scenario's inventory and converge.yml, as an operator's prepare stage would. Every run happens once
(module fixture), between two snapshots of both hosts' filesystems taken with podman exec."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO = Path(__file__).resolve().parents[1]
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
SERVER = "molecule-pf-server-1"
GPU_AGENT = "molecule-pf-agent-1"
# Everything a task could leave behind (configuration, packages, home of root, local software). /root/.ansible
# is left out: ansible-playbook keeps its temporary files there.
SNAPSHOT = (
    "find /etc /root /usr /opt /srv /home /var/lib/dpkg /var/lib/apt -xdev -path /root/.ansible -prune"
    " -o -printf '%p %s %T@\\n' 2>/dev/null | sort | sha256sum"
)
CASES = {
    "lab settings": (),
    "lab settings, check mode": ("--check",),
    "memory threshold": ("-e", '{"preflight_min_memory_gib": 100000}'),
    "disk threshold": ("-e", '{"preflight_min_disk_gib": 100000}'),
    "gpu check on": ("-e", '{"preflight_gpu_check": true, "inference_models": []}'),
    "host driver": ("-e", "preflight_nvidia_driver_package_pattern=^dpkg$"),
    # A string, as -e and AWX surveys give it: the opt-in is off.
    "cgroup v1 without the opt-in": ("-e", "cluster_allow_cgroup_v1=false"),
    "kubeadm with the distribution's containerd": ("-e", "cluster_distribution=kubeadm"),
}


def on(host, command):
    return subprocess.run(
        ["podman", "exec", host, "sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout


def preflight(*extra):
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    venv = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv"))
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", str(INVENTORY), str(SCENARIO / "converge.yml"), *extra]
    result = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env, check=False)
    report = json.loads(result.stdout)
    failures, messages, warnings = {}, {}, {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for name, outcome in task["hosts"].items():
                warnings.setdefault(name, []).extend(outcome.get("warnings", []))
                if outcome.get("failed"):
                    failures[name] = outcome.get("msg")
                elif task["task"]["name"].endswith(("Report every problem found", "did not apply and why")):
                    messages.setdefault(name, []).append(outcome.get("msg"))
    return {
        "rc": result.returncode,
        "stats": report["stats"],
        "failures": failures,
        "messages": messages,
        "warnings": warnings,
    }


@pytest.fixture(scope="module")
def runs():
    before = {host: on(host, SNAPSHOT) for host in (SERVER, GPU_AGENT)}
    results = {name: preflight(*extra) for name, extra in CASES.items()}
    after = {host: on(host, SNAPSHOT) for host in (SERVER, GPU_AGENT)}
    assert after == before, "preflight changed a host"
    return results


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_run_changes_anything(runs, case):
    stats = runs[case]["stats"]
    assert {name: stats[name]["changed"] for name in (SERVER, GPU_AGENT)} == {SERVER: 0, GPU_AGENT: 0}


@pytest.mark.parametrize("case", ["lab settings", "lab settings, check mode"])
def test_the_lab_settings_pass(runs, case):
    assert (runs[case]["rc"], runs[case]["failures"]) == (0, {})


def test_a_cgroup_v1_host_is_refused_without_the_opt_in(runs):
    """This machine's kernel is hybrid cgroup v1 (issue 19): kubelet 1.35 would refuse to start there."""
    run = runs["cgroup v1 without the opt-in"]
    assert run["rc"] == 2
    assert set(run["failures"]) == {SERVER, GPU_AGENT}
    for name, errors in run["failures"].items():
        assert errors == [
            f"{name}: the host runs cgroup v1 with the v2 hierarchy beside it (hybrid), and the pinned Kubernetes' "
            "kubelet refuses to start on cgroup v1 (failCgroupV1, KEP-5573). Boot with cgroup v2: add "
            "systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and "
            "reboot (Ubuntu 22.04+ and Debian 12 default to v2). Only if that is impossible, set "
            "cluster_allow_cgroup_v1: true in the inventory's group_vars/all (kubelet then runs with failCgroupV1: "
            "false, warned about on every run)."
        ]


def test_with_the_opt_in_cgroup_v1_passes_with_a_warning(runs):
    notes, summary = runs["lab settings"]["messages"][SERVER]
    assert "cgroup v1 with the v2 hierarchy beside it (hybrid); cluster_allow_cgroup_v1 is true" in " ".join(notes)
    assert "cgroup v1" in summary
    assert any("kubelet will run on cgroup v1" in warning for warning in runs["lab settings"]["warnings"][SERVER])


def test_debian_12s_containerd_is_refused_for_kubeadm(runs):
    """Debian 12's containerd 1.6 is end of life upstream; the kubeadm role would install it from the package."""
    run = runs["kubeadm with the distribution's containerd"]
    assert run["rc"] == 2
    for name in (SERVER, GPU_AGENT):
        [error] = run["failures"][name]
        assert re.match(
            rf"{name}: the container runtime would be containerd 1\.6\.[0-9]+\S* \(package containerd \(apt "
            r"candidate\)\), older than 2\.0 \(preflight_containerd_min_version\)",
            error,
        ), error


def test_the_gpu_check_says_it_was_skipped_and_why(runs):
    notes, summary = runs["lab settings"]["messages"][GPU_AGENT]
    assert (
        f"{GPU_AGENT}: GPU check skipped (preflight_gpu_check: false): "
        "the lab hosts are podman containers on a machine without NVIDIA GPUs. "
        "GPU sizing (CPUs and memory per GPU) is skipped with it; nothing here proves this host can run a model."
    ) in notes
    assert "NVIDIA GPUs: not checked" in summary
    assert "(needs 11.0)" in summary, "1 GiB base (converge.yml) + the model's 10Gi cache on the GPU node"


def test_too_little_memory_fails_with_the_threshold_named(runs):
    run = runs["memory threshold"]
    assert run["rc"] == 2
    assert set(run["failures"]) == {SERVER, GPU_AGENT}
    for name, errors in run["failures"].items():
        assert len(errors) == 1, errors
        assert re.fullmatch(
            rf"{name}: [0-9.]+ GiB of memory, needs 100000 GiB \(preflight_min_memory_gib\); use a host with more "
            r"memory, or a model with fewer GPUs per replica, or lower the threshold if you have measured less is "
            r"enough\.",
            errors[0],
        ), errors[0]


def test_too_little_disk_fails_naming_the_threshold_and_the_model_caches(runs):
    """The GPU node's need adds the model's 10Gi cache (local-path storage on the node's disk); a server's does not."""
    run = runs["disk threshold"]
    assert run["rc"] == 2
    assert set(run["failures"]) == {SERVER, GPU_AGENT}
    caches = " + 10.0 GiB of model caches: cache_size of every model, or preflight_model_cache_size_default"
    network = ", or put the model caches on network storage (preflight_model_cache_on_node_disk: false)"
    expected = {
        SERVER: ("100000 GiB (preflight_min_disk_gib 100000)", ""),
        GPU_AGENT: (f"100010.0 GiB (preflight_min_disk_gib 100000{caches})", network),
    }
    for name, errors in run["failures"].items():
        assert len(errors) == 1, errors
        needs, advice = expected[name]
        assert re.fullmatch(
            rf"{name}: [0-9.]+ GiB free on /var/lib, needs "
            + re.escape(f"{needs}; free or add disk under /var/lib{advice}."),
            errors[0],
        ), errors[0]


def test_the_gpu_check_fails_on_a_gpu_node_without_gpus(runs):
    run = runs["gpu check on"]
    assert run["rc"] == 2
    assert run["failures"] == {
        GPU_AGENT: [
            f"{GPU_AGENT} is in gpu_nodes but shows no NVIDIA GPU (lspci -n -d 10de: lists no display or 3D "
            "controller); check the hardware (lspci -nn | grep -i nvidia), or remove the host from gpu_nodes."
        ]
    }


def test_a_host_driver_conflicts_with_the_operator_strategy(runs):
    """dpkg stands in for a driver package by way of the pattern: the detection path is the real one."""
    run = runs["host driver"]
    assert run["rc"] == 2
    for name in (SERVER, GPU_AGENT):
        assert run["failures"][name] == [
            f"{name}: packages dpkg are installed, but nvidia_driver_strategy is operator: the GPU Operator's driver "
            "container cannot load its driver beside a host driver. Remove the host driver (apt-get purge dpkg, then "
            "reboot), or set nvidia_driver_strategy: host to keep it."
        ]


def test_a_taken_cluster_port_fails_naming_the_process(runs):
    on(SERVER, "systemd-run --unit=pf-port-squatter python3 -m http.server 6443 --bind 0.0.0.0")
    try:
        on(SERVER, "timeout 20 sh -c 'until ss -Htln | grep -q :6443; do sleep 0.5; done'")
        run = preflight("--limit", SERVER)
    finally:
        on(SERVER, "systemctl stop pf-port-squatter || true")
    assert run["rc"] == 2
    [error] = run["failures"][SERVER]
    assert re.fullmatch(
        rf"{SERVER}: port 6443/tcp \(Kubernetes API \(k3s supervisor\)\) is taken by python3 \(pid [0-9]+\) on "
        r"0\.0\.0\.0; stop or move that service, the cluster needs the port \(cluster_ports in group_vars/all\)\.",
        error,
    ), error
