"""gpu_facts against real nvidia-smi outputs (tests/fixtures/nvidia-smi, see ATTRIBUTION.md there).

A stand-in ``nvidia-smi`` script serves the captured files: ``-q -x`` prints a captured XML report, and
``--query-gpu=<fields> --format=csv`` projects a captured full CSV onto the requested fields (with their
units in the header, as the real binary does) and refuses a field the capture does not have, as the real
binary does. So the module's field list is checked against what drivers 590/595 really accept.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from ansible_collections.inference.platform.plugins.modules import gpu_facts
from module_runner import FIXTURES, ansible_cli, ansible_playbook, run_module, warning_texts

NVSMI = FIXTURES / "nvidia-smi"
A100_XML = NVSMI / "telegraf-a100-sxm4-v12.xml"
RTX4000_XML = NVSMI / "telegraf-rtx-4000-sff-ada-v13.xml"
H100_IDLE = NVSMI / "nvidia-smi-query-gpu-idle__h100-80gb-hbm3__590.48.01.csv"
H100_LOAD = NVSMI / "nvidia-smi-query-gpu-load__h100-80gb-hbm3__590.48.01.csv"
L40S_LOAD = NVSMI / "nvidia-smi-query-gpu-load__l40s__595.80.csv"
L40S_IDLE = NVSMI / "nvidia-smi-query-gpu-idle__l40s__595.80.csv"

FAKE_SMI = r"""#!{python}
import csv, re, sys
XML = {xml!r}
CSV = {csv!r}
MODE = {mode!r}
args = sys.argv[1:]
if MODE == "nodevices":
    print("No devices were found")
    sys.exit(6)
if MODE == "nodriver":
    print("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
          "Make sure that the latest NVIDIA driver is installed and running.")
    sys.exit(9)
if args == ["-q", "-x"]:
    if XML is None:
        print("Unknown option -x (stand-in for an nvidia-smi without XML)")
        sys.exit(2)
    sys.stdout.write(open(XML).read())
    sys.exit(0)
if len(args) == 2 and args[0].startswith("--query-gpu=") and args[1] == "--format=csv":
    if CSV is None:
        print('Field "compute_cap" is not a valid field to query.')
        sys.exit(2)
    fields = args[0].split("=", 1)[1].split(",")
    rows = list(csv.reader(open(CSV).read().splitlines(), skipinitialspace=True))
    names = [re.sub(r"\s*\[[^\]]*\]$", "", h) for h in rows[0]]
    for f in fields:
        if f not in names:
            print('Field "%s" is not a valid field to query.' % f)
            sys.exit(2)
    idx = [names.index(f) for f in fields]
    for row in rows:
        print(", ".join(row[i] for i in idx))
    sys.exit(0)
print("unexpected arguments: %r" % (args,))
sys.exit(2)
"""


def make_exe(path: Path, body: str) -> Path:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_smi(tmp_path, xml=None, csv=None, mode="normal"):
    body = FAKE_SMI.format(
        python=sys.executable,
        xml=str(xml) if xml else None,
        csv=str(csv) if csv else None,
        mode=mode,
    )
    return make_exe(tmp_path / "nvidia-smi", body)


@pytest.fixture
def no_kernel_log(tmp_path, monkeypatch):
    """A PATH with no journalctl/dmesg/nvidia-smi, so results do not depend on this machine."""
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(gpu_facts, "SEARCH_DIRS", [str(empty)])
    return empty


def run(args, **kw):
    return run_module(gpu_facts.main, args, **kw)


def test_a100_mig_xml_only(tmp_path, no_kernel_log):
    smi = fake_smi(tmp_path, xml=A100_XML, csv=None)
    res = run({"nvidia_smi_path": str(smi)})
    assert not res.failed, res
    assert res["changed"] is False
    assert res["gpu_count"] == 1
    assert res["reason"] is None
    assert res["driver_version"] == "535.54.03"
    assert res["cuda_version"] == "12.2"
    gpu = res["gpus"][0]
    assert gpu["name"] == "NVIDIA A100-SXM4-80GB"
    assert gpu["uuid"] == "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    assert gpu["pci_bus_id"] == "00000000:01:00.0"
    assert gpu["architecture"] == "Ampere"
    assert gpu["memory"] == {"total_mib": 81920, "used_mib": 50, "free_mib": 80999, "reserved_mib": 869}
    assert gpu["persistence_mode"] is False
    assert gpu["mig"]["current"] == "Enabled"
    assert gpu["mig"]["enabled"] is True
    assert [i["gpu_instance_id"] for i in gpu["mig"]["instances"]] == [3, 4, 5, 6]
    first = gpu["mig"]["instances"][0]
    assert first["multiprocessor_count"] == 14
    assert first["memory_total_mib"] == 19968
    assert first["memory_used_mib"] == 12
    assert first["ecc_volatile_uncorrected"] == 0
    assert gpu["ecc"]["mode"] == "Enabled"
    assert gpu["ecc"]["volatile"] == {"corrected": 0, "uncorrected": 0}
    assert gpu["ecc"]["aggregate"] == {"corrected": 0, "uncorrected": 0}
    assert gpu["power_draw_w"] == 67.03
    assert gpu["temperature_c"] == 27
    assert gpu["utilization_gpu_pct"] is None  # N/A under MIG
    # compute capability is not in the XML report and the CSV query failed here
    assert gpu["compute_capability"] is None
    assert gpu["sources"] == ["xml"]
    assert any("--query-gpu exited 2" in w for w in warning_texts(res)), res.get("warnings")
    assert res["ansible_facts"]["inference_gpus"]["gpus"] == res["gpus"]
    # no journalctl/dmesg on PATH: Xid events unknown, not "none"
    assert gpu["xid_events"] is None
    assert res["xid_source"].startswith("unavailable")


def test_rtx4000_ada_xml(tmp_path, no_kernel_log):
    smi = fake_smi(tmp_path, xml=RTX4000_XML, csv=None)
    res = run({"nvidia_smi_path": str(smi), "xid_events": False})
    gpu = res["gpus"][0]
    assert gpu["name"] == "NVIDIA RTX 4000 SFF Ada Generation"
    assert gpu["architecture"] == "Ada Lovelace"
    assert res["driver_version"] == "595.84"
    assert res["cuda_version"] == "13.2"
    assert gpu["memory"]["total_mib"] == 20475
    assert gpu["memory"]["used_mib"] == 3534
    assert gpu["persistence_mode"] is True
    assert gpu["mig"] == {"current": None, "pending": None, "enabled": False, "instances": []}
    assert gpu["ecc"]["mode"] == "Disabled"
    # every ECC counter is N/A with ECC off: unknown, not zero
    assert gpu["ecc"]["volatile"] == {"corrected": None, "uncorrected": None}
    assert gpu["power_draw_w"] == 8.81  # v13 reports average_power_draw, not power_draw
    compute = [p for p in gpu["processes"] if p["type"] == "C"]
    assert {"pid": 4937, "type": "C", "name": "python", "used_memory_mib": 160, "gpu_instance_id": None} in compute
    assert res["xid_source"] == "not read (xid_events=false)"


@pytest.mark.parametrize(
    ("capture", "name", "cc", "total", "used", "persistence", "mig", "power", "bus"),
    [
        (H100_IDLE, "NVIDIA H100 80GB HBM3", "9.0", 81559, 0, True, "Disabled", 69.85, "00000000:00:09.0"),
        (H100_LOAD, "NVIDIA H100 80GB HBM3", "9.0", 81559, 19818, True, "Disabled", 631.95, "00000000:00:09.0"),
        (L40S_IDLE, "NVIDIA L40S", "8.9", 46068, 0, False, None, 144.97, "00000000:01:00.0"),
        (L40S_LOAD, "NVIDIA L40S", "8.9", 46068, 1235, False, None, 110.23, "00000000:01:00.0"),
    ],
)
def test_csv_only(tmp_path, no_kernel_log, capture, name, cc, total, used, persistence, mig, power, bus):
    smi = fake_smi(tmp_path, xml=None, csv=capture)
    res = run({"nvidia_smi_path": str(smi), "xid_events": False})
    assert not res.failed, res
    assert res["gpu_count"] == 1
    gpu = res["gpus"][0]
    assert gpu["index"] == 0
    assert gpu["name"] == name
    assert gpu["compute_capability"] == cc
    assert gpu["memory"]["total_mib"] == total
    assert gpu["memory"]["used_mib"] == used
    assert gpu["persistence_mode"] is persistence
    assert gpu["mig"]["current"] == mig
    assert gpu["mig"]["enabled"] is False
    assert gpu["ecc"]["mode"] == "Enabled"
    assert gpu["ecc"]["volatile"] == {"corrected": 0, "uncorrected": 0}
    assert gpu["power_draw_w"] == power
    assert gpu["pci_bus_id"] == bus
    assert gpu["cuda_version"] is None
    assert gpu["sources"] == ["csv"]
    assert any("-q -x exited 2" in w for w in warning_texts(res))


def test_xml_and_csv_merge_by_uuid(tmp_path, no_kernel_log):
    # The A100 capture has no CSV twin, so this CSV is written here for that GPU (same UUID, compute_cap 8.0,
    # the A100's real compute capability) in the format of the real captures.
    csv_file = tmp_path / "a100.csv"
    csv_file.write_text(
        "index, name, uuid, pci.bus_id, driver_version, memory.total [MiB], memory.used [MiB], memory.free [MiB], "
        "memory.reserved [MiB], compute_cap, persistence_mode, mig.mode.current, mig.mode.pending, ecc.mode.current, "
        "ecc.mode.pending, ecc.errors.corrected.volatile.total, ecc.errors.uncorrected.volatile.total, "
        "ecc.errors.corrected.aggregate.total, ecc.errors.uncorrected.aggregate.total, temperature.gpu, "
        "power.draw [W], utilization.gpu [%]\n"
        "0, NVIDIA A100-SXM4-80GB, GPU-513536b6-7d19-9063-b049-1e69664bb298, 00000000:01:00.0, 535.54.03, "
        "81920 MiB, 50 MiB, 80999 MiB, 869 MiB, 8.0, Disabled, Enabled, Enabled, Enabled, Enabled, 0, 0, 0, 0, "
        "27, 67.03 W, [N/A]\n"
    )
    smi = fake_smi(tmp_path, xml=A100_XML, csv=csv_file)
    res = run({"nvidia_smi_path": str(smi), "xid_events": False})
    assert res["gpu_count"] == 1, res["gpus"]
    gpu = res["gpus"][0]
    assert gpu["sources"] == ["xml", "csv"]
    assert gpu["compute_capability"] == "8.0"
    assert gpu["index"] == 0
    assert gpu["cuda_version"] == "12.2"
    assert len(gpu["mig"]["instances"]) == 4
    assert warning_texts(res) == []


def test_parser_two_gpus_from_exporter_testdata():
    rows = gpu_facts.parse_csv((NVSMI / "nvidia_gpu_exporter-query-testdata.csv").read_text())
    gpus = gpu_facts.merge([], rows)
    assert [g["name"] for g in gpus] == ["NVIDIA GeForce RTX 2080 SUPER", "Some Other GPU"]
    assert [g["compute_capability"] for g in gpus] == ["7.5", "8.6"]
    assert [g["memory"]["used_mib"] for g in gpus] == [575, 1234]
    assert gpus[0]["uuid"] == "GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa"


def test_parser_rejects_ragged_csv():
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        gpu_facts.parse_csv("a, b, c\n1, 2\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("81920 MiB", 81920),
        ("67.03 W", 67.03),
        ("[N/A]", None),
        ("N/A", None),
        ("[Not Supported]", None),
        ("[Requested functionality has been deprecated]", None),
        ("100 %", 100),
        ("0x1F", None),
    ],
)
def test_number(value, expected):
    assert gpu_facts.number(value) == expected


def test_no_nvidia_smi_is_not_an_error(no_kernel_log):
    res = run({})
    assert not res.failed
    assert res["gpus"] == []
    assert res["gpu_count"] == 0
    assert res["reason"].startswith("nvidia-smi not found")
    assert res["ansible_facts"]["inference_gpus"]["reason"] == res["reason"]


def test_no_nvidia_smi_required_fails(no_kernel_log):
    res = run({"required": True})
    assert res.failed
    assert res["_rc"] == 1
    assert res["error"]["code"] == "nvidia_smi_missing"
    assert "required=true" in res["msg"]
    assert res["error"]["message"] == res["msg"]


@pytest.mark.parametrize(
    ("mode", "code", "reason"),
    [("nodevices", "no_devices", "no devices"), ("nodriver", "driver_not_loaded", "cannot talk to the NVIDIA driver")],
)
def test_no_devices_or_driver(tmp_path, no_kernel_log, mode, code, reason):
    smi = fake_smi(tmp_path, mode=mode)
    res = run({"nvidia_smi_path": str(smi)})
    assert not res.failed
    assert res["gpus"] == []
    assert reason in res["reason"]
    res = run({"nvidia_smi_path": str(smi), "required": True})
    assert res.failed
    assert res["error"]["code"] == code
    assert res["error"]["details"]["problems"]


KERNEL_LOG = """\
2026-03-01T10:00:00+0000 gpu1 kernel: NVRM: loading NVIDIA UNIX x86_64 Kernel Module  535.54.03
2026-03-01T10:05:00+0000 gpu1 kernel: NVRM: Xid (PCI:0000:01:00): 31, pid=4242, name=python3, Ch 00000010, \
intr 00000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f12_34560000.
2026-03-01T10:06:00+0000 gpu1 kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=0, name=<unknown>, GPU has fallen off the bus.
2026-03-01T11:00:00+0000 gpu1 kernel: NVRM: Xid (PCI:0000:01:00): 48, pid='<unknown>', name=<unknown>, \
An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 6, subpartition 0.
"""


def test_xid_events_from_journalctl(tmp_path, no_kernel_log):
    # Hand-written kernel log in the documented "NVRM: Xid (PCI:dddd:bb:dd): code, ..." format; see ATTRIBUTION.md.
    log = tmp_path / "kernel.log"
    log.write_text(KERNEL_LOG)
    make_exe(no_kernel_log / "journalctl", f"#!{sys.executable}\nprint(open({str(log)!r}).read(), end='')\n")
    smi = fake_smi(tmp_path, xml=A100_XML)
    res = run({"nvidia_smi_path": str(smi)})
    assert res["xid_source"] == "journalctl"
    events = res["gpus"][0]["xid_events"]
    assert [e["code"] for e in events] == [31, 48]  # the Xid 79 is for another PCI address
    assert events[0]["timestamp"] == "2026-03-01T10:05:00+0000"
    assert events[1]["message"].startswith("pid='<unknown>', name=<unknown>, An uncorrectable double bit error")
    res = run({"nvidia_smi_path": str(smi), "max_xid_events": 1})
    assert [e["code"] for e in res["gpus"][0]["xid_events"]] == [48]


def test_xid_falls_back_to_dmesg(tmp_path, no_kernel_log):
    make_exe(no_kernel_log / "journalctl", "#!/bin/sh\necho 'No journal files were found.' >&2\nexit 1\n")
    make_exe(
        no_kernel_log / "dmesg",
        "#!/bin/sh\n"
        "echo '[ 1399.140323] NVRM: Xid (PCI:0000:01:00): 13, Graphics Exception: ESR 0x404600=0x80000001'\n",
    )
    smi = fake_smi(tmp_path, xml=A100_XML)
    res = run({"nvidia_smi_path": str(smi)})
    assert res["xid_source"] == "dmesg"
    (event,) = res["gpus"][0]["xid_events"]
    assert event["code"] == 13
    assert event["timestamp"] == "1399.140323"


def test_through_ansible_cli(tmp_path):
    """The module as Ansible runs it: collection found on the collections path, JSON result on stdout."""
    smi = fake_smi(tmp_path, xml=RTX4000_XML, csv=L40S_LOAD)
    proc = ansible_cli("gpu_facts", {"nvidia_smi_path": str(smi), "xid_events": False})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "localhost | SUCCESS =>" in proc.stdout
    result = json.loads(proc.stdout.split("=>", 1)[1])
    facts = result["ansible_facts"]["inference_gpus"]
    # two different GPUs (the RTX from XML, the L40S from CSV): UUIDs differ, so two entries
    assert facts["gpu_count"] == 2
    assert sorted(g["name"] for g in facts["gpus"]) == ["NVIDIA L40S", "NVIDIA RTX 4000 SFF Ada Generation"]
    assert os.path.exists(smi)


def test_given_path_that_does_not_exist(tmp_path, no_kernel_log):
    res = run({"nvidia_smi_path": str(tmp_path / "nope" / "nvidia-smi")})
    assert not res.failed
    assert res["reason"] == "nvidia_smi_path %s is not an executable file" % (tmp_path / "nope" / "nvidia-smi")
    res = run({"nvidia_smi_path": str(tmp_path / "nope" / "nvidia-smi"), "required": True})
    assert res.failed
    assert res["error"]["code"] == "nvidia_smi_missing"


def test_examples_expressions_run(tmp_path):
    """The EXAMPLES' Jinja expressions, run by ansible-playbook on the A100 (MIG) + L40S facts."""
    smi = fake_smi(tmp_path, xml=A100_XML, csv=L40S_LOAD)
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - inference.platform.gpu_facts:
        nvidia_smi_path: {smi}
        xid_events: false
    - ansible.builtin.assert:
        that:
          - >-
            ansible_facts.inference_gpus.gpus | map(attribute='ecc.volatile.uncorrected')
            | select('number') | select('gt', 0) | list | length == 0
    - ansible.builtin.debug:
        msg: >-
          count={{{{ ansible_facts.inference_gpus.gpus
             | rejectattr('mig.enabled')
             | selectattr('memory.total_mib', 'ge', 20000) | list | length }}}}
"""
    )
    proc = ansible_playbook(playbook)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert '"msg": "count=1"' in out  # the L40S; the A100 has MIG on
