#!/usr/bin/env bash
# Remove every container image this project built (each carries a label under io.inference-platform.)
# and the containers that use them, so the next run builds them as a new machine would. .ci/run calls it
# before `make test`; run it by hand to check that no test depends on an image left behind.
set -euo pipefail

if ! command -v podman >/dev/null; then
  echo "remove-project-images: podman is not installed: no image to remove"
  exit 0
fi

mapfile -t images < <(podman images --all --format json | python3 -c '
import json, sys
for image in json.load(sys.stdin) or []:
    labels = image.get("Labels") or {}
    if any(key.startswith("io.inference-platform.") for key in labels):
        print(image["Id"])
')
if ((${#images[@]} == 0)); then
  echo "remove-project-images: no project image in the store"
  exit 0
fi
# --force also removes the containers that still use an image (a lab left running).
podman rmi --force "${images[@]}" >/dev/null
echo "remove-project-images: removed ${#images[@]} project image(s)"
