"""The parsing the day-2 roles do on what they read from a host or the API (roles/*/vars/main.yml),
evaluated by Ansible itself on recorded command output: which mounts, interfaces, iptables tools,
nftables tables and processes node_reset acts on, and which Deployments cluster_upgrade restarts."""

from __future__ import annotations

import json

import yaml
from day2_support import PROJECT_ROOT, local_inventory, run_playbook

FINDMNT = """/
/proc
/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache
/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache/inner
/var/lib/kubelet-other
/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs
/run/netns
/run/netns/cni-1234
/run/netns/mine
/var/lib/rancher/k3s/storage/pvc\\x20with\\x20blank
/etc/hosts"""
LINKS = [
    {"ifname": name}
    for name in [
        "lo",
        "eth0",
        "cni0",
        "flannel.1",
        "flannel-v6.1",
        "cali0a1b2c3d4e",
        "vxlan.calico",
        "calibr",
        "tunl0",
        "docker0",
    ]
]
PS = """    1     0 /sbin/init
  200     1 /var/lib/rancher/k3s/data/abc/bin/containerd-shim-runc-v2 -namespace k8s.io -id x
  201   200 /pause
  202   200 python3 -m vllm.entrypoints.openai.api_server
  300     1 /usr/bin/containerd-shim-runc-v2 -namespace moby
  301   300 nginx
  400     1 /usr/bin/python3 /tmp/ansible-module containerd-shimmy"""
NFT = {
    "nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "ip", "name": "kube-proxy", "handle": 1}},
        {"table": {"family": "ip6", "name": "kube-proxy", "handle": 2}},
        {"table": {"family": "inet", "name": "inference_platform", "handle": 3}},
        {"table": {"family": "ip", "name": "filter", "handle": 4}},
        {"table": {"family": "ip", "name": "calico", "handle": 5}},
    ]
}
PODS = {
    "items": [
        {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "qwen25-7b-5d8f9c7b6"}]}},
        {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "qwen25-7b-5d8f9c7b6"}]}},
        {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "litellm-7f9d8c"}]}},
        {"metadata": {"ownerReferences": [{"kind": "DaemonSet", "name": "dcgm"}]}},
        {"metadata": {}},
    ]
}


def evaluate(tmp_path, role, facts, expressions):
    out = tmp_path / "out.json"
    playbook = tmp_path / "evaluate.yml"
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [
            str(PROJECT_ROOT / "roles" / role / "defaults" / "main.yml"),
            str(PROJECT_ROOT / "roles" / role / "vars" / "main.yml"),
        ],
        "tasks": [
            {
                "name": "Stand for what the role read (facts outrank the role files loaded above)",
                "ansible.builtin.set_fact": facts,
            },
            {
                "name": "Write the derived values",
                "ansible.builtin.copy": {
                    "content": "{{ " + "{" + ", ".join(f"'{key}': {key}" for key in expressions) + "} | to_json }}",
                    "dest": str(out),
                    "mode": "0644",
                },
            },
        ],
    }
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    inventory = local_inventory(tmp_path, hosts={}, groups={"k8s_servers": []})
    run = run_playbook(inventory, str(playbook))
    assert run.returncode == 0, run.stdout[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_node_reset_acts_only_on_the_cluster_s_leftovers(tmp_path):
    facts = {
        "cluster_distribution": "k3s",
        "__node_reset_findmnt": {"stdout_lines": FINDMNT.splitlines()},
        "__node_reset_links": {"stdout": json.dumps(LINKS)},
        "__node_reset_ps": {"stdout_lines": PS.splitlines()},
        "__node_reset_nft": {"stdout": json.dumps(NFT)},
        "__node_reset_iptables": {
            "results": [
                {"item": "iptables", "rc": 0, "stdout": "*filter\n:KUBE-SERVICES - [0:0]\nCOMMIT"},
                {"item": "ip6tables", "rc": 0, "stdout": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT"},
                {"item": "iptables-legacy", "rc": 2, "stdout": "", "failed": True},
                {"item": "ip6tables-legacy", "failed": True, "msg": "[Errno 2] No such file or directory"},
            ]
        },
    }
    got = evaluate(
        tmp_path,
        "node_reset",
        facts,
        [
            "__node_reset_mounts",
            "__node_reset_interfaces",
            "__node_reset_kill_pids",
            "__node_reset_nft_tables",
            "__node_reset_iptables_dirty",
        ],
    )
    assert got["__node_reset_mounts"][:2] == [
        "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache/inner",
        "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache",
    ]
    assert sorted(got["__node_reset_mounts"]) == sorted(
        [
            "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache/inner",
            "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/cache",
            "/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
            "/run/netns/cni-1234",
            "/var/lib/rancher/k3s/storage/pvc with blank",
        ]
    )
    assert got["__node_reset_interfaces"] == ["cni0", "flannel.1", "flannel-v6.1", "cali0a1b2c3d4e", "vxlan.calico"]
    assert sorted(got["__node_reset_kill_pids"]) == ["200", "201", "202", "300", "301"]
    assert got["__node_reset_nft_tables"] == [
        {"family": "ip", "name": "kube-proxy", "handle": 1},
        {"family": "ip6", "name": "kube-proxy", "handle": 2},
        {"family": "ip", "name": "calico", "handle": 5},
    ]
    assert [result["item"] for result in got["__node_reset_iptables_dirty"]] == ["iptables"]


def test_cluster_upgrade_restarts_the_deployments_on_the_node_and_splits_versions(tmp_path):
    facts = {
        "cluster_distribution": "k3s",
        "k3s_version": "v1.35.4+k3s1",
        "cluster_upgrade_kubernetes_version": "v1.36.1+k3s2",
        "cluster_upgrade_running_version": "v1.35.4+k3s1",
        "__cluster_upgrade_pods": {"stdout": json.dumps(PODS)},
    }
    got = evaluate(
        tmp_path,
        "cluster_upgrade",
        facts,
        [
            "__cluster_upgrade_deployments",
            "__cluster_upgrade_target",
            "__cluster_upgrade_running",
            "__cluster_upgrade_next_minor",
            "__cluster_upgrade_target_minor",
        ],
    )
    assert got["__cluster_upgrade_deployments"] == ["qwen25-7b", "litellm"]
    assert got["__cluster_upgrade_target"] == [1, 36, 1, 2, 0]
    assert got["__cluster_upgrade_running"] == [1, 35, 4, 1, 0]
    assert got["__cluster_upgrade_next_minor"] == "1.36"
    assert got["__cluster_upgrade_target_minor"] == "1.36"
