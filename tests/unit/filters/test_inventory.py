"""inference.platform.inventory_problems / admin_cidrs_problems: the validate stage's checks of groups, hosts,
cluster-wide settings, pinned versions and renamed variables, called directly (tests/unit/roles runs them through
validate.yml against fixture inventories)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.inference.platform.plugins.filter.inventory import (
    FilterModule,
    admin_cidrs_problems,
    image_digest_problems,
    inventory_problems,
    resolved_pins,
    version_kind,
)

SOURCES = ["inv"]
WHERE = "in the inventory's group_vars/all (inv)"
SETTINGS = {
    "cluster_name": "prod",
    "cluster_distribution": "k3s",
    "nvidia_driver_strategy": "operator",
    "platform_delivery": "apply",
    "platform_render_dir": "/srv/render",
    "admin_cidrs": ["198.51.100.0/24"],
    "admin_cidrs_allow_world": False,
    "private_network_cidr": "10.20.0.0/24",
    "pod_cidr": "10.42.0.0/16",
    "service_cidr": "10.43.0.0/16",
    "gpu_required": True,
    "cluster_allow_cgroup_v1": False,
    "cluster_ports": {"k3s": [], "kubeadm": []},
}
GROUPS = {
    "all": ["cp-1", "gpu-1"],
    "k8s_servers": ["cp-1"],
    "k8s_agents": ["gpu-1"],
    "k8s_cluster": ["cp-1", "gpu-1"],
    "gpu_nodes": ["gpu-1"],
}
HOSTVARS = {
    "cp-1": {"node_ip": "10.20.0.10", "ansible_host": "192.0.2.10"},
    "gpu-1": {"node_ip": "10.20.0.21", "ansible_host": "192.0.2.21"},
}


def problems(settings=None, groups=None, hostvars=None, **options):
    return inventory_problems(
        {**SETTINGS, **(settings or {})},
        groups or GROUPS,
        hostvars or HOSTVARS,
        sources=SOURCES,
        **options,
    )


def test_a_good_inventory_has_no_problem():
    assert problems() == {"errors": [], "warnings": []}


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {"inventory_problems", "admin_cidrs_problems", "gateway_problems"}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"cluster_distribution": "k8s"}, f"cluster_distribution is 'k8s' {WHERE}; write one of: k3s, kubeadm."),
        ({"cluster_name": "Prod_1"}, f"cluster_name 'Prod_1' {WHERE} is not a DNS-1123 label; write lowercase a-z, "
                                     "0-9 and '-' (e.g. inference)."),
        ({"gpu_required": "maybe"}, f"gpu_required is 'maybe' {WHERE}; write true or false."),
        ({"cluster_allow_cgroup_v1": "sometimes"}, f"cluster_allow_cgroup_v1 is 'sometimes' {WHERE}; write true or "
                                                   "false."),
        ({"pod_cidr": "10.42.0.1/16"}, f"pod_cidr '10.42.0.1/16' {WHERE} is not a network in CIDR notation with its "
                                       "host bits zero; write e.g. 10.42.0.0/16."),
        ({"admin_cidrs": None}, f"admin_cidrs is empty (null) {WHERE}; write a list of networks (e.g. "
                                "[198.51.100.0/24]) or []."),
        ({"admin_cidrs": ["198.51.100.7/24"]}, f"admin_cidrs entry '198.51.100.7/24' {WHERE} is not a network in "
                                               "CIDR notation with its host bits zero; write e.g. 198.51.100.0/24 or "
                                               "203.0.113.7/32."),
    ],
)
def test_a_bad_setting_is_one_sentence(settings, expected):
    assert problems(settings)["errors"] == [expected]


def test_the_string_false_is_a_boolean():
    assert problems({"gpu_required": "false", "cluster_allow_cgroup_v1": "true"})["errors"] == []


def test_gpu_required_false_as_a_string_allows_a_cluster_without_gpus():
    groups = {**GROUPS, "gpu_nodes": []}
    assert problems({"gpu_required": "false"}, groups=groups)["errors"] == []
    assert problems(groups=groups)["errors"][0].startswith("Group gpu_nodes is empty in the inventory (inv)")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "0.0.0.0/5", "2000::/12"])
def test_a_world_open_admin_network_is_refused_unless_allowed_then_warned(cidr):
    refused = admin_cidrs_problems([cidr], False, "here")
    assert refused["warnings"] == [] and len(refused["errors"]) == 1
    assert refused["errors"][0].startswith(f"admin_cidrs entry {cidr} here opens SSH and the Kubernetes API (6443)")
    assert refused["errors"][0].endswith("also set admin_cidrs_allow_world: true (it is warned about on every run).")
    allowed = admin_cidrs_problems([cidr], "true", "here")
    assert allowed["errors"] == [] and len(allowed["warnings"]) == 1


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "2001::/16", "203.0.113.7/32"])
def test_narrower_admin_networks_pass(cidr):
    assert admin_cidrs_problems([cidr]) == {"errors": [], "warnings": []}


def test_a_string_instead_of_a_list_is_one_error():
    result = admin_cidrs_problems("10.0.0.0/8", False, "here")
    assert result["errors"] == ["admin_cidrs is the string '10.0.0.0/8' here, not a list; write a list: "
                                "admin_cidrs: ['10.0.0.0/8']."]


def test_overlapping_networks_are_named():
    [error] = problems({"pod_cidr": "10.20.0.128/25"})["errors"]
    assert error.startswith("private_network_cidr 10.20.0.0/24 and pod_cidr 10.20.0.128/25 overlap")


def test_hosts_names_addresses_and_duplicates():
    hostvars = copy.deepcopy(HOSTVARS)
    hostvars["gpu-1"]["node_ip"] = "10.20.0.10"
    hostvars["gpu-1"]["ansible_host"] = "192.0.2.10"
    errors = problems(hostvars=hostvars)["errors"]
    assert errors == [
        "node_ip 10.20.0.10 is used by cp-1, gpu-1: every node needs its own address on the private network; correct "
        "node_ip of all but one.",
        "ansible_host:port 192.0.2.10:22 is used by cp-1, gpu-1: two inventory names would configure the same "
        "machine; give each host its own ansible_host (or ansible_port), or remove the duplicate.",
    ]


def test_a_cluster_wide_setting_set_per_host_is_named():
    hostvars = copy.deepcopy(HOSTVARS)
    for host in hostvars:
        hostvars[host]["pod_cidr"] = SETTINGS["pod_cidr"]
    hostvars["gpu-1"]["pod_cidr"] = "10.99.0.0/16"
    errors = problems(hostvars=hostvars, cluster_wide_variables=["pod_cidr"])["errors"]
    assert errors == [
        "pod_cidr differs on gpu-1 from group_vars/all: it is a cluster-wide setting; set it once in the inventory's "
        "group_vars/all and remove it from host_vars and other groups."
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("vllm_image", "image"), ("keda_chart_version", "version"), ("k3s_sha256", "sha256"),
     ("lab_debian_release", "name"), ("hetzner_cloud_image", "name")],
)
def test_the_kind_of_a_pin_comes_from_its_name_or_the_kinds(name, kind):
    assert version_kind(name, {"hetzner_cloud_image": "name"}) == kind


def test_the_versions_file_names_every_pin_so_the_check_knows_its_kind():
    """Every pin of group_vars/all/versions.yml is classified (the defaults' kinds cover the rest)."""
    root = Path(__file__).resolve().parents[3]
    pins = yaml.safe_load((root / "group_vars/all/versions.yml").read_text())
    kinds = yaml.safe_load((root / "roles/validate_inventory/defaults/main.yml").read_text())[
        "validate_inventory_version_kinds"]
    # pins as the playbook passes them (rendered), the file as it is on disk
    found = problems(pins=resolved_pins(pins), version_kinds=kinds, versions_file="versions.yml", project_pins=pins)
    assert found["errors"] == []
    assert {version_kind(name, kinds) for name in pins} <= {"image", "digest", "version", "sha256", "name"}
    images = [name for name in pins if version_kind(name, kinds) == "image"]
    assert images and all(name + "_digest" in pins for name in images), "every image pin has its digest beside it"


def test_a_pin_that_names_another_is_written_out_like_ansible_renders_it():
    pins = {"litellm_version": "1.106.12", "litellm_image": "ghcr.io/x/litellm:v{{ litellm_version }}",
            "loop_a": "{{ loop_b }}", "loop_b": "{{ loop_a }}", "other": "{{ lookup('env', 'X') }}"}
    resolved = resolved_pins(pins)
    assert resolved["litellm_image"] == "ghcr.io/x/litellm:v1.106.12"
    assert resolved["other"] == pins["other"], "only a plain reference to another pin is written out"
    assert "{{" in resolved["loop_a"], "a loop stays unresolved instead of recursing forever"
    found = problems(pins={"litellm_version": "1.106.12", "litellm_image": "ghcr.io/x/litellm:latest"},
                     versions_file="versions.yml", project_pins=pins)
    assert "such as ghcr.io/x/litellm:v1.106.12 (the project's pin)" in " ".join(found["errors"])


def test_pins_that_float_or_are_ranges_are_refused_with_the_projects_pin_as_example():
    pins = {"keda_chart_version": ">=2.0", "vllm_image": "img", "k3s_sha256": {"k3s": "nothex"},
            "helm_version": "__undefined__", "kubeadm_calico_manifest_sha256": ""}
    found = problems(pins=pins, versions_file="versions.yml", project_pins={"keda_chart_version": "2.20.2"})
    assert found["errors"] == [
        "keda_chart_version is '>=2.0', which is a version range, not one release; pin it in versions.yml (or the "
        "inventory's group_vars/all) to an exact release such as 2.20.2 (the project's pin).",
        "vllm_image is 'img', which has no tag, so it floats to whatever the registry calls latest; pin it in "
        "versions.yml (or the inventory's group_vars/all) to a fixed tag, or a digest (name@sha256:<digest>).",
        "k3s_sha256 is 'nothex', which is not a sha256 checksum (64 hexadecimal characters); pin it in versions.yml "
        "(or the inventory's group_vars/all) to the checksum the release publishes.",
        "helm_version (pinned in versions.yml) is not defined; the versions file is not loaded: keep the inventory's "
        "group_vars/all/00_project link to group_vars/all.",
    ]


def test_a_renamed_variable_is_named_with_its_replacement():
    renamed = [{"old": "models", "new": "inference_models", "hint": "move the list"}]
    hostvars = copy.deepcopy(HOSTVARS)
    hostvars["gpu-1"]["models"] = []
    found = problems(hostvars=hostvars, renamed=renamed, renamed_values={"models": "__undefined__"})
    assert found["errors"] == [
        "models (set for gpu-1) was renamed to inference_models: move the list. Rename it in the inventory; the old "
        "name is ignored by every role."
    ]


DIGEST = "sha256:" + "ab" * 32
IMAGES = {"litellm_image": "ghcr.io/berriai/litellm-non_root:v1.106.12", "litellm_image_digest": "",
          "vllm_image": "docker.io/vllm/vllm-openai:v0.33.0", "vllm_image_digest": "",
          "hetzner_cloud_image": "ubuntu-24.04"}
KINDS = {"hetzner_cloud_image": "name"}


def test_images_pinned_by_tag_only_are_warned_and_the_gateway_refused():
    found = image_digest_problems(IMAGES, "versions.yml", ["litellm_image"], [], KINDS)
    assert found["errors"] == [
        "litellm_image is pinned by tag only (ghcr.io/berriai/litellm-non_root:v1.106.12): a tag can be moved to "
        "other content, and this image holds every key of the platform; write litellm_image_digest: sha256:<digest> "
        "in versions.yml (or the inventory's group_vars/all), the digest of ghcr.io/berriai/litellm-non_root:v1.106.12 "
        "as the registry reports it on a machine that reaches it (skopeo inspect --format '{{.Digest}}' "
        "docker://ghcr.io/berriai/litellm-non_root:v1.106.12), or accept the tag explicitly with "
        "validate_inventory_tag_only_accepted: [litellm_image]."
    ]
    assert [w.split(" is pinned")[0] for w in found["warnings"]] == ["vllm_image"]


def test_a_digest_beside_the_tag_or_in_the_reference_satisfies_the_check():
    pins = dict(IMAGES, litellm_image_digest=DIGEST, vllm_image="docker.io/vllm/vllm-openai:v0.33.0@" + DIGEST)
    assert image_digest_problems(pins, "versions.yml", ["litellm_image"], [], KINDS) == {"errors": [], "warnings": []}


def test_an_explicitly_accepted_tag_is_neither_refused_nor_warned():
    found = image_digest_problems(IMAGES, "versions.yml", ["litellm_image"], ["litellm_image", "vllm_image"], KINDS)
    assert found == {"errors": [], "warnings": []}


def test_a_malformed_digest_is_refused_by_the_pin_check():
    found = problems(pins={"vllm_image": IMAGES["vllm_image"], "vllm_image_digest": "sha256:abc"},
                     versions_file="versions.yml")
    assert found["errors"] == [
        "vllm_image_digest is 'sha256:abc', which is not an image digest; pin it in versions.yml (or the inventory's "
        "group_vars/all) to sha256:<64 hexadecimal characters>, as the registry reports it."
    ]
