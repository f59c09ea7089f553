"""roles/lab_standins/library/lab_gpu_node_standin.py: what the GPU node stand-in patches on a Node, and only that."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[3] / "roles" / "lab_standins" / "library" / "lab_gpu_node_standin.py"
_spec = importlib.util.spec_from_file_location("lab_gpu_node_standin", MODULE)
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)

GPU = "nvidia.com/gpu"
LABELS = {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1"}
TAINT = {"key": GPU, "value": "present", "effect": "NoSchedule"}


def node(capacity=None, allocatable=None, labels=None, taints=None):
    return {
        "metadata": {"name": "gpu-1", "labels": {"kubernetes.io/hostname": "gpu-1", **(labels or {})}},
        "spec": {"taints": taints} if taints is not None else {},
        "status": {
            "capacity": {"cpu": "2", **(capacity or {})},
            "allocatable": {"cpu": "2", **(allocatable or {})},
        },
    }


def test_a_bare_node_gets_the_resource_in_capacity_and_allocatable_through_the_status_subresource():
    todo = standin.plan(node(), GPU, 1, LABELS, [TAINT])
    assert todo["status"] == [
        {"op": "add", "path": "/status/capacity/nvidia.com~1gpu", "value": "1"},
        {"op": "add", "path": "/status/allocatable/nvidia.com~1gpu", "value": "1"},
    ]
    assert todo["labels"] == LABELS
    assert todo["taints"] == [TAINT]
    assert len(todo["changes"]) == 5


def test_a_node_that_has_everything_needs_nothing():
    done = node({GPU: "1"}, {GPU: "1"}, LABELS, [{**TAINT, "timeAdded": None}])
    assert standin.plan(done, GPU, 1, LABELS, [TAINT]) == {
        "labels": None,
        "taints": None,
        "status": None,
        "changes": [],
    }


def test_a_cleared_allocatable_alone_is_put_back():
    todo = standin.plan(node({GPU: "1"}, {GPU: "0"}, LABELS, [TAINT]), GPU, 1, LABELS, [TAINT])
    assert todo["status"] == [{"op": "add", "path": "/status/allocatable/nvidia.com~1gpu", "value": "1"}]
    assert todo["changes"] == ["status.allocatable[nvidia.com/gpu] = 1 (was 0)"]


def test_only_differing_labels_are_patched_and_other_labels_are_left_alone():
    todo = standin.plan(
        node({GPU: "2"}, {GPU: "2"}, {"nvidia.com/gpu.present": "true"}, [TAINT]), GPU, 2, LABELS, [TAINT]
    )
    assert todo["labels"] == {"nvidia.com/gpu.count": "1"}
    assert todo["status"] is None


@pytest.mark.parametrize(
    ("have", "want"),
    [
        # another taint stays; ours is added
        (
            [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}],
            [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}, TAINT],
        ),
        # same key and effect, other value: replaced, not duplicated
        ([{"key": GPU, "value": "old", "effect": "NoSchedule"}], [TAINT]),
        # same key, other effect: a different taint, kept
        ([{"key": GPU, "effect": "NoExecute"}], [{"key": GPU, "effect": "NoExecute"}, TAINT]),
    ],
)
def test_taints_are_merged_by_key_and_effect(have, want):
    assert standin.plan(node(taints=have), GPU, 1, {}, [TAINT])["taints"] == want


def test_a_taint_without_value_matches_one_without_value():
    bare = {"key": GPU, "effect": "NoSchedule"}
    assert standin.plan(node({GPU: "1"}, {GPU: "1"}, taints=[bare]), GPU, 1, {}, [bare])["taints"] is None


def test_a_node_without_status_maps_gets_them_created_first():
    todo = standin.plan({"metadata": {}, "spec": {}, "status": {}}, GPU, 1, {}, [])
    assert [op["path"] for op in todo["status"]] == [
        "/status/allocatable",
        "/status/capacity",
        "/status/capacity/nvidia.com~1gpu",
        "/status/allocatable/nvidia.com~1gpu",
    ]
