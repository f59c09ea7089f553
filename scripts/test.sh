#!/usr/bin/env bash
# The project's whole test suite (`make test`): every gate in order, stopping at the first red,
# then one summary line per gate. Layers: static (ansible-lint, yamllint, ruff, syntax,
# ansible-test sanity), units/render/real servers (pytest), lab hosts (Molecule), a real
# Kubernetes API server (kube-apiserver, etcd and Helm built from their Go modules; cached by
# version under ~/.cache/inference-platform; the build starts in the background at once, niced,
# so on a cold machine it overlaps the other gates; gate go-builds waits for it).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export VIRTUAL_ENV="$PWD/.venv"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

gates=()
results=()
seconds=()

run_gate() { # name, command...
  local name=$1 started status
  shift
  printf '\n=== gate %s: %s\n' "$name" "$*"
  started=$(date +%s)
  "$@"
  status=$?
  gates+=("$name")
  seconds+=($(($(date +%s) - started)))
  if ((status == 0)); then results+=(passed); else results+=("FAILED (exit $status)"); fi
  return $status
}

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

molecule_scenarios() {
  local scenario status=0
  # Molecule platforms run the lab image; build it (cached) and podman's settings first.
  ansible-playbook playbooks/lab.yml -e lab_state=image || return 1
  for scenario in molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$scenario")")
    echo "--- molecule scenario $scenario"
    molecule test -s "$scenario" || { echo "molecule scenario $scenario FAILED"; status=1; break; }
  done
  return $status
}

go_builds_log=build/go-builds.log
start_go_builds() {
  mkdir -p build
  # setsid: its own process group (pid = pgid), so a red gate can stop the whole build
  setsid bash -c 'scripts/build-control-plane.sh && scripts/build-helm.sh' >"$go_builds_log" 2>&1 &
  go_builds_pid=$!
}

wait_go_builds() {
  local status
  wait "$go_builds_pid"
  status=$?
  go_builds_pid=
  grep -E '^\[build-[a-z-]+\] (cached|built in|ERROR)' "$go_builds_log"
  ((status == 0)) || { tail -n 40 "$go_builds_log"; echo "Go builds FAILED (full log: $go_builds_log)"; }
  return $status
}

stop_go_builds() { # a red gate ends the run: do not leave the build running behind it
  [[ -n ${go_builds_pid:-} ]] && kill -- "-$go_builds_pid" 2>/dev/null
  return 0
}
trap stop_go_builds EXIT

summary() {
  local index passed=0 failed=0
  printf '\n=== summary\n'
  for index in "${!gates[@]}"; do
    printf 'gate %-16s %s (%ss)\n' "${gates[$index]}" "${results[$index]}" "${seconds[$index]}"
    if [[ ${results[$index]} == passed ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  for name in "${all_gates[@]:${#gates[@]}}"; do printf 'gate %-16s not run\n' "$name"; done
  printf 'gates: %d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

all_gates=(ansible-lint yamllint ruff syntax sanity pytest molecule go-builds cluster-api)
start_go_builds
run_gate ansible-lint ansible-lint &&
  run_gate yamllint yamllint --strict . &&
  run_gate ruff ruff check . &&
  run_gate syntax syntax_check_playbooks &&
  run_gate sanity collection_sanity &&
  run_gate pytest pytest &&
  run_gate molecule molecule_scenarios &&
  run_gate go-builds wait_go_builds &&
  run_gate cluster-api pytest tests/cluster_api
summary
