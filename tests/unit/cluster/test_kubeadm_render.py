"""kubeadm configuration rendered by the role's own tasks and templates for a fixture inventory.

The join files are rendered with stand-in secrets (a fixed token, hash and key), never real ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from test_k3s_render import ROOT, render


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return render("kubeadm.yml", tmp_path_factory.mktemp("kubeadm"))


def docs(path: Path) -> dict:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}


def test_init_config_has_the_three_v1beta4_documents(out):
    init = docs(out / "cp-1/etc/kubernetes/kubeadm-config.yaml")
    assert set(init) == {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"}
    assert (
        init["InitConfiguration"]["apiVersion"]
        == init["ClusterConfiguration"]["apiVersion"]
        == "kubeadm.k8s.io/v1beta4"
    )
    assert init["KubeletConfiguration"] == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
    }


def test_cluster_configuration_follows_the_inventory(out):
    cluster = docs(out / "cp-1/etc/kubernetes/kubeadm-config.yaml")["ClusterConfiguration"]
    assert cluster["kubernetesVersion"] == "v1.35.4"
    assert cluster["clusterName"] == "render-kubeadm"
    assert cluster["controlPlaneEndpoint"] == "api.kubeadm.example:6443"
    assert cluster["networking"] == {"podSubnet": "10.62.0.0/16", "serviceSubnet": "10.63.0.0/16"}
    assert cluster["apiServer"]["certSANs"] == ["api.kubeadm.example", "10.0.0.11", "10.0.0.12", "10.0.0.13"]


def test_first_server_registers_on_its_private_address_with_the_control_plane_taint(out):
    init = docs(out / "cp-1/etc/kubernetes/kubeadm-config.yaml")["InitConfiguration"]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.11", "bindPort": 6443}
    registration = init["nodeRegistration"]
    assert registration["name"] == "cp-1"
    assert registration["criSocket"] == "unix:///run/containerd/containerd.sock"
    assert registration["kubeletExtraArgs"] == [{"name": "node-ip", "value": "10.0.0.11"}]
    assert registration["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]


def test_init_config_holds_no_secret(out):
    lines = (out / "cp-1/etc/kubernetes/kubeadm-config.yaml").read_text().splitlines()
    content = "\n".join(line for line in lines if not line.startswith("#"))
    assert not re.search(r"token|certificateKey", content, re.IGNORECASE)


@pytest.mark.parametrize("host", ["cp-2", "cp-3"])
def test_control_plane_join_uploads_certificates_and_advertises_its_address(out, host):
    join = docs(out / host / "kubeadm-join.yaml")["JoinConfiguration"]
    assert join["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "api.kubeadm.example:6443"
    assert join["discovery"]["bootstrapToken"]["caCertHashes"] == ["sha256:" + "0" * 64]
    assert join["controlPlane"]["certificateKey"] == "1" * 64
    assert (
        join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == {"cp-2": "10.0.0.12", "cp-3": "10.0.0.13"}[host]
    )


def test_gpu_worker_joins_labelled_and_tainted_without_control_plane_section(out):
    join = docs(out / "gpu-1/kubeadm-join.yaml")["JoinConfiguration"]
    assert "controlPlane" not in join
    registration = join["nodeRegistration"]
    assert registration["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "10.0.1.31"},
        {"name": "node-labels", "value": "inference.platform/gpu-class=l40s,nvidia.com/gpu.present=true"},
    ]
    assert registration["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]


def test_only_the_first_server_gets_an_init_config(out):
    assert not (out / "cp-2/etc/kubernetes/kubeadm-config.yaml").exists()
    assert not (out / "cp-1/kubeadm-join.yaml").exists()


def test_calico_pool_rewrite_fills_the_upstream_comment_block():
    """The regex the role applies to calico.yaml, run on the commented block as upstream ships it."""
    role_vars = yaml.safe_load((ROOT / "roles/kubeadm/vars/main.yml").read_text())
    pattern = role_vars["__kubeadm_calico_pool_pattern"]
    replacement = (
        role_vars["__kubeadm_calico_pool_env"]
        .replace("{{ pod_cidr }}", "10.62.0.0/16")
        .replace("{{ private_network_cidr }}", "10.0.0.0/16")
    )
    upstream = (
        "            # no effect. This should fall within `--cluster-cidr`.\n"
        "            # - name: CALICO_IPV4POOL_CIDR\n"
        '            #   value: "192.168.0.0/16"\n'
        "            # Disable file logging so `kubectl logs` works.\n"
    )
    rewritten = re.sub(pattern, replacement.replace("\\n", "\n"), upstream)
    assert '            - name: CALICO_IPV4POOL_CIDR\n              value: "10.62.0.0/16"\n' in rewritten
    assert '            - name: IP_AUTODETECTION_METHOD\n              value: "cidr=10.0.0.0/16"\n' in rewritten
    assert "192.168.0.0/16" not in rewritten


# --- kubeadm_install_source: local, flannel, cgroup v1 allowed (tests/fixtures/cluster/render/kubeadm-local.yml) ---


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return render("kubeadm-local.yml", tmp_path_factory.mktemp("kubeadm-local"))


def test_packages_source_keeps_kubeadms_default_images_and_kubelet_defaults(out):
    init = docs(out / "cp-1/etc/kubernetes/kubeadm-config.yaml")
    assert not {"imageRepository", "etcd", "dns"} & set(init["ClusterConfiguration"])
    assert "failCgroupV1" not in init["KubeletConfiguration"]
    assert "KubeProxyConfiguration" not in init


def test_local_source_names_the_images_of_the_node_artifacts(local):
    cluster = docs(local / "lcp-1/etc/kubernetes/kubeadm-config.yaml")["ClusterConfiguration"]
    assert cluster["imageRepository"] == "localhost/kubeadm"
    assert cluster["etcd"] == {"local": {"imageTag": "3.6.5-0"}}
    assert cluster["dns"] == {"imageTag": "v1.14.7"}


def test_extra_image_archives_go_to_every_node_beside_the_clusters_own(local):
    """kubeadm_local_extra_images_dir's archives (stand-in manifests in render.yml): every node, an extra- prefix."""
    server = json.loads((local / "lcp-1/node-archives.json").read_text())
    worker = json.loads((local / "lw-1/node-archives.json").read_text())
    extra = {
        "src": "/srv/platform-images/images/llama-server.tar",
        "dest": "/var/lib/inference-platform/images/extra-llama-server.tar",
        "sha256": "c" * 64,
        "ref": "localhost/inference-platform/llama-server:b11312",
    }
    assert extra in server and extra in worker
    assert [a["ref"] for a in server] == [
        "localhost/kubeadm/kube-apiserver:v1.35.4",
        "localhost/kubeadm/pause:3.10.1",
        extra["ref"],
    ]
    assert [a["ref"] for a in worker] == ["localhost/kubeadm/pause:3.10.1", extra["ref"]]
    assert server[0]["src"].endswith("/build/artifacts/kubeadm/v1.35.4/images/kube-apiserver.tar")


def test_cgroup_v1_opt_in_sets_fail_cgroup_v1_false(local):
    kubelet = docs(local / "lcp-1/etc/kubernetes/kubeadm-config.yaml")["KubeletConfiguration"]
    assert kubelet["failCgroupV1"] is False
    assert kubelet["cgroupDriver"] == "systemd"


def test_kube_proxy_is_told_to_leave_the_kernel_wide_conntrack_limit(local):
    proxy = docs(local / "lcp-1/etc/kubernetes/kubeadm-config.yaml")["KubeProxyConfiguration"]
    assert proxy["apiVersion"] == "kubeproxy.config.k8s.io/v1alpha1"
    assert proxy["conntrack"] == {"maxPerCore": 0}


def test_containerd_runs_the_local_pause_image_with_config_version_3(local):
    dropin = (local / "lcp-1/containerd-dropin.toml").read_text()
    assert "version = 3" in dropin
    assert 'sandbox = "localhost/kubeadm/pause:3.10.1"' in dropin
    assert "SystemdCgroup = true" in dropin


def test_flannel_manifest_uses_the_local_image_and_the_pod_network(local):
    objects = list(yaml.safe_load_all((local / "lcp-1/kube-flannel.yaml").read_text()))
    kinds = [o["kind"] for o in objects]
    assert kinds == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"]
    config = objects[4]["data"]
    assert yaml.safe_load(config["net-conf.json"]) == {
        "Network": "10.72.0.0/16",
        "EnableNFTables": False,
        "Backend": {"Type": "vxlan"},
    }
    chain = yaml.safe_load(config["cni-conf.json"])
    assert [p["type"] for p in chain["plugins"]] == ["flannel", "portmap"]
    pod = objects[5]["spec"]["template"]["spec"]
    images = {c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images == {"localhost/kubeadm/flannel:v0.28.10"}
    assert "--iface=$(NODE_IP)" in pod["containers"][0]["args"]


def test_flannel_manifest_validates_against_the_kubernetes_schemas(local):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for obj in yaml.safe_load_all((local / "lcp-1/kube-flannel.yaml").read_text()):
        kubernetes_validate.validate(obj, "1.35.0", strict=True)
