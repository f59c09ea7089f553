#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: node_artifacts
short_description: Check an air-gapped Kubernetes node artifacts directory before anything is installed from it
version_added: 0.2.0
description:
  - Reads the C(SHA256SUMS) and C(artifacts.json) of a directory of node artifacts (binaries, CNI plugins, OCI or Docker
    image archives), as C(scripts/build-node-artifacts.sh) builds it or C(playbooks/kubeadm_artifacts.yml) fetches it.
  - Refuses, naming every file at fault, when a required file is missing, is not listed in C(SHA256SUMS), or does not
    match its checksum; when C(artifacts.json) names other versions than the ones asked for; or when an image archive
    does not carry the image name it must provide.
  - "Run it on the controller (C(delegate_to: localhost)) before any host is changed. It reads only."
  - The checksums file guards the transfer and the storage of the artifacts, not their origin. Where they come from is
    proven by how the directory was filled (upstream checksums for downloads, a local build from pinned modules).
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
options:
  path:
    description:
      - The artifacts directory.
    type: path
    required: true
  checksums_file:
    description:
      - The checksums file inside O(path), in C(sha256sum) format (C(<sha256>  <relative path>) per line).
    type: str
    default: SHA256SUMS
  manifest_file:
    description:
      - The manifest inside O(path), JSON with C(versions) (name to version) and C(images) (archive path to image name).
    type: str
    default: artifacts.json
  files:
    description:
      - Relative paths that must be present and match C(SHA256SUMS) (binaries, plugins).
    type: list
    elements: str
    default: []
  versions:
    description:
      - Versions the manifest must name, key by key (for example C(kubernetes), C(containerd)).
    type: dict
    default: {}
  images:
    description:
      - Image names that must be provided, each by some archive of the manifest's C(images) whose checksum matches and
        which carries that name.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse missing or damaged artifacts before any host changes
  inference.platform.node_artifacts:
    path: "{{ playbook_dir }}/../build/artifacts/kubeadm/v1.35.4"
    files: [bin/kubelet, bin/kubeadm, bin/containerd, cni/bridge]
    versions: {kubernetes: v1.35.4, containerd: v2.2.10}
    images: [localhost/kubeadm/kube-apiserver:v1.35.4, localhost/kubeadm/pause:3.10.1]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
checksums:
  description: sha256 of every file C(SHA256SUMS) lists, by relative path.
  returned: success
  type: dict
  sample: {"bin/kubelet": "4c1f...", "images/pause.tar": "9a0e..."}
image_archives:
  description: Each archive of the manifest and the image names it carries, by relative path.
  returned: success
  type: dict
  sample: {"images/pause.tar": ["localhost/kubeadm/pause:3.10.1"]}
manifest:
  description: The parsed manifest.
  returned: success
  type: dict
"""

import hashlib
import json
import os
import tarfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inference.platform.plugins.module_utils._api import InferenceModule


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_checksums(text):
    """``sha256sum`` output -> {relative path: sha256}. Raises ValueError on a malformed line."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("line %d is not '<sha256>  <path>': %r" % (number, line))
        name = parts[1].strip()
        if name.startswith("*"):  # sha256sum's binary-mode marker
            name = name[1:]
        if name.startswith("./"):
            name = name[2:]
        sums[name] = digest
    return sums


def archive_image_names(path):
    """Image names an image archive carries: OCI layout (index.json annotations) or Docker (manifest.json RepoTags)."""
    with tarfile.open(path) as archive:
        names = archive.getnames()
        normalised = {n[2:] if n.startswith("./") else n: n for n in names}
        if "index.json" in normalised:
            index = json.load(archive.extractfile(normalised["index.json"]))
            found = []
            for entry in index.get("manifests") or []:
                annotations = entry.get("annotations") or {}
                name = annotations.get("io.containerd.image.name")
                name = name or annotations.get("org.opencontainers.image.ref.name")
                if name:
                    found.append(name)
            return found
        if "manifest.json" in normalised:
            manifest = json.load(archive.extractfile(normalised["manifest.json"]))
            return [tag for entry in manifest for tag in (entry.get("RepoTags") or [])]
    raise ValueError("neither an OCI image layout (index.json) nor a Docker archive (manifest.json)")


def check_directory(path, checksums_file, manifest_file, files, versions, images):
    """Every problem found (one line each, naming the file) and what was read."""
    problems = []
    if not os.path.isdir(path):
        return ["%s: no such directory" % path], {}, {}, {}
    sums_path = os.path.join(path, checksums_file)
    try:
        with open(sums_path) as handle:
            sums = parse_checksums(handle.read())
    except (OSError, ValueError) as exc:
        return ["%s: %s" % (sums_path, exc)], {}, {}, {}
    manifest_path = os.path.join(path, manifest_file)
    try:
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        return ["%s: %s" % (manifest_path, exc)], {}, {}, {}
    if manifest_file in sums:
        wanted_files = [manifest_file]
    else:
        problems.append("%s: not listed in %s" % (manifest_path, checksums_file))
        wanted_files = []

    for key, expected in sorted(versions.items()):
        found = (manifest.get("versions") or {}).get(key)
        if str(found) != str(expected):
            problems.append(
                "%s: %s is %s, but %s is pinned: these artifacts are for another release"
                % (manifest_path, key, found if found is not None else "not named", expected)
            )

    archives = manifest.get("images") or {}
    wanted_files += list(files) + sorted(archives)
    actual = {}
    for name in wanted_files:
        full = os.path.join(path, name)
        if name not in sums:
            problems.append("%s: not listed in %s" % (full, checksums_file))
            continue
        if not os.path.isfile(full):
            problems.append("%s: missing (listed in %s)" % (full, checksums_file))
            continue
        actual[name] = sha256_file(full)
        if actual[name] != sums[name]:
            problems.append("%s: sha256 %s, but %s says %s" % (full, actual[name], checksums_file, sums[name]))

    carried = {}
    for name in sorted(archives):
        if name not in actual or actual[name] != sums.get(name):
            continue
        full = os.path.join(path, name)
        try:
            carried[name] = archive_image_names(full)
        except (OSError, ValueError, tarfile.TarError) as exc:
            problems.append("%s: not a readable image archive: %s" % (full, exc))
            continue
        if archives[name] not in carried[name]:
            carries = ", ".join(carried[name]) or "no image name"
            problems.append("%s: carries %s, but %s says %s" % (full, carries, manifest_file, archives[name]))
    provided = {ref for refs in carried.values() for ref in refs}
    for ref in images:
        if ref not in provided:
            problems.append("%s: no image archive provides %s (images of %s)" % (path, ref, manifest_file))
    checksums = {name: sums[name] for name in sums}
    return problems, checksums, carried, manifest


class NodeArtifacts(InferenceModule):
    def run(self):
        p = self.module.params
        problems, checksums, carried, manifest = check_directory(
            p["path"], p["checksums_file"], p["manifest_file"], p["files"], p["versions"], p["images"]
        )
        if problems:
            self.fail(
                "REFUSED: the node artifacts in %s cannot be installed, nothing was changed:\n%s"
                % (p["path"], "\n".join(problems)),
                "artifacts_refused",
                {"problems": problems},
            )
        self.exit(checksums=checksums, image_archives=carried, manifest=manifest)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "checksums_file": {"type": "str", "default": "SHA256SUMS"},
            "manifest_file": {"type": "str", "default": "artifacts.json"},
            "files": {"type": "list", "elements": "str", "default": []},
            "versions": {"type": "dict", "default": {}},
            "images": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    NodeArtifacts(module).run()


if __name__ == "__main__":
    main()
