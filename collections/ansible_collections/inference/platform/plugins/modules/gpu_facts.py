#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_facts
short_description: Gather facts about the NVIDIA GPUs of a host from nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi -q -x) and C(nvidia-smi --query-gpu=... --format=csv) on the target and merges both, GPU by GPU
    (matched by UUID).
  - Reports name, UUID, PCI bus id, memory, driver and CUDA versions, compute capability, persistence mode, MIG mode and
    MIG devices, ECC mode and error counts, temperature, power draw and utilisation.
  - The XML report is the main source (it alone carries the CUDA version and the MIG devices); the CSV query adds the
    compute capability, which the XML report does not carry. If one of the two commands fails the other is used alone
    and
    a warning says so.
  - "Optionally reads the kernel log (C(journalctl -k), else C(dmesg)) for C(NVRM: Xid) events and attaches them to the
    GPU whose PCI address they name."
  - A host without C(nvidia-smi), without a loaded driver or without GPUs is not an error; the module returns an empty
    list and a RV(reason), unless O(required=true).
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
attributes:
  facts:
    support: full
    description: Sets C(ansible_facts.inference_gpus).
options:
  nvidia_smi_path:
    description:
      - Path of the C(nvidia-smi) binary. By default it is looked up on E(PATH) and in C(/usr/bin), C(/usr/local/bin),
        C(/usr/local/nvidia/bin) (where the GPU Operator's driver container exposes it).
      - A path that is not an executable file counts as no C(nvidia-smi) (see O(required)).
    type: path
  required:
    description:
      - Fail when no GPU can be found (no C(nvidia-smi), the driver does not answer, or zero GPUs).
      - Use it on hosts of the C(gpu_nodes) group, where a missing GPU is a fault.
    type: bool
    default: false
  xid_events:
    description:
      - "Read C(NVRM: Xid) lines from the kernel log of the current boot and attach them to each GPU as
        RV(gpus[].xid_events)."
      - Needs C(journalctl) or a C(dmesg) the remote user may read (root, or C(kernel.dmesg_restrict=0)). When neither
        works RV(gpus[].xid_events) is V(null) and RV(xid_source) says why.
    type: bool
    default: true
  max_xid_events:
    description:
      - Keep at most this many of the most recent Xid events per GPU.
    type: int
    default: 20
notes:
  - C(nvidia-smi) values V(N/A), V([N/A]), V([Not Supported]) and similar come back as V(null).
  - Memory figures are in MiB, as C(nvidia-smi) reports them.
  - Tested against real C(nvidia-smi) outputs of an A100-SXM4-80GB with MIG enabled, an RTX 4000 SFF Ada (XML), and an
    H100 80GB HBM3 and an L40S (CSV).
seealso:
  - name: nvidia-smi documentation
    description: The C(--query-gpu) fields and the C(-q) report.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
  - name: NVIDIA Xid errors
    description: What each Xid code means.
    link: https://docs.nvidia.com/deploy/xid-errors/index.html
"""

EXAMPLES = r"""
- name: Gather GPU facts (no GPU is fine)
  inference.platform.gpu_facts:

- name: Every GPU node must show its GPUs
  inference.platform.gpu_facts:
    required: true
  when: inventory_hostname in groups['gpu_nodes']

- name: Refuse a node whose GPUs report uncorrected ECC errors
  ansible.builtin.assert:
    that:
      - >-
        ansible_facts.inference_gpus.gpus | map(attribute='ecc.volatile.uncorrected')
        | select('number') | select('gt', 0) | list | length == 0
    fail_msg: "{{ inventory_hostname }}: a GPU reports uncorrected ECC errors; drain the node and check nvidia-smi -q"

- name: Count GPUs without MIG and with at least 20 GiB
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.inference_gpus.gpus
         | rejectattr('mig.enabled')
         | selectattr('memory.total_mib', 'ge', 20000) | list | length }}
"""

RETURN = r"""
gpus:
  description: One entry per physical GPU, in C(nvidia-smi) index order.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: C(nvidia-smi) index (the order of C(nvidia-smi -L)); V(null) when only the XML report was read.
      type: int
      sample: 0
    name:
      description: Product name.
      type: str
      sample: NVIDIA A100-SXM4-80GB
    uuid:
      description: GPU UUID, as C(CUDA_VISIBLE_DEVICES) and the device plugin use it.
      type: str
      sample: GPU-513536b6-7d19-9063-b049-1e69664bb298
    pci_bus_id:
      description: PCI bus id.
      type: str
      sample: 00000000:01:00.0
    architecture:
      description: Product architecture (XML only).
      type: str
      sample: Ampere
    driver_version:
      description: Driver version.
      type: str
      sample: 535.54.03
    cuda_version:
      description: Highest CUDA version the driver supports (XML only).
      type: str
      sample: "12.2"
    compute_capability:
      description: CUDA compute capability (CSV C(compute_cap) only).
      type: str
      sample: "8.9"
    memory:
      description: Framebuffer memory in MiB.
      type: dict
      sample: {total_mib: 81920, used_mib: 50, free_mib: 80999, reserved_mib: 869}
    persistence_mode:
      description: Whether persistence mode is enabled.
      type: bool
      sample: false
    mig:
      description:
        - MIG state. V(enabled) is V(true) only when the current mode is C(Enabled).
        - V(instances) lists the MIG devices of the XML report (empty when MIG is off or only the CSV was read).
      type: dict
      sample:
        current: Enabled
        pending: Enabled
        enabled: true
        instances:
          - {index: 0, gpu_instance_id: 3, compute_instance_id: 0, multiprocessor_count: 14, memory_total_mib: 19968,
            memory_used_mib: 12}
    ecc:
      description:
        - ECC mode and error counts. V(volatile) counts since the last driver load, V(aggregate) over the GPU's life.
        - Counts are the sums of every correctable / uncorrectable counter nvidia-smi reports, V(null) when none is
          supported.
      type: dict
      sample:
        mode: Enabled
        pending_mode: Enabled
        volatile: {corrected: 0, uncorrected: 0}
        aggregate: {corrected: 0, uncorrected: 0}
    temperature_c:
      description: GPU temperature in degrees Celsius.
      type: float
      sample: 27
    power_draw_w:
      description: Power draw in watts.
      type: float
      sample: 67.03
    utilization_gpu_pct:
      description: GPU utilisation in percent.
      type: float
      sample: 9
    processes:
      description: Processes using the GPU (XML only; C(G) graphics, C(C) compute).
      type: list
      elements: dict
      sample: [{pid: 4937, type: C, name: python, used_memory_mib: 160}]
    xid_events:
      description:
        - The most recent O(max_xid_events) Xid events from the kernel log for this GPU, oldest first.
        - V(null) when O(xid_events=false) or the kernel log could not be read.
      type: list
      elements: dict
      sample: [{code: 79, message: "pid=0, GPU has fallen off the bus.", timestamp: "2026-01-02T03:04:05+0000", raw:
        "..."}]
    sources:
      description: Which nvidia-smi outputs this entry came from.
      type: list
      elements: str
      sample: [xml, csv]
gpu_count:
  description: Number of GPUs found.
  returned: always
  type: int
  sample: 1
driver_version:
  description: Driver version, V(null) without GPUs.
  returned: always
  type: str
  sample: "595.84"
cuda_version:
  description: CUDA version the driver supports, V(null) when the XML report was not read.
  returned: always
  type: str
  sample: "13.2"
reason:
  description: Why RV(gpus) is empty (no nvidia-smi, driver not loaded, no devices); V(null) when GPUs were found.
  returned: always
  type: str
  sample: nvidia-smi not found on PATH or in /usr/bin, /usr/local/bin, /usr/local/nvidia/bin
xid_source:
  description: Where Xid events were read from (V(journalctl), V(dmesg)), or why they were not.
  returned: always
  type: str
  sample: journalctl
ansible_facts:
  description: The same data under C(inference_gpus), for later plays.
  returned: always
  type: dict
  contains:
    inference_gpus:
      description: Dictionary with the keys RV(gpus), RV(gpu_count), RV(driver_version), RV(cuda_version), RV(reason).
      type: dict
"""

import csv
import os
import re
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.inference.platform.plugins.module_utils._api import InferenceModule

# Fields asked from nvidia-smi --query-gpu. Every one of them exists in the captures of driver 590 and 595
# (H100, L40S); drivers older than ~510 lack compute_cap, so a failed query falls back to the XML report alone.
CSV_FIELDS = (
    "index",
    "name",
    "uuid",
    "pci.bus_id",
    "driver_version",
    "memory.total",
    "memory.used",
    "memory.free",
    "memory.reserved",
    "compute_cap",
    "persistence_mode",
    "mig.mode.current",
    "mig.mode.pending",
    "ecc.mode.current",
    "ecc.mode.pending",
    "ecc.errors.corrected.volatile.total",
    "ecc.errors.uncorrected.volatile.total",
    "ecc.errors.corrected.aggregate.total",
    "ecc.errors.uncorrected.aggregate.total",
    "temperature.gpu",
    "power.draw",
    "utilization.gpu",
)

SEARCH_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin"]

_UNIT_RE = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(?:MiB|KiB|GiB|W|C|%|MHz|us|KB/s)?\s*$")
_HEADER_UNIT_RE = re.compile(r"\s*\[[^\]]*\]\s*$")
XID_RE = re.compile(
    r"NVRM: Xid \(PCI:(?P<domain>[0-9a-fA-F]+):(?P<bus>[0-9a-fA-F]+):(?P<device>[0-9a-fA-F]+)(?:\.[0-9a-fA-F]+)?\):"
    r"\s*(?P<code>[0-9]+)\s*,?\s*(?P<message>.*)$"
)
_TS_RE = re.compile(r"^(?P<ts>\S+)\s+\S+\s+kernel:\s")
_DMESG_TS_RE = re.compile(r"^\[\s*(?P<ts>[0-9.]+)\]\s")


def missing(value):
    """True for the ways nvidia-smi says "no value"."""
    if value is None:
        return True
    value = value.strip()
    if not value:
        return True
    inner = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    return inner in ("N/A", "Not Supported", "Unknown Error", "Insufficient Permissions", "None") or inner.startswith(
        "Requested functionality has been deprecated"
    )


def text(value):
    return None if missing(value) else value.strip()


def number(value):
    """'81920 MiB' -> 81920, '67.03 W' -> 67.03, 'N/A' -> None."""
    if missing(value):
        return None
    match = _UNIT_RE.match(value)
    if not match:
        return None
    num = float(match.group(1))
    return int(num) if num.is_integer() and "." not in match.group(1) else num


def enabled(value):
    value = text(value)
    if value is None:
        return None
    return value.lower() in ("enabled", "yes", "true")


def pci_key(bus_id):
    """'00000000:01:00.0' or '0000:01:00' -> (0, 1, 0)."""
    if not bus_id:
        return None
    parts = bus_id.split(".")[0].split(":")
    if len(parts) != 3:
        return None
    try:
        return tuple(int(p, 16) for p in parts)
    except ValueError:
        return None


def _find_text(elem, path):
    if elem is None:
        return None
    found = elem.find(path)
    return None if found is None else found.text


def _sum_counters(elem, kind):
    """Sum the correctable ('corr') or uncorrectable ('uncorr') counters directly under elem."""
    if elem is None:
        return None
    total = None
    for child in elem:
        tag = child.tag.lower()
        is_uncorr = "uncorrectable" in tag
        is_corr = "correctable" in tag and not is_uncorr
        if (kind == "corr" and is_corr) or (kind == "uncorr" and is_uncorr):
            value = number(child.text)
            if isinstance(value, (int, float)):
                total = (total or 0) + value
    return total


def new_gpu():
    return {
        "index": None,
        "name": None,
        "uuid": None,
        "pci_bus_id": None,
        "architecture": None,
        "driver_version": None,
        "cuda_version": None,
        "compute_capability": None,
        "memory": {"total_mib": None, "used_mib": None, "free_mib": None, "reserved_mib": None},
        "persistence_mode": None,
        "mig": {"current": None, "pending": None, "enabled": False, "instances": []},
        "ecc": {
            "mode": None,
            "pending_mode": None,
            "volatile": {"corrected": None, "uncorrected": None},
            "aggregate": {"corrected": None, "uncorrected": None},
        },
        "temperature_c": None,
        "power_draw_w": None,
        "utilization_gpu_pct": None,
        "processes": [],
        "xid_events": None,
        "sources": [],
    }


def parse_xml(data):
    """Parse `nvidia-smi -q -x` output. Returns (gpus, driver_version, cuda_version)."""
    # The text comes from the local nvidia-smi binary, not from a network peer.
    root = ET.fromstring(data)  # noqa: S314
    driver = text(_find_text(root, "driver_version"))
    cuda = text(_find_text(root, "cuda_version"))
    gpus = []
    for g in root.findall("gpu"):
        gpu = new_gpu()
        gpu["sources"].append("xml")
        gpu["name"] = text(_find_text(g, "product_name"))
        gpu["uuid"] = text(_find_text(g, "uuid"))
        gpu["pci_bus_id"] = text(g.get("id")) or text(_find_text(g, "pci/pci_bus_id"))
        gpu["architecture"] = text(_find_text(g, "product_architecture"))
        gpu["driver_version"] = driver
        gpu["cuda_version"] = cuda
        gpu["persistence_mode"] = enabled(_find_text(g, "persistence_mode"))
        fb = g.find("fb_memory_usage")
        gpu["memory"] = {
            "total_mib": number(_find_text(fb, "total")),
            "used_mib": number(_find_text(fb, "used")),
            "free_mib": number(_find_text(fb, "free")),
            "reserved_mib": number(_find_text(fb, "reserved")),
        }
        mig = gpu["mig"]
        mig["current"] = text(_find_text(g, "mig_mode/current_mig"))
        mig["pending"] = text(_find_text(g, "mig_mode/pending_mig"))
        mig["enabled"] = mig["current"] == "Enabled"
        for dev in g.findall("mig_devices/mig_device"):
            mig["instances"].append(
                {
                    "index": number(_find_text(dev, "index")),
                    "gpu_instance_id": number(_find_text(dev, "gpu_instance_id")),
                    "compute_instance_id": number(_find_text(dev, "compute_instance_id")),
                    "multiprocessor_count": number(_find_text(dev, "device_attributes/shared/multiprocessor_count")),
                    "memory_total_mib": number(_find_text(dev, "fb_memory_usage/total")),
                    "memory_used_mib": number(_find_text(dev, "fb_memory_usage/used")),
                    "ecc_volatile_uncorrected": _sum_counters(dev.find("ecc_error_count/volatile_count"), "uncorr"),
                }
            )
        ecc = gpu["ecc"]
        ecc["mode"] = text(_find_text(g, "ecc_mode/current_ecc"))
        ecc["pending_mode"] = text(_find_text(g, "ecc_mode/pending_ecc"))
        for period in ("volatile", "aggregate"):
            elem = g.find("ecc_errors/" + period)
            ecc[period] = {"corrected": _sum_counters(elem, "corr"), "uncorrected": _sum_counters(elem, "uncorr")}
        gpu["temperature_c"] = number(_find_text(g, "temperature/gpu_temp"))
        for tag in ("power_draw", "average_power_draw", "instant_power_draw"):
            gpu["power_draw_w"] = number(_find_text(g, "gpu_power_readings/" + tag))
            if gpu["power_draw_w"] is not None:
                break
        gpu["utilization_gpu_pct"] = number(_find_text(g, "utilization/gpu_util"))
        for proc in g.findall("processes/process_info"):
            gpu["processes"].append(
                {
                    "pid": number(_find_text(proc, "pid")),
                    "type": text(_find_text(proc, "type")),
                    "name": text(_find_text(proc, "process_name")),
                    "used_memory_mib": number(_find_text(proc, "used_memory")),
                    "gpu_instance_id": number(_find_text(proc, "gpu_instance_id")),
                }
            )
        gpus.append(gpu)
    return gpus, driver, cuda


def parse_csv(data):
    """Parse `nvidia-smi --query-gpu=... --format=csv` output (header with units). Returns a list of dicts by field."""
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        return []
    reader = csv.reader(lines, skipinitialspace=True)
    header = [_HEADER_UNIT_RE.sub("", h.strip()) for h in next(reader)]
    rows = []
    for values in reader:
        if len(values) != len(header):
            raise ValueError("nvidia-smi CSV row has %d values for %d columns: %r" % (len(values), len(header), values))
        rows.append(dict(zip(header, [v.strip() for v in values])))  # noqa: B905 - lengths checked above
    return rows


def gpu_from_csv(row, gpu=None):
    """Fill a GPU entry (a new one, or the XML one for the same UUID) from a CSV row. XML values win."""
    gpu = gpu or new_gpu()
    gpu["sources"].append("csv")

    def put(target, key, value):
        if target.get(key) is None and value is not None:
            target[key] = value

    put(gpu, "index", number(row.get("index")))
    put(gpu, "name", text(row.get("name")))
    put(gpu, "uuid", text(row.get("uuid")))
    put(gpu, "pci_bus_id", text(row.get("pci.bus_id")))
    put(gpu, "driver_version", text(row.get("driver_version")))
    put(gpu, "compute_capability", text(row.get("compute_cap")))
    put(gpu, "persistence_mode", enabled(row.get("persistence_mode")))
    for key, field in (
        ("total_mib", "total"),
        ("used_mib", "used"),
        ("free_mib", "free"),
        ("reserved_mib", "reserved"),
    ):
        put(gpu["memory"], key, number(row.get("memory." + field)))
    mig = gpu["mig"]
    put(mig, "current", text(row.get("mig.mode.current")))
    put(mig, "pending", text(row.get("mig.mode.pending")))
    mig["enabled"] = mig["current"] == "Enabled"
    ecc = gpu["ecc"]
    put(ecc, "mode", text(row.get("ecc.mode.current")))
    put(ecc, "pending_mode", text(row.get("ecc.mode.pending")))
    for period in ("volatile", "aggregate"):
        put(ecc[period], "corrected", number(row.get("ecc.errors.corrected.%s.total" % period)))
        put(ecc[period], "uncorrected", number(row.get("ecc.errors.uncorrected.%s.total" % period)))
    put(gpu, "temperature_c", number(row.get("temperature.gpu")))
    put(gpu, "power_draw_w", number(row.get("power.draw")))
    put(gpu, "utilization_gpu_pct", number(row.get("utilization.gpu")))
    return gpu


def merge(xml_gpus, csv_rows):
    """Merge XML entries and CSV rows by UUID (then by PCI bus id); keep CSV-only GPUs too."""
    merged = list(xml_gpus)
    for row in csv_rows:
        uuid = text(row.get("uuid"))
        pci = pci_key(text(row.get("pci.bus_id")))
        target = None
        for gpu in merged:
            if (uuid and gpu["uuid"] == uuid) or (not uuid and pci and pci_key(gpu["pci_bus_id"]) == pci):
                target = gpu
                break
        if target is None:
            merged.append(gpu_from_csv(row))
        else:
            gpu_from_csv(row, target)
    if any(g["index"] is not None for g in merged):
        merged.sort(key=lambda g: (g["index"] is None, g["index"] or 0))
    return merged


def parse_xid_log(data):
    """Extract Xid events from kernel log text (journalctl short-iso or dmesg). Returns a list of dicts."""
    events = []
    for line in data.splitlines():
        match = XID_RE.search(line)
        if not match:
            continue
        ts = _TS_RE.match(line) or _DMESG_TS_RE.match(line)
        events.append(
            {
                "pci": (int(match.group("domain"), 16), int(match.group("bus"), 16), int(match.group("device"), 16)),
                "code": int(match.group("code")),
                "message": match.group("message").strip(),
                "timestamp": ts.group("ts") if ts else None,
                "raw": line.strip(),
            }
        )
    return events


class GpuFacts(InferenceModule):
    def run_smi(self, smi, args):
        rc, out, err = self.module.run_command([smi, *args])
        return rc, to_text(out), to_text(err)

    def find_smi(self):
        path = self.module.params["nvidia_smi_path"]
        if path:
            return path
        return self.module.get_bin_path("nvidia-smi", required=False, opt_dirs=SEARCH_DIRS)

    def none_found(self, reason, code, details=None):
        if self.module.params["required"]:
            self.fail("no GPU found and required=true: %s" % reason, code, details)
        self.finish([], None, None, reason, "not read: no GPU")

    def read_xid(self):
        attempts = []
        journalctl = self.module.get_bin_path("journalctl", required=False)
        if journalctl:
            rc, out, err = self.module.run_command([journalctl, "-k", "-b", "-q", "--no-pager", "-o", "short-iso"])
            if rc == 0:
                return parse_xid_log(to_text(out)), "journalctl"
            attempts.append("journalctl rc=%s: %s" % (rc, to_text(err).strip()[:200]))
        dmesg = self.module.get_bin_path("dmesg", required=False)
        if dmesg:
            rc, out, err = self.module.run_command([dmesg])
            if rc == 0:
                return parse_xid_log(to_text(out)), "dmesg"
            attempts.append("dmesg rc=%s: %s" % (rc, to_text(err).strip()[:200]))
        if not attempts:
            attempts.append("neither journalctl nor dmesg found")
        return None, "unavailable (%s)" % "; ".join(attempts)

    def finish(self, gpus, driver, cuda, reason, xid_source):
        facts = {
            "gpus": gpus,
            "gpu_count": len(gpus),
            "driver_version": driver,
            "cuda_version": cuda,
            "reason": reason,
        }
        self.exit(xid_source=xid_source, ansible_facts={"inference_gpus": facts}, **facts)

    def run(self):
        params = self.module.params
        smi = self.find_smi()
        if not smi:
            return self.none_found(
                "nvidia-smi not found on PATH or in %s" % ", ".join(SEARCH_DIRS), "nvidia_smi_missing"
            )
        if not os.access(smi, os.X_OK):
            return self.none_found("nvidia_smi_path %s is not an executable file" % smi, "nvidia_smi_missing")

        xml_gpus, driver, cuda, problems = [], None, None, []
        rc, out, err = self.run_smi(smi, ["-q", "-x"])
        xml_ok = rc == 0
        if xml_ok:
            try:
                xml_gpus, driver, cuda = parse_xml(out)
            except ET.ParseError as exc:
                xml_ok = False
                problems.append("nvidia-smi -q -x printed XML that does not parse: %s" % exc)
        else:
            problems.append("nvidia-smi -q -x exited %s: %s" % (rc, (err or out).strip()[:300]))

        rc_csv, out_csv, err_csv = self.run_smi(smi, ["--query-gpu=" + ",".join(CSV_FIELDS), "--format=csv"])
        csv_rows = []
        csv_ok = rc_csv == 0
        if csv_ok:
            try:
                csv_rows = parse_csv(out_csv)
            except (ValueError, csv.Error) as exc:
                csv_ok = False
                problems.append("nvidia-smi --query-gpu printed CSV that does not parse: %s" % exc)
        else:
            problems.append("nvidia-smi --query-gpu exited %s: %s" % (rc_csv, (err_csv or out_csv).strip()[:300]))

        if not xml_ok and not csv_ok:
            combined = " ".join(problems)
            if "No devices were found" in combined:
                return self.none_found("nvidia-smi reports no devices", "no_devices", {"problems": problems})
            if "couldn't communicate with the NVIDIA driver" in combined or "Failed to initialize NVML" in combined:
                return self.none_found(
                    "nvidia-smi cannot talk to the NVIDIA driver (not installed, not loaded, or a version mismatch)",
                    "driver_not_loaded",
                    {"problems": problems},
                )
            if params["required"]:
                self.fail("nvidia-smi failed: %s" % combined, "nvidia_smi_failed", {"problems": problems})
            return self.none_found("nvidia-smi failed: %s" % combined, "nvidia_smi_failed", {"problems": problems})

        for problem in problems:
            self.module.warn(problem + "; using the other nvidia-smi output alone")

        gpus = merge(xml_gpus, csv_rows)
        if not gpus:
            return self.none_found("nvidia-smi reports no devices", "no_devices")
        driver = driver or gpus[0]["driver_version"]

        xid_source = "not read (xid_events=false)"
        if params["xid_events"]:
            events, xid_source = self.read_xid()
            for gpu in gpus:
                if events is None:
                    gpu["xid_events"] = None
                    continue
                key = pci_key(gpu["pci_bus_id"])
                mine = [{k: v for k, v in e.items() if k != "pci"} for e in events if e["pci"] == key]
                gpu["xid_events"] = mine[-params["max_xid_events"] :] if params["max_xid_events"] > 0 else []
        self.finish(gpus, driver, cuda, None, xid_source)


def main():
    module = AnsibleModule(
        argument_spec={
            "nvidia_smi_path": {"type": "path"},
            "required": {"type": "bool", "default": False},
            "xid_events": {"type": "bool", "default": True},
            "max_xid_events": {"type": "int", "default": 20},
        },
        supports_check_mode=True,
    )
    GpuFacts(module).run()


if __name__ == "__main__":
    main()
