"""The platform contract's filters (plugins/filter/platform.py) and the apply action's helpers
(plugins/plugin_utils/_k8s_apply.py) that need no cluster; tests/cluster_api runs the action against a real one."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter.platform import (
    FilterModule,
    handed_over_kubeconfig,
    image_reference,
    platform_build,
    platform_charts,
    platform_component,
    platform_enabled,
    platform_namespace_list,
    platform_objects,
    platform_problems,
    platform_releases,
    playbook_argument_spec,
)
from ansible_collections.inference.platform.plugins.plugin_utils import _k8s_apply

ROOT = Path(__file__).resolve().parents[3]
SHARED = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())
REGISTRY = SHARED["platform_components"]
NAMESPACES = SHARED["platform_namespaces"]
# The registry as Ansible sees it: the one templated release name rendered.
RELEASE = SHARED["platform_monitoring_release"]
RENDERED = yaml.safe_load(json.dumps(REGISTRY).replace("{{ platform_monitoring_release }}", RELEASE))
ROLES = {path.name for path in (ROOT / "roles").iterdir() if path.is_dir()}


def test_the_projects_registry_and_names_have_no_problem():
    assert platform_problems(REGISTRY, NAMESPACES, SHARED["platform_ports"], roles=ROLES) == []


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {
        "platform_component", "platform_problems", "platform_objects", "platform_charts", "platform_build",
        "platform_releases", "platform_namespace_list", "handed_over_kubeconfig", "playbook_argument_spec",
        "image_reference", "platform_enabled",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r[0].update(namespace="nowhere"), "namespace 'nowhere' is not a key of platform_namespaces"),
        (lambda r: r[0]["prune_kinds"].append({"api_version": "v1", "kind": "Namespace"}),
         "prune_kinds lists Namespace"),
        (lambda r: r.append(copy.deepcopy(r[0])), "platform_components lists monitoring more than once"),
        (lambda r: r[0].update(wait_seconds=0), "wait_seconds is 0; write a number of seconds > 0"),
        (lambda r: r[0].pop("serving"), "missing ['serving']"),
        (lambda r: r[1].update(upgrade_order=r[0]["upgrade_order"]), "upgrade_order must be distinct integers"),
        (lambda r: r[0]["charts"][0].pop("version"), "must have exactly release, chart, repo, version"),
        (lambda r: r[0].update(name="nosuchrole"), "there is no role nosuchrole"),
    ],
)
def test_a_broken_registry_is_named(change, expected):
    registry = copy.deepcopy(REGISTRY)
    change(registry)
    assert any(expected in problem for problem in platform_problems(registry, NAMESPACES, {"model": 8000}, ROLES))


def test_bad_shared_names_and_delivery_settings():
    problems = platform_problems(REGISTRY, {**NAMESPACES, "models": "Bad_NS"}, {"model": 99999}, ROLES,
                                 delivery="gitops", render_dir="", cluster_name="Prod")
    text = " ".join(problems)
    for expected in ("platform_delivery is 'gitops'", "cluster_name 'Prod' is not a DNS-1123 label",
                     "platform_namespaces.models is 'Bad_NS'", "platform_ports.model is 99999"):
        assert expected in text
    assert platform_problems(REGISTRY, NAMESPACES, {}, delivery="render", render_dir="") == [
        "platform_delivery is render but platform_render_dir is empty; write the directory the manifests go to in the "
        "inventory's group_vars/all."
    ]


def test_components_asked_for_and_the_kubeconfig_are_checked_for_a_delivery(tmp_path):
    kubeconfig = tmp_path / "prod.yaml"
    problems = platform_problems(REGISTRY, NAMESPACES, {}, delivery="apply", asked=["vllm", "kueue"],
                                 kubeconfig=str(kubeconfig))
    assert len(problems) == 2
    assert problems[0].startswith(f"Apply mode acts on the cluster the cluster stage built, through {kubeconfig} ")
    assert problems[1].startswith("kueue is not a platform component (platform_components in "
                                  "group_vars/all/platform.yml lists: monitoring, ")
    kubeconfig.write_text("{}")
    good = platform_problems(REGISTRY, NAMESPACES, {}, delivery="apply", asked=["vllm"], kubeconfig=str(kubeconfig))
    assert good == []
    unset = platform_problems(REGISTRY, NAMESPACES, {}, delivery="apply", kubeconfig="")
    assert unset == [unset[0]] and "but cluster_kubeconfig is not set" in unset[0]
    rendering = platform_problems(REGISTRY, NAMESPACES, {}, delivery="render", render_dir="r", kubeconfig="/nowhere")
    assert rendering == [], "rendering needs no cluster"


def test_an_unknown_component_lists_the_known_ones():
    with pytest.raises(AnsibleFilterError, match=r"'kueue' is not a platform component .*lists: monitoring, "):
        platform_component(REGISTRY, "kueue")


def test_objects_get_the_platforms_labels_and_keep_their_own():
    obj = {"kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}
    (labelled,) = platform_objects([obj], {"app.kubernetes.io/part-of": "inference-platform"}, "demo")
    assert labelled["metadata"]["labels"] == {"x": "1", "app.kubernetes.io/part-of": "inference-platform",
                                              "inference.platform/component": "demo"}
    assert obj["metadata"]["labels"] == {"x": "1"}, "the role's own object is not changed"
    assert labelled["data"] is obj["data"], "shallow: only metadata is copied"


def test_chart_values_must_match_the_registry():
    charts = [{"release": "keda", "chart": "keda", "repo": "r", "version": "1.0.0"}]
    assert platform_charts(charts, {"keda": {"a": 1}}, "keda", "keda") == [
        {"release": "keda", "chart": "keda", "repo": "r", "version": "1.0.0", "namespace": "keda", "values": {"a": 1}}
    ]
    with pytest.raises(AnsibleFilterError, match="values for \\['other'\\]"):
        platform_charts(charts, {"other": {}}, "keda", "keda")


def test_build_follows_the_registry_order_whatever_the_order_asked():
    names = ["litellm", "monitoring"]
    built = platform_build(names, RENDERED, NAMESPACES, {}, [[], []], [{}, {RELEASE: {}}], [[], []])
    assert [component["name"] for component in built] == ["monitoring", "litellm"]
    assert built[0]["namespace"] == NAMESPACES["monitoring"] and built[0]["charts"][0]["values"] == {}


def test_releases_and_namespaces_for_removal_and_serving():
    releases = platform_releases(RENDERED, NAMESPACES, reverse=True)
    assert releases[-1]["name"] == RELEASE, "monitoring is installed first, so removed last"
    assert releases[-1]["namespace"] == NAMESPACES["monitoring"]
    assert platform_namespace_list(REGISTRY, NAMESPACES, serving=True) == [NAMESPACES["models"], NAMESPACES["gateway"]]
    assert platform_namespace_list(REGISTRY, NAMESPACES, reverse=True)[0] == NAMESPACES["gateway"]


def test_a_components_extra_namespace_is_the_platforms():
    """The node exporter's namespace is the monitoring entry's extra namespace (the monitoring role creates it):
    verify waits for its pods and node_reset deletes it; upgrade's serving namespaces leave it out; a skipped
    monitoring takes it along."""
    node = NAMESPACES["node_monitoring"]
    forward = platform_namespace_list(REGISTRY, NAMESPACES)
    assert forward.count(node) == 1 and forward.index(node) == forward.index(NAMESPACES["monitoring"]) + 1
    assert platform_namespace_list(REGISTRY, NAMESPACES, reverse=True)[-1] == node
    assert node not in platform_namespace_list(REGISTRY, NAMESPACES, serving=True)
    assert node in platform_namespace_list(REGISTRY, NAMESPACES, serving=False)
    assert node not in platform_namespace_list(platform_enabled(REGISTRY, {"monitoring": "no image"}), NAMESPACES)
    broken = copy.deepcopy(RENDERED)
    broken[0]["extra_namespaces"] = ["nowhere"]
    assert any("extra_namespaces is ['nowhere']" in p for p in platform_problems(broken, NAMESPACES,
                                                                                   SHARED["platform_ports"]))


def test_the_handed_over_kubeconfig_is_named_after_the_cluster():
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0E="}
    source = {"clusters": [{"name": "default", "cluster": cluster}],
              "users": [{"name": "default", "user": {"token": "t"}}]}
    handed = handed_over_kubeconfig(source, "https://10.0.0.1:6443", "prod")
    assert handed["current-context"] == "prod"
    assert handed["contexts"] == [{"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}}]
    assert handed["clusters"][0]["cluster"] == {"server": "https://10.0.0.1:6443", "certificate-authority-data": "Q0E="}
    with pytest.raises(AnsibleFilterError):
        handed_over_kubeconfig({}, "s", "prod")


def test_a_playbook_spec_takes_the_cross_cutting_options_it_names():
    shared = {"options": {"cluster_name": {"type": "str"}, "pod_cidr": {"type": "str"}}}
    spec = {"cross_cutting": ["cluster_name"], "options": {"x": {"type": "int"}}}
    assert playbook_argument_spec(spec, shared) == {"cluster_name": {"type": "str"}, "x": {"type": "int"}}
    with pytest.raises(AnsibleFilterError, match=r"cross_cutting\.yml does not declare"):
        playbook_argument_spec({"cross_cutting": ["nope"]}, shared)
    with pytest.raises(AnsibleFilterError, match="options \\['pod_cidr'\\] are cross-cutting"):
        playbook_argument_spec({"options": {"pod_cidr": {"type": "str"}}}, shared)


# --- the apply action's helpers --------------------------------------------------------------------------


def test_what_the_server_maintains_is_no_change():
    live = {"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "1", "managedFields": [{}],
                                              "uid": "u", "creationTimestamp": "t"}, "data": {"k": "v"}}
    later = {**live, "metadata": {**live["metadata"], "resourceVersion": "2", "managedFields": [{}, {}]}}
    assert _k8s_apply._comparable(live) == _k8s_apply._comparable(later)
    assert _k8s_apply._comparable(live) != _k8s_apply._comparable({**live, "data": {"k": "w"}})


@pytest.mark.parametrize(
    ("obj", "done"),
    [
        ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
          "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}, True),
        # A rolling update's surge replica exists (updated) but is not Ready; the old one is still available.
        ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}}, None),
        # The surge replica is Ready, the old one not stopped yet.
        ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2}}, None),
        # Rolled out (the old replica may still drain: terminating pods are not counted in replicas).
        ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
          "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}, True),
        ({"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 2},
          "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}}, None),
        ({"kind": "Job", "metadata": {}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}, True),
        ({"kind": "Job", "metadata": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}, False),
        ({"kind": "DaemonSet", "metadata": {"generation": 1}, "status": {"observedGeneration": 1,
          "desiredNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2}}, None),
        ({"kind": "ConfigMap", "metadata": {}}, True),
    ],
)
def test_readiness(obj, done):
    assert _k8s_apply._readiness(obj)[0] is done


class _Records:
    """STAND-IN for the API's list of Helm's release Secrets (the format Helm 3 stores)."""

    def __init__(self, releases):
        self.items = []
        for version, release in releases:
            blob = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
            self.items.append({"metadata": {"labels": {"version": str(version)}},
                               "data": {"release": base64.b64encode(blob.encode()).decode()}})

    def get(self, **_):
        return type("Listed", (), {"to_dict": lambda _self: {"items": self.items}})()


def test_the_installed_release_is_read_in_helms_records():
    records = _Records([
        (1, {"chart": {"metadata": {"name": "keda", "version": "2.20.1"}}, "info": {"status": "superseded"},
             "config": {"a": 1}}),
        (2, {"chart": {"metadata": {"name": "keda", "version": "2.20.2"}}, "info": {"status": "deployed"},
             "config": {"a": 2}}),
    ])
    cluster = type("C", (), {"resource": lambda _self, *_: records})()
    helm = _k8s_apply.Helm("helm", "kubeconfig", None, "", cluster)
    assert helm.state({"namespace": "keda", "release": "keda"}) == ("keda-2.20.2", "deployed", {"a": 2})
    empty = type("C", (), {"resource": lambda _self, *_: _Records([])})()
    assert _k8s_apply.Helm("helm", "k", None, "", empty).state({"namespace": "n", "release": "r"}) == (None,) * 3


class _Recorder(_k8s_apply.Cluster):
    """A Cluster without an API server: apply records the order objects arrive in (the threads' starts)."""

    def __init__(self, refuse=()):  # pylint: disable=super-init-not-called
        self._resources, self.seen, self.refuse = {}, [], refuse

    def resource(self, api_version, kind):
        return kind

    def apply(self, obj, field_manager, check_mode):
        self.seen.append(obj["kind"])
        if obj["metadata"]["name"] in self.refuse:
            raise _k8s_apply.ApplyError(f"refused {obj['metadata']['name']}")
        return obj["kind"] == "Service", None


def _obj(kind, name):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}


def test_apply_many_applies_in_waves_and_reports_in_the_order_given():
    objects = [_obj("Job", "j"), _obj("Service", "s"), _obj("Namespace", "n"), _obj("Deployment", "d"),
               _obj("CustomResourceDefinition", "c")]
    cluster = _Recorder()
    results = cluster.apply_many(objects, "fm", False)
    assert [(obj["metadata"]["name"], changed) for obj, changed, _diff in results] == [
        ("j", False), ("s", True), ("n", False), ("d", False), ("c", False)]
    assert set(cluster.seen[:2]) == {"Namespace", "CustomResourceDefinition"}
    assert set(cluster.seen[2:4]) == {"Service", "Deployment"}
    assert cluster.seen[4] == "Job"


def test_apply_many_stops_after_the_wave_with_a_refusal():
    cluster = _Recorder(refuse=("s",))
    with pytest.raises(_k8s_apply.ApplyError, match="refused s"):
        cluster.apply_many([_obj("Namespace", "n"), _obj("Service", "s"), _obj("Job", "j")], "fm", False)
    assert "Job" not in cluster.seen, "the wave after a refusal is not applied"


def test_the_image_reference_carries_the_digest_beside_the_tag():
    digest = "sha256:" + "0f" * 32
    assert image_reference("docker.io/vllm/vllm-openai:v0.33.0", "") == "docker.io/vllm/vllm-openai:v0.33.0"
    image = "docker.io/vllm/vllm-openai:v0.33.0"
    assert image_reference(image, digest) == image + "@" + digest
    assert image_reference("img:1.0@" + digest, digest) == "img:1.0@" + digest
    with pytest.raises(AnsibleFilterError, match="not sha256:<64 hexadecimal characters>"):
        image_reference("img:1.0", "sha256:short")
    with pytest.raises(AnsibleFilterError, match="keep one of them"):
        image_reference("img:1.0@sha256:" + "1" * 64, digest)


def test_skipped_components_leave_the_registry_in_order():
    kept = platform_enabled(RENDERED, {"gpu_operator": "no GPU here", "monitoring": "no image"})
    assert [entry["name"] for entry in kept] == ["vllm", "keda", "litellm"]
    assert platform_enabled(RENDERED, {}) == RENDERED
    assert platform_enabled(RENDERED, None) == RENDERED


FIXED = {"name": "m", "replicas": {"min": 1, "max": 1}, "autoscale": {"scale_to_zero": False}}
SCALED = {"name": "s", "replicas": {"min": 1, "max": 2}, "autoscale": {"scale_to_zero": False}}
WHERE = "platform_skip_components (the inventory's group_vars/all)"


@pytest.mark.parametrize(
    ("skip", "models", "expected"),
    [
        ({"gpu_operator": "no GPU here", "monitoring": "no image"}, [FIXED], []),
        ({"keda": "no image"}, [FIXED], []),
        ({"keda": "no image"}, [FIXED, SCALED],
         [f"{WHERE} skips keda, but s scale between replicas.min and replicas.max (or to zero), which only KEDA does: "
          "without it they would run one replica. Write replicas: {min: N, max: N} and scale_to_zero: false for them, "
          "or deliver keda."]),
        ({"gpu_operater": "typo"}, [],
         [f"{WHERE} names 'gpu_operater', which is not a platform component (platform_components lists: monitoring, "
          "gpu_operator, vllm, keda, litellm); write one of those."]),
        ({"monitoring": ""}, [], [f"{WHERE}: 'monitoring' has no reason; write why it does not run on this cluster "
                                  "(the site report prints it)."]),
        ({"litellm": "x"}, [], [f"{WHERE} skips litellm, which serves the models (the platform exists for it); "
                                "deliver it, or skip the platform stage (site_skip_stages) instead."]),
        (["monitoring"], [], [f"{WHERE} is ['monitoring']; write a mapping of component name to the reason it does "
                              "not run on this cluster, or {}."]),
    ],
    ids=["fine", "keda with fixed replicas", "keda with a scaling model", "unknown", "no reason", "litellm", "list"],
)
def test_skipped_components_are_checked(skip, models, expected):
    assert platform_problems(RENDERED, NAMESPACES, SHARED["platform_ports"], skip=skip, models=models) == expected
