#!/usr/bin/env bash
# The project's whole test suite (`make test`). Layers: static (ansible-lint, yamllint, ruff, syntax,
# ansible-test sanity), units/render/real servers (pytest), lab hosts (Molecule, one gate per
# scenario), a real Kubernetes API server (kube-apiserver, etcd and Helm built from their Go
# modules; cached by version under ~/.cache/inference-platform; the build starts in the background
# at once, niced; gate go-builds waits for it), and a real three-node kubeadm cluster on lab hosts
# (gate lab-cluster; the kubeadm node artifacts are built after those, in the same background job,
# and gate node-artifacts waits for them).
# The gates run two at a time (scripts/run-gates.py; a 2-core machine, and no gate keeps both cores
# busy), each with its log in build/gates/, stopping at the first red; the summary has a line per gate.
#   scripts/test.sh              every gate
#   scripts/test.sh gate NAME    one gate (e.g. pytest, molecule:k3s), as run-gates.py runs it
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export VIRTUAL_ENV="$PWD/.venv"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# The pinned upstream chart archives that tests/render and tests/cluster_api render and install (sources in
# tests/support/pinned_charts.py). A checkout with ../shared beside it (as .ci/run sets it) takes them from there,
# unless INFERENCE_PLATFORM_CHART_DIR is set already; the tests read ../shared only through this variable.
if [[ -z ${INFERENCE_PLATFORM_CHART_DIR:-} && -d ../shared/reference/charts ]]; then
  INFERENCE_PLATFORM_CHART_DIR=$(cd ../shared/reference/charts && pwd)
  export INFERENCE_PLATFORM_CHART_DIR
fi

syntax_check_playbooks() {
  local playbook status=0
  for playbook in playbooks/*.yml; do
    ansible-playbook --syntax-check -i inventories/lab "$playbook" >/dev/null || { echo "syntax error: $playbook"; status=1; }
  done
  ((status == 0)) && echo "syntax: $(ls playbooks/*.yml | wc -l) playbooks parse"
  return $status
}

collection_sanity() {
  (cd collections/ansible_collections/inference/platform &&
    ansible-test sanity --python 3.11 --local --color no)
}

lab_image() { # Molecule platforms run the lab image; build it (cached) and podman's settings first.
  ansible-playbook playbooks/lab.yml -e lab_state=image
}

molecule_scenario() { # scenario
  molecule test -s "$1"
}

go_builds_log=build/go-builds.log
go_builds_status=build/go-builds.status
node_artifacts_log=build/node-artifacts.log
node_artifacts_status=build/node-artifacts.status
start_go_builds() { # the control plane and Helm (gate go-builds), then the kubeadm node artifacts (gate node-artifacts)
  mkdir -p build
  rm -f "$go_builds_status" "$node_artifacts_status"
  # setsid: its own process group (pid = pgid), so the end of the run can stop the whole build
  setsid bash -c "(scripts/build-control-plane.sh && scripts/build-helm.sh) >$go_builds_log 2>&1; echo \$? >$go_builds_status
    scripts/build-node-artifacts.sh >$node_artifacts_log 2>&1; echo \$? >$node_artifacts_status" >/dev/null 2>&1 &
  go_builds_pid=$!
  echo "$go_builds_pid" >build/go-builds.pid
}

wait_build() { # what status_file log_file
  local status
  until [[ -f $2 ]]; do
    kill -0 "$(cat build/go-builds.pid 2>/dev/null)" 2>/dev/null ||
      { echo "the $1 build is not running and left no status (scripts/test.sh starts it); see $3"; return 1; }
    sleep 2
  done
  status=$(cat "$2")
  grep -E '^\[build-[a-z-]+\] (cached|built|assembled|ERROR)' "$3"
  ((status == 0)) || { tail -n 40 "$3"; echo "$1 build FAILED (full log: $3)"; }
  return "$status"
}

stop_go_builds() { # a red gate ends the run: do not leave the build running behind it
  [[ -n ${go_builds_pid:-} ]] && kill -- "-$go_builds_pid" 2>/dev/null
  return 0
}

run_one_gate() { # name
  case $1 in
    ansible-lint) ansible-lint ;;
    yamllint) yamllint --strict . ;;
    ruff) ruff check . ;;
    syntax) syntax_check_playbooks ;;
    sanity) collection_sanity ;;
    pytest) pytest -m "not timing" ;;
    timing) pytest -m timing tests/integration ;;
    lab-image) lab_image ;;
    molecule:*) molecule_scenario "${1#molecule:}" ;;
    go-builds) wait_build Go "$go_builds_status" "$go_builds_log" ;;
    cluster-api) pytest tests/cluster_api ;;
    node-artifacts) wait_build "node artifacts" "$node_artifacts_status" "$node_artifacts_log" ;;
    lab-cluster) pytest -p no:cacheprovider tests/lab_cluster ;;
    platform-images) scripts/build-platform-images.sh ;;
    *) echo "scripts/test.sh: no gate named $1"; return 2 ;;
  esac
}

if [[ ${1:-} == gate ]]; then
  run_one_gate "${2:?scripts/test.sh gate NAME}"
  exit
fi

# The gates in the order they are taken, longest first within what is ready, so both slots end
# together; a gate after ":needs=" starts only once those have passed.
scenarios=(k3s reset kubeadm host_prep preflight node_identity validate_inventory)
for scenario in "${scenarios[@]}"; do
  [[ -f molecule/$scenario/molecule.yml ]] || { echo "scripts/test.sh: molecule/$scenario is gone; update the list"; exit 2; }
done
for file in molecule/*/molecule.yml; do
  scenario=$(basename "$(dirname "$file")")
  [[ " ${scenarios[*]} " == *" $scenario "* ]] || { echo "scripts/test.sh: add molecule/$scenario to the list"; exit 2; }
done
# pytest renders the pinned charts with the project's Helm (tests/render/test_upstream_charts.py): it waits for the
# Go builds, so go-builds comes first (about 1 s when cached); it runs podman containers (the platform images,
# tests/integration/test_platform_images.py) with the podman settings the lab-image gate writes.
# lab-cluster is the longest gate (14-25 min): it is taken right after its needs, beside pytest, so that the
# two slots end together (last in the list it made the run ~12 min longer on a warm cache).
# platform-images builds the images the lab serves with (llama-server, LiteLLM, KEDA, the Prometheus stack; cached by
# version, seconds when cached): the lab cluster imports them into its nodes, pytest runs them in podman; it needs the
# lab-image gate's podman settings. lab-cluster installs the KEDA and kube-prometheus-stack charts with go-builds' Helm.
gates=(go-builds ansible-lint lab-image "platform-images:needs=lab-image" "pytest:needs=go-builds,platform-images"
  yamllint ruff syntax sanity node-artifacts "lab-cluster:needs=go-builds,platform-images,node-artifacts")
for scenario in "${scenarios[@]}"; do gates+=("molecule:$scenario:needs=lab-image"); done
gates+=("cluster-api:needs=go-builds")
# timing: the tests that compare latencies measured in two phases run alone, after every other gate (beside the lab
# cluster gate, whose lab now serves a model, the phases of one such test saw different loads twice).
others=("${gates[@]%%:needs=*}")
gates+=("timing:needs=$(IFS=,; echo "${others[*]}")")

start_go_builds
trap stop_go_builds EXIT
python3 scripts/run-gates.py 2 "${gates[@]}"
