"""scripts/run-gates.py: the end of a red run says why its gate failed (a CI record may keep only the end)."""

import importlib.util
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def load_run_gates():
    spec = importlib.util.spec_from_file_location("run_gates", PROJECT_ROOT / "scripts" / "run-gates.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


ANSIBLE_LOG = """\
TASK [node_reset : List the processes] *****************************************
ok: [molecule-reset-server-1]

TASK [node_reset : Wait for the runtime] ****************************************
FAILED - RETRYING: [molecule-reset-server-1]: Wait for the runtime (3 retries left).
ok: [molecule-reset-server-1]

TASK [node_reset : Kill the container shims and their containers] **************
changed: [molecule-reset-agent-1]
fatal: [molecule-reset-server-1]: FAILED! => changed=true
  cmd:
  - kill
  rc: 1
  stderr: 'kill: (4242): No such process'

PLAY RECAP *********************************************************************
molecule-reset-server-1    : ok=11   changed=0    unreachable=0    failed=1    skipped=2
"""

PYTEST_LOG = """\
tests/cluster_api/test_gateway.py::test_services PASSED
tests/cluster_api/test_gateway.py::test_metrics FAILED
    def test_metrics():
>       assert services == {"litellm"}
E       AssertionError: assert {'litellm', 'litellm-metrics'} == {'litellm'}
E         Extra items in the left set:
E         'litellm-metrics'

FAILED tests/cluster_api/test_gateway.py::test_metrics - AssertionError
1 failed, 35 passed
"""


def test_an_ansible_failure_is_repeated_with_its_result_and_nothing_else():
    excerpt = load_run_gates().failure_excerpt(ANSIBLE_LOG)
    assert excerpt[0] == "fatal: [molecule-reset-server-1]: FAILED! => changed=true"
    assert "  stderr: 'kill: (4242): No such process'" in excerpt
    assert not any("PLAY RECAP" in line or line.startswith(("changed:", "FAILED - RETRYING")) for line in excerpt)


def test_the_summary_line_of_a_red_gate_is_followed_by_its_first_failure_on_one_line(tmp_path, capsys):
    run_gates = load_run_gates()
    red, green = run_gates.Gate("molecule:reset", []), run_gates.Gate("ruff", [])
    red.log, red.result, red.seconds = tmp_path / "red.log", "FAILED (exit 2)", 47
    red.log.write_text(ANSIBLE_LOG)
    green.result = "passed"
    assert run_gates.summary([green, red]) is False
    lines = capsys.readouterr().out.splitlines()
    at = lines.index(f"gate {'molecule:reset':<28} FAILED (exit 2) (47s)")
    assert lines[at + 1] == (
        "    why: fatal: [molecule-reset-server-1]: FAILED! => changed=true cmd: - kill rc: 1 "
        "stderr: 'kill: (4242): No such process'"
    )
    assert lines[at + 2] == "gates: 1 passed, 1 failed, 0 not run or stopped"


def test_a_long_first_failure_is_cut_to_its_bound():
    run_gates = load_run_gates()
    reason = run_gates.first_reason("fatal: [h]: FAILED! => " + "x" * 5000)
    assert len(reason) == run_gates.REASON_CHARS and reason.endswith("...")


def test_pytest_assertion_lines_and_the_short_summary_are_repeated():
    excerpt = load_run_gates().failure_excerpt(PYTEST_LOG)
    assert "E       AssertionError: assert {'litellm', 'litellm-metrics'} == {'litellm'}" in excerpt
    assert "FAILED tests/cluster_api/test_gateway.py::test_metrics - AssertionError" in excerpt
    assert "tests/cluster_api/test_gateway.py::test_services PASSED" not in excerpt


def test_a_log_without_a_failure_line_ends_with_its_last_lines():
    log = "\n".join(f"line {number}" for number in range(100))
    assert load_run_gates().failure_excerpt(log) == [f"line {number}" for number in range(80, 100)]


def test_the_excerpt_is_bounded():
    run_gates = load_run_gates()
    log = "\n".join(f"fatal: [host-{number}]: FAILED! => msg" for number in range(500))
    assert len(run_gates.failure_excerpt(log)) == run_gates.EXCERPT_LINES
