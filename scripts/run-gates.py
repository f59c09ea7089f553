#!/usr/bin/env python3
"""Run the test gates of scripts/test.sh two at a time (this is a 2-core machine), stopping at the first red.

Each gate is `scripts/test.sh gate <name>`, started in its own process group with its output in
build/gates/<name>.log; the log is printed whole when the gate ends. A gate starts when a slot is free
and the gates it needs have passed (the order below is the order they are taken in: longest first, so
the two slots end together). The first red gate stops the run: the gates still running are killed and
no other gate starts. The Go builds are not a gate: they run niced in the background from the start
(started by scripts/test.sh), and gate go-builds only waits for them.

Usage: run-gates.py SLOTS GATE[:NEEDED,NEEDED...] ...
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = PROJECT_ROOT / "build" / "gates"
# Lines that say why a gate failed: Ansible's failed task results (not its retries), pytest's failures and
# assertion lines.
FAILURE_LINE = re.compile(r"^(fatal: \[|failed: \[|FAILED (?!- RETRYING)|ERROR |E   )")
# A failed gate's log is printed whole, but a CI record may keep only the end of the output: the summary
# repeats the failure lines (each with the lines after it, up to a blank line) so that the end says why,
# and the red gate's own summary line is followed by its first failure on one line (a record once kept
# fewer lines than the excerpt, and lost the failed task).
EXCERPT_LINES = 60
EXCERPT_FOLLOW = 15
REASON_CHARS = 600


@dataclass
class Gate:
    name: str
    needs: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    seconds: int = 0
    result: str = "not run"
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = LOG_DIR / f"{self.name.replace(':', '-')}.log"


def parse(arguments: list[str]) -> list[Gate]:
    gates = []
    for argument in arguments:
        name, _, needs = argument.partition(":needs=")
        gates.append(Gate(name, [need for need in needs.split(",") if need]))
    names = {gate.name for gate in gates}
    for gate in gates:
        unknown = [need for need in gate.needs if need not in names]
        if unknown:
            sys.exit(f"run-gates: gate {gate.name} needs unknown gates {unknown}")
    return gates


def start(gate: Gate) -> None:
    print(f"=== gate {gate.name}: started", flush=True)
    gate.started = time.monotonic()
    with gate.log.open("w", encoding="utf-8") as log:
        gate.process = subprocess.Popen(
            [str(PROJECT_ROOT / "scripts" / "test.sh"), "gate", gate.name],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def finish(gate: Gate, status: int) -> None:
    gate.seconds = int(time.monotonic() - gate.started)
    gate.result = "passed" if status == 0 else f"FAILED (exit {status})"
    print(f"\n=== gate {gate.name}: {gate.result} ({gate.seconds}s), its output:", flush=True)
    sys.stdout.write(gate.log.read_text(encoding="utf-8", errors="replace"))
    print(f"=== end of gate {gate.name}", flush=True)


def stop(gate: Gate) -> None:
    try:
        os.killpg(gate.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        gate.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(gate.process.pid, signal.SIGKILL)
        gate.process.wait()
    gate.seconds = int(time.monotonic() - gate.started)
    gate.result = "stopped (another gate failed)"


def run(slots: int, gates: list[Gate]) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    waiting = list(gates)
    running: list[Gate] = []
    passed: set[str] = set()
    red = False
    while waiting or running:
        for gate in list(running):
            status = gate.process.poll()
            if status is not None:
                running.remove(gate)
                finish(gate, status)
                if status == 0:
                    passed.add(gate.name)
                else:
                    red = True
        if red:
            for gate in running:
                stop(gate)
            return
        for gate in list(waiting):
            if len(running) < slots and all(need in passed for need in gate.needs):
                waiting.remove(gate)
                running.append(gate)
                start(gate)
        time.sleep(1)


def failure_blocks(log: str) -> list[list[str]]:
    """Each failure line of a log with what follows it up to a blank line (at most EXCERPT_FOLLOW lines)."""
    lines = log.splitlines()
    blocks: list[list[str]] = []
    index = 0
    while index < len(lines):
        if FAILURE_LINE.match(lines[index]):
            end = index + 1
            while end < len(lines) and end - index < EXCERPT_FOLLOW and lines[end].strip():
                end += 1
            blocks.append(lines[index:end])
            index = end
        else:
            index += 1
    return blocks


def failure_excerpt(log: str) -> list[str]:
    """The lines of a failed gate's log that say why: the failure blocks, at most EXCERPT_LINES in all; the
    last 20 lines when no line looks like a failure."""
    excerpt = [line for block in failure_blocks(log) for line in block]
    return excerpt[:EXCERPT_LINES] or log.splitlines()[-20:]


def first_reason(log: str) -> str:
    """The first failure block on one line (whitespace collapsed, at most REASON_CHARS), or the log's last line."""
    blocks = failure_blocks(log)
    lines = blocks[0] if blocks else log.splitlines()[-1:]
    reason = " ".join(" ".join(lines).split())
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."


def summary(gates: list[Gate]) -> bool:
    reasons: dict[str, str] = {}
    for gate in gates:
        if gate.result.startswith("FAILED"):
            log = gate.log.read_text(encoding="utf-8", errors="replace")
            print(f"\n=== why gate {gate.name} failed (from {os.path.relpath(gate.log, PROJECT_ROOT)}):", flush=True)
            print("\n".join(failure_excerpt(log)))
            reasons[gate.name] = first_reason(log)
    print("\n=== summary", flush=True)
    for gate in gates:
        seconds = f" ({gate.seconds}s)" if gate.result != "not run" else ""
        print(f"gate {gate.name:<28} {gate.result}{seconds}")
        if gate.name in reasons:
            print(f"    why: {reasons[gate.name]}")
    passed = sum(gate.result == "passed" for gate in gates)
    failed = sum(gate.result.startswith("FAILED") for gate in gates)
    print(f"gates: {passed} passed, {failed} failed, {len(gates) - passed - failed} not run or stopped")
    return passed == len(gates)


def main() -> int:
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    gates = parse(sys.argv[2:])
    started = time.monotonic()
    try:
        run(int(sys.argv[1]), gates)
    except KeyboardInterrupt:
        for gate in gates:
            if gate.process is not None and gate.process.poll() is None:
                stop(gate)
    green = summary(gates)
    print(f"wall time: {int(time.monotonic() - started)}s")
    return 0 if green else 1


if __name__ == "__main__":
    sys.exit(main())
