"""Unit tests of the inference.platform.render_files action plugin (and its documentation stub).

The action runs in-process here: a Task stand-in carries the arguments and check mode, nothing else
of Ansible's machinery is faked. tests/render runs the same plugin through ansible-playbook and the
platform_delivery role on the example inventories.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible.module_utils.testing import patch_module_args
from ansible_collections.inference.platform.plugins.action import render_files as action
from ansible_collections.inference.platform.plugins.modules import render_files as stub

HEADER = "# Rendered by the inference.platform test role"


def doc(name: str, body: str = "kind: ConfigMap\n") -> str:
    return f"{HEADER} (platform_delivery=render) for cluster lab.\n# {name}\n{body}"


def run(root, files, header=HEADER, check=False, **extra):
    task = SimpleNamespace(
        args={"root": str(root), "header": header, "files": files, **extra},
        check_mode=check,
        async_val=0,
        action="inference.platform.render_files",
    )
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    plugin = action.ActionModule(task, connection, None, None, None, None)
    plugin._load_name = "inference.platform.render_files"
    return plugin.run(task_vars={})


def tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path):
    return tmp_path / "render" / "vllm"


FILES = [
    {"path": "manifests/vllm.yaml", "content": doc("vllm")},
    {"path": "manifests/model-a.yaml", "content": doc("model a")},
    {"path": "helm/release.values.yaml", "content": doc("values", "replicas: 1\n")},
]


def test_writes_every_file_with_mode_0644(root):
    result = run(root, FILES)
    assert result["changed"] is True
    assert result["written"] == ["helm/release.values.yaml", "manifests/model-a.yaml", "manifests/vllm.yaml"]
    assert result["removed"] == [] and result["foreign"] == []
    assert result["root"] == str(root)
    assert tree(root) == {item["path"]: item["content"] for item in FILES}
    for item in FILES:
        assert stat.S_IMODE((root / item["path"]).stat().st_mode) == 0o644
    assert not list(root.rglob(".render-*")), "a temporary file was left behind"


def test_second_run_with_the_same_files_changes_nothing(root):
    run(root, FILES)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    result = run(root, FILES)
    assert result["changed"] is False
    assert result["written"] == [] and result["removed"] == []
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()} == before


def test_changed_content_is_rewritten(root):
    run(root, FILES)
    changed = [dict(FILES[0], content=doc("vllm", "kind: Service\n")), *FILES[1:]]
    result = run(root, changed)
    assert result["changed"] is True
    assert result["written"] == ["manifests/vllm.yaml"]
    assert (root / "manifests/vllm.yaml").read_text().endswith("kind: Service\n")


def test_a_file_no_longer_wanted_is_removed_with_its_empty_directory(root):
    run(root, FILES)
    result = run(root, FILES[:1])
    assert result["changed"] is True
    assert result["removed"] == ["helm/release.values.yaml", "manifests/model-a.yaml"]
    assert tree(root) == {"manifests/vllm.yaml": FILES[0]["content"]}
    assert not (root / "helm").exists(), "an empty directory stayed"


def test_only_files_starting_with_the_header_are_removed(root):
    run(root, FILES)
    (root / "manifests/notes.md").write_text("# Hand-written notes\n")
    (root / "helm/local.yaml").write_text("replicas: 2\n" + HEADER + "\n")  # the header, but not first
    (root / "manifests/empty.yaml").write_text("")
    (root / ".git").mkdir()
    (root / ".git/HEAD").write_text("ref: refs/heads/main\n")
    result = run(root, [])
    assert result["removed"] == ["helm/release.values.yaml", "manifests/model-a.yaml", "manifests/vllm.yaml"]
    assert result["foreign"] == [".git/HEAD", "helm/local.yaml", "manifests/empty.yaml", "manifests/notes.md"]
    assert set(tree(root)) == {".git/HEAD", "helm/local.yaml", "manifests/empty.yaml", "manifests/notes.md"}


def test_a_symlink_is_removed_never_its_target(root, tmp_path):
    run(root, FILES[:1])
    outside = tmp_path / "outside.yaml"
    outside.write_text(doc("outside"))
    (root / "manifests/link.yaml").symlink_to(outside)
    result = run(root, FILES[:1])
    assert result["removed"] == ["manifests/link.yaml"]
    assert not (root / "manifests/link.yaml").is_symlink()
    assert outside.read_text() == doc("outside")


def test_check_mode_reports_without_touching_anything(root):
    result = run(root, FILES, check=True)
    assert result["changed"] is True
    assert result["written"] == ["helm/release.values.yaml", "manifests/model-a.yaml", "manifests/vllm.yaml"]
    assert not root.exists()

    run(root, FILES)
    before = tree(root)
    result = run(root, [dict(FILES[0], content=doc("vllm", "kind: Service\n"))], check=True)
    assert result["changed"] is True
    assert result["written"] == ["manifests/vllm.yaml"]
    assert result["removed"] == ["helm/release.values.yaml", "manifests/model-a.yaml"]
    assert tree(root) == before

    assert run(root, FILES, check=True)["changed"] is False


@pytest.mark.parametrize("path", ["../escaped.yaml", "manifests/../../escaped.yaml", "/srv/escaped.yaml", "", "."])
def test_paths_outside_root_are_refused_before_anything_is_written(root, path):
    with pytest.raises(AnsibleActionFail, match=re.escape("relative to root without '..'")):
        run(root, [*FILES, {"path": path, "content": doc("escaped")}])
    assert not root.exists()
    assert not (root.parent / "escaped.yaml").exists()


def test_a_symlink_leading_out_of_root_is_refused(root, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    root.mkdir(parents=True)
    (root / "manifests").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AnsibleActionFail, match="outside root through a symlink"):
        run(root, FILES)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"files": [{"path": "a.yaml", "content": "kind: ConfigMap\n"}]}, "does not start with the render header"),
        ({"files": [FILES[0], FILES[0]]}, "listed twice"),
        ({"header": "Rendered"}, "header must be a comment line"),
        ({"root": "/render"}, "at least two levels deep"),
        ({"root": "relative/dir"}, "at least two levels deep"),
        ({"files": [{"path": "a.yaml"}]}, "content"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_arguments_are_refused(root, change, message):
    args = {"root": root, "files": FILES, "header": HEADER, **change}
    with pytest.raises(AnsibleActionFail, match=message):
        run(**args)
    assert not root.exists()


def test_files_is_required_so_a_typo_cannot_empty_the_directory(root):
    run(root, FILES)
    task_args = {"root": str(root), "header": HEADER, "file": []}
    task = SimpleNamespace(args=task_args, check_mode=False, async_val=0, action="inference.platform.render_files")
    plugin = action.ActionModule(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir=None)), None, None, None, None)
    plugin._load_name = "inference.platform.render_files"
    with pytest.raises(AnsibleActionFail, match="files"):
        plugin.run(task_vars={})
    assert len(tree(root)) == len(FILES)


def test_the_stub_module_documents_the_same_arguments():
    assert stub.ARGUMENT_SPEC == action.ARGUMENT_SPEC


def test_the_stub_module_refuses_to_run_on_a_host(root):
    out = io.StringIO()
    args = {"root": str(root), "header": HEADER, "files": [], "_ansible_check_mode": False}
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        stub.main()
    result = json.loads(out.getvalue())
    assert exc.value.code == 1
    assert result["failed"] is True
    assert "runs on the controller as an action plugin" in result["msg"]
    assert not os.path.exists(root)
