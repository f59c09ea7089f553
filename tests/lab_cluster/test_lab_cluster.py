"""The lab runs a real Kubernetes: `make lab`'s playbooks on a lab of the gate's own, then the cluster is checked.

No stand-in anywhere: three podman lab hosts (systemd, the machine's kernel) run the kubeadm role's
air-gapped install path with the node artifacts scripts/build-node-artifacts.sh built from Go modules
(real containerd, runc, kubelet, kubeadm, flannel, CoreDNS). The tests run in file order, each on what
the previous left:

1. from no lab at all, playbooks/lab.yml then playbooks/site.yml (as `make lab` runs them) end well and
   the site report says the cluster stage ran;
2. three nodes are Ready and CoreDNS is Ready;
3. a pod on each node resolves a Service name, answers through the Service's ClusterIP and reaches the
   pods of the other nodes by their pod addresses;
4. playbooks/reset.yml --limit an agent removes its node and its debris, and playbooks/cluster.yml
   --limit that agent joins it again, Ready;
5. the cluster stage of site.yml again reports changed=0 on every host.

The lab (conftest.py: one per session, shared with test_lab_standins.py) is removed at the end
(LAB_CLUSTER_KEEP=1 keeps it for a look: see lab_cluster_support.py for its names). The timings of each
playbook are printed in the summary.
"""

from __future__ import annotations

import json
import time

import pytest
from lab_cluster_support import (
    AGENTS,
    CLUSTER,
    INVENTORY_ARGS,
    KUBECONFIG,
    NODES,
    SITE_VARS,
    TIMINGS,
    artifacts_dir,
    kubectl,
    kubectl_json,
    on_host,
    playbook,
    recap,
    timed,
    wait,
)

NAMESPACE = "lab-check"


def test_make_lab_runs_the_cluster_stage(site):
    assert site.returncode == 0, site.log.read_text()[-6000:]
    assert "cluster   ran" in site.stdout, site.stdout[-3000:]
    assert KUBECONFIG.is_file() and oct(KUBECONFIG.stat().st_mode & 0o777) == "0o600"


def test_three_nodes_are_ready(site):
    nodes = kubectl_json("get", "nodes")["items"]
    ready = {
        n["metadata"]["name"]: next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        for n in nodes
    }
    assert ready == dict.fromkeys(NODES, "True")
    versions = {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes}
    runtimes = {n["status"]["nodeInfo"]["containerRuntimeVersion"] for n in nodes}
    manifest = json.loads((artifacts_dir() / "artifacts.json").read_text())["versions"]
    assert versions == {manifest["kubernetes"]}
    assert runtimes == {"containerd://" + manifest["containerd"].removeprefix("v")}


def test_coredns_is_ready(site):
    deployment = kubectl_json("-n", "kube-system", "get", "deployment", "coredns")
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] >= 1
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (
        image
        == "localhost/kubeadm/coredns:"
        + json.loads((artifacts_dir() / "artifacts.json").read_text())["versions"]["coredns"]
    )


def echo_manifest() -> str:
    """A DaemonSet answering its node's name on TCP 8080 on every node (control plane included) and its Service.

    The image is the node artifacts' kube-proxy image (Debian with bash, getent and perl): the only images
    here are the ones built locally, and every node has this one.
    """
    image = json.loads((artifacts_dir() / "artifacts.json").read_text())["images"]["images/kube-proxy.tar"]
    server = (
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) "
        'or die $!; while (my $c = $s->accept) { print $c $ENV{NODE_NAME}, "\\n"; close $c }'
    )
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "echo", "namespace": NAMESPACE},
            "spec": {
                "selector": {"matchLabels": {"app": "echo"}},
                "template": {
                    "metadata": {"labels": {"app": "echo"}},
                    "spec": {
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [
                            {
                                "name": "echo",
                                "image": image,
                                "imagePullPolicy": "Never",
                                "command": ["perl", "-e", server],
                                "env": [
                                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                                ],
                                "ports": [{"containerPort": 8080}],
                                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo", "namespace": NAMESPACE},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ]
    return "\n---\n".join(json.dumps(o) for o in objects)


@pytest.fixture(scope="module")
def echo_pods(site):
    kubectl("apply", "-f", "-", stdin=echo_manifest())

    def ready_pods():
        pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app=echo")["items"]
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return ready if {p["spec"]["nodeName"] for p in ready} == set(NODES) else None

    pods = wait("an echo pod Ready on each node", ready_pods, timeout=300)
    yield {p["spec"]["nodeName"]: p for p in pods}
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def in_pod(pod, script):
    name = pod["metadata"]["name"]
    proc = kubectl("-n", NAMESPACE, "exec", name, "--", "bash", "-c", script, check=False, timeout=60)
    assert proc.returncode == 0, f"in {pod['metadata']['name']} on {pod['spec']['nodeName']}: {proc.stderr}"
    return proc.stdout.strip()


def tcp_read(address, port):
    return f"exec 3<>/dev/tcp/{address}/{port} && timeout 5 cat <&3"


@pytest.mark.parametrize("node", NODES)
def test_a_pod_resolves_a_service_name_and_the_cluster_ip_answers(echo_pods, node):
    cluster_ip = kubectl_json("-n", NAMESPACE, "get", "service", "echo")["spec"]["clusterIP"]
    resolved = in_pod(echo_pods[node], f"getent hosts echo.{NAMESPACE}.svc.cluster.local")
    assert resolved.split()[0] == cluster_ip
    # Through the Service (kube-proxy), by its short name as a pod's resolver searches it.
    assert in_pod(echo_pods[node], tcp_read("echo", 80)) in NODES


@pytest.mark.parametrize("node", NODES)
def test_a_pod_reaches_the_pods_of_the_other_nodes(echo_pods, node):
    for other, pod in echo_pods.items():
        if other == node:
            continue
        assert in_pod(echo_pods[node], tcp_read(pod["status"]["podIP"], 8080)) == other


DEBRIS = (
    "ls -d /usr/local/bin/kubelet /usr/local/bin/kubeadm /usr/local/bin/containerd /usr/local/bin/runc "
    "/etc/systemd/system/kubelet.service /etc/systemd/system/containerd.service /etc/kubernetes /var/lib/kubelet "
    "/var/lib/containerd /etc/containerd /var/lib/etcd /etc/cni /opt/cni /var/lib/cni /run/flannel "
    "/var/lib/inference-platform/images "
    "2>/dev/null; ip -o link | grep -Eo ' (cni0|flannel[^:@]*)' ; iptables-save | grep -c -E 'KUBE-|FLANNEL|CNI-' "
    "| grep -v '^0$'; pgrep -x kubelet; pgrep -x containerd; pgrep -x flanneld; true"
)


def test_reset_removes_an_agent_and_cluster_joins_it_again(site, echo_pods):
    agent = AGENTS[-1]
    reset = timed(
        "reset.yml --limit agent",
        playbook("reset.yml", *INVENTORY_ARGS, "--limit", agent, extra={**SITE_VARS, "confirm_reset": CLUSTER}),
    )
    assert reset.returncode == 0, reset.log.read_text()[-6000:]
    assert kubectl("get", "node", agent, check=False).returncode != 0, "the node is still in the cluster"
    assert on_host(agent, DEBRIS).stdout.strip() == "", "debris left on " + agent
    assert on_host(AGENTS[0], "systemctl is-active kubelet").stdout.strip() == "active", "the other agent was touched"

    started = time.monotonic()
    # As an operator adds a node back: the cluster stage limited to it (its join token comes from the first server).
    join = timed(
        "cluster.yml --limit agent (rejoin)",
        playbook("cluster.yml", *INVENTORY_ARGS, "--limit", agent, extra=SITE_VARS),
    )
    assert join.returncode == 0, join.log.read_text()[-6000:]
    assert recap(join.stdout)[agent]["failed"] == 0
    node = kubectl_json("get", "node", agent)
    assert next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready") == "True"
    TIMINGS["rejoin until Ready"] = time.monotonic() - started


def test_a_second_run_of_the_cluster_stage_changes_nothing(site):
    """After the rejoin: the cluster stage of site.yml again, changed=0 on every host (the rejoined one too).

    The whole of a second `make lab` (prepare and platform too) is measured by hand (roles/kubeadm/README.md):
    host_prep, preflight and node_identity prove their own idempotence in their Molecule scenarios.
    """
    again = timed(
        "site.yml --tags cluster (second run)",
        playbook("site.yml", *INVENTORY_ARGS, "--tags", "cluster", extra=SITE_VARS),
    )
    assert again.returncode == 0, again.log.read_text()[-6000:]
    changed = {host: counters["changed"] for host, counters in recap(again.stdout).items()}
    assert set(changed) >= set(NODES) and set(changed.values()) == {0}, changed
