# Entry points. Each target prepares this machine first (scripts/setup.sh: Debian packages, the
# project venv, offline ansible-test bootstrap), so a fresh clone needs nothing installed by hand.
SHELL := /bin/bash
VENV_BIN := $(CURDIR)/.venv/bin
PLAYBOOK := $(VENV_BIN)/ansible-playbook

.PHONY: setup lab lab-down test

setup:
	scripts/setup.sh

# The main job on the local lab: build (or find cached) the kubeadm node artifacts, start the lab hosts
# (which also sets the podman settings image builds need here), build (or find cached) the platform's own
# images (llama-server, LiteLLM, KEDA, the Prometheus stack: scripts/build-platform-images.sh) and the Helm CLI the
# platform stage installs the charts with (scripts/build-helm.sh), then run site.yml as far as the lab can go; the last
# lines say which stages ran and where the run stopped and why. The pinned chart archives come from a chart
# repository, or, where none is reachable, from the directory INFERENCE_PLATFORM_CHART_DIR names.
lab: setup
	scripts/build-node-artifacts.sh
	$(PLAYBOOK) playbooks/lab.yml
	scripts/build-platform-images.sh
	scripts/build-helm.sh >/dev/null
	PATH="$$(scripts/build-helm.sh --print-dir):$$PATH" $(PLAYBOOK) -i inventories/lab playbooks/site.yml

# Remove the lab hosts, network and inventory (the image stays cached).
lab-down: setup
	$(PLAYBOOK) playbooks/lab_down.yml

# Every test gate, two at a time, stopping at the first red, with a summary line per gate.
test: setup
	scripts/test.sh
