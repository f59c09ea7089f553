# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Weigh one host against the cluster and the model list: roles/preflight reads the host (facts, files, command
output, changing nothing) and hands what it read to preflight_problems, which returns every problem with what to
do. Documentation: the sidecar file preflight_problems.yml.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.compat.version import LooseVersion
from ansible_collections.inference.platform.plugins.filter.model_list import (
    model_list_resources,
    model_memory_problems,
)
from ansible_collections.inference.platform.plugins.module_utils._rules import as_bool

# The container runtime each distribution brings when it is not a host package: k3s bundles its own containerd.
BUNDLED_RUNTIME = {"k3s": "the containerd k3s bundles"}


def _os_problem(host, facts, supported):
    versions = [str(version) for version in supported.get(facts.get("distribution"), [])]
    if facts.get("distribution_version") in versions or facts.get("distribution_major_version") in versions:
        return None
    listed = ", ".join("%s %s" % (name, "/".join(str(v) for v in values)) for name, values in supported.items())
    return "%s: %s %s is not supported; install one of %s (preflight_supported_os)." % (
        host, facts.get("distribution"), facts.get("distribution_version"), listed)


def _kernel(facts):
    match = re.match(r"^[0-9]+(\.[0-9]+)*", str(facts.get("kernel", "")))
    return match.group(0) if match else "0"


def _cgroup_problem(host, cgroup, allow_v1, errors, notes):
    """Kubernetes 1.35's kubelet refuses cgroup v1 unless failCgroupV1 is false (KEP-5573)."""
    version = cgroup.get("version")
    if version == "v2":
        return "cgroup v2"
    if version not in ("v1", "hybrid"):
        notes.append("%s: the cgroup version could not be read (%s); kubelet needs cgroup v2." % (
            host, cgroup.get("detail") or "no answer"))
        return "cgroup unknown"
    described = "cgroup v1" if version == "v1" else "cgroup v1 with the v2 hierarchy beside it (hybrid)"
    if allow_v1:
        notes.append(
            "%s: %s; cluster_allow_cgroup_v1 is true, so kubelet is told failCgroupV1: false. cgroup v1 is in "
            "maintenance upstream and will be removed: boot with systemd.unified_cgroup_hierarchy=1 when you can."
            % (host, described))
    else:
        errors.append(
            "%s: the host runs %s, and the pinned Kubernetes' kubelet refuses to start on cgroup v1 (failCgroupV1, "
            "KEP-5573). Boot with cgroup v2: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in "
            "/etc/default/grub, run update-grub and reboot (Ubuntu 22.04+ and Debian 12 default to v2). Only if "
            "that is impossible, set cluster_allow_cgroup_v1: true in the inventory's group_vars/all (kubelet then "
            "runs with failCgroupV1: false, warned about on every run)." % (host, described))
    return described


def _runtime_problem(host, settings, runtime, errors):
    distribution = settings.get("cluster_distribution")
    if distribution in BUNDLED_RUNTIME or not runtime:
        return BUNDLED_RUNTIME.get(distribution, "not checked")
    version, source = runtime.get("version"), runtime.get("source", "the host's package")
    minimum = str(settings.get("preflight_containerd_min_version", "2.0"))
    if not version:
        errors.append(
            "%s: no containerd is installed, and %s has no version in the host's package lists, but "
            "cluster_distribution %s runs the host's containerd; run apt-get update if the lists are empty, or make "
            "a containerd >= %s available (your package mirror, or the kubeadm role's local artifacts)."
            % (host, source, distribution, minimum))
        return "none"
    plain = re.sub(r"^[0-9]+:", "", str(version)).split("-")[0].split("~")[0]
    if LooseVersion(plain) < LooseVersion(minimum):
        errors.append(
            "%s: the container runtime would be containerd %s (%s), older than %s "
            "(preflight_containerd_min_version): containerd 1.6 is end of life upstream since 2025-08-23 and 1.7 "
            "since 2026-09, and Kubernetes 1.35 is the last release that runs containerd 1.x at all. Install "
            "containerd %s or newer: the kubeadm role's local artifacts (kubeadm_install_source: local), or a "
            "containerd 2.x package from your mirror in kubeadm_containerd_package."
            % (host, version, source, minimum, minimum))
    return "containerd %s" % version


def preflight_problems(observed, settings):
    """Every problem of one host: {'errors': [...], 'notes': [...], 'summary': '...'}."""
    if not isinstance(observed, dict) or not isinstance(settings, dict):
        raise AnsibleFilterError("preflight_problems expects the observed host and the settings as mappings")
    errors, notes = [], []
    host = observed["host"]
    facts = observed["facts"]
    is_gpu, is_server = observed["is_gpu"], observed["is_server"]
    gpu_check = as_bool(settings["preflight_gpu_check"])[1]
    models = settings.get("inference_models") or []
    needs = model_list_resources(models, settings["preflight_model_cache_size_default"])

    # Sizing: base needs, plus the largest replica's GPUs on a GPU node, plus the model caches on its disk.
    replica_gpus = needs["max_gpus_per_replica"] if (is_gpu and gpu_check) else 0
    cache_on_disk = as_bool(settings["preflight_model_cache_on_node_disk"])[1]
    cache_gib = needs["total_cache_gib"] if (is_gpu and cache_on_disk) else 0
    need_cpus = settings["preflight_min_cpus"] + settings["preflight_cpus_per_gpu"] * replica_gpus
    need_memory = settings["preflight_min_memory_gib"] + settings["preflight_memory_gib_per_gpu"] * replica_gpus
    need_disk = settings["preflight_min_disk_gib"] + cache_gib
    cpus = int(facts.get("processor_vcpus") or facts.get("processor_count") or 0)
    memory = round(facts["memtotal_mb"] / 1024, 1)
    disk = round(int(observed["disk_avail_bytes"]) / 1024 ** 3, 1)
    per_gpu = (" + %s x " + str(replica_gpus) + " GPU(s) of the largest replica") if replica_gpus else ""

    problem = _os_problem(host, facts, settings["preflight_supported_os"])
    if problem:
        errors.append(problem)
    minimum_kernel = str(settings["preflight_kernel_min_version"])
    if LooseVersion(_kernel(facts)) < LooseVersion(minimum_kernel):
        errors.append(
            "%s: kernel %s is older than %s (preflight_kernel_min_version); install the distribution's current "
            "kernel (e.g. linux-generic-hwe on Ubuntu) and reboot." % (host, facts.get("kernel"), minimum_kernel))
    cgroup = _cgroup_problem(host, observed.get("cgroup") or {},
                             as_bool(settings.get("cluster_allow_cgroup_v1", False))[1], errors, notes)
    runtime = _runtime_problem(host, settings, observed.get("runtime"), errors)

    if cpus < need_cpus:
        errors.append("%s: %s CPU(s), needs %s (preflight_min_cpus%s); use a host with more CPUs, or a model with "
                      "fewer GPUs per replica."
                      % (host, cpus, need_cpus, per_gpu.replace("%s", "preflight_cpus_per_gpu")))
    if memory < need_memory:
        errors.append(
            "%s: %s GiB of memory, needs %s GiB (preflight_min_memory_gib%s); use a host with more memory, or a "
            "model with fewer GPUs per replica, or lower the threshold if you have measured less is enough."
            % (host, memory, need_memory, per_gpu.replace("%s", "preflight_memory_gib_per_gpu")))
    if disk < need_disk:
        disk_path = settings["preflight_disk_path"]
        cache_text = (" + %s GiB of model caches: cache_size of every model, or preflight_model_cache_size_default"
                      % cache_gib) if cache_gib else ""
        network_text = (", or put the model caches on network storage (preflight_model_cache_on_node_disk: false)"
                        if cache_gib else "")
        errors.append("%s: %s GiB free on %s, needs %s GiB (preflight_min_disk_gib %s%s); free or add disk under "
                      "%s%s." % (host, disk, disk_path, need_disk, settings["preflight_min_disk_gib"], cache_text,
                                 disk_path, network_text))

    gpu_count = _gpu_checks(host, observed, settings, needs, is_gpu, gpu_check, models, errors, notes)
    secure_boot = _secure_boot(host, observed, settings, is_gpu, errors, notes)
    _host_driver(host, observed, settings, errors, notes)
    ntp_state = _time(host, observed, settings, errors, notes)
    wanted = _ports(host, facts, settings, is_server, errors)

    summary = (
        "%s: %s %s, kernel %s, %s, runtime %s, %s CPU(s) (needs %s), %s GiB memory (needs %s), %s GiB free on %s "
        "(needs %s), NVIDIA GPUs: %s, Secure Boot %s, clock %s, %s cluster port rule(s) free."
        % (host, facts.get("distribution"), facts.get("distribution_version"), facts.get("kernel"), cgroup, runtime,
           cpus, need_cpus, memory, need_memory, disk, settings["preflight_disk_path"], need_disk,
           gpu_count if gpu_count is not None else "not checked", secure_boot, ntp_state, wanted))
    return {"errors": errors, "notes": notes, "summary": summary}


def _gpu_checks(host, observed, settings, needs, is_gpu, gpu_check, models, errors, notes):
    group = settings["preflight_gpu_group"]
    if not gpu_check:
        if is_gpu:
            notes.append("%s: GPU check skipped (preflight_gpu_check: false): %s GPU sizing (CPUs and memory per GPU) "
                         "is skipped with it; nothing here proves this host can run a model."
                         % (host, settings["preflight_gpu_check_skip_reason"]))
        return None
    gpu_count = None
    memory_gib = None
    if settings["preflight_gpu_source"] == "lspci":
        lspci = observed.get("lspci") or {}
        if lspci.get("rc", 1) != 0:
            if is_gpu:
                reason = lspci.get("msg") or lspci.get("stderr") or "rc %s" % lspci.get("rc")
                errors.append("%s: lspci did not run (%s), so its GPUs cannot be counted; install pciutils "
                              "(apt-get install pciutils) and run the prepare stage again." % (host, reason))
        else:
            gpu_count = len([line for line in lspci.get("stdout_lines", []) if re.search(" 030[02]: ", line)])
    else:
        gpus = (observed.get("gpu_facts") or {}).get("gpus") or []
        gpu_count = len(gpus)
        totals = [gpu.get("memory", {}).get("total_mib") for gpu in gpus]
        totals = [total for total in totals if isinstance(total, (int, float))]
        memory_gib = round(min(totals) / 1024, 2) if totals else None
    if gpu_count is not None and is_gpu:
        if gpu_count == 0:
            how = ("lspci -n -d 10de: lists no display or 3D controller" if settings["preflight_gpu_source"] == "lspci"
                   else "gpu_facts found none: %s" % ((observed.get("gpu_facts") or {}).get("reason") or "no answer"))
            errors.append("%s is in %s but shows no NVIDIA GPU (%s); check the hardware (lspci -nn | grep -i nvidia), "
                          "or remove the host from %s." % (host, group, how, group))
        elif gpu_count < needs["max_gpus_per_replica"]:
            errors.append("%s has %s NVIDIA GPU(s), but the largest replica needs %s on one node (gpus of a model in "
                          "inference_models); add GPUs, or lower gpus/tensor_parallel of that model."
                          % (host, gpu_count, needs["max_gpus_per_replica"]))
        if memory_gib is not None:
            fit = model_memory_problems(models, {host: {"gpu_memory_gib": memory_gib, "gpu_count": gpu_count}},
                                        source="measured by gpu_facts")
            errors.extend(fit["errors"])
    elif gpu_count and not is_gpu:
        notes.append("%s has %s NVIDIA GPU(s) but is not in %s: no model will run on them until it is added."
                     % (host, gpu_count, group))
    return gpu_count


def _secure_boot(host, observed, settings, is_gpu, errors, notes):
    mokutil = observed.get("mokutil") or {}
    efivar = observed.get("efivar") or {}
    if not observed.get("efi"):
        state = "off (legacy BIOS boot)"
    elif mokutil.get("rc") == 0 and "enabled" in mokutil.get("stdout", ""):
        state = "on"
    elif mokutil.get("rc") == 0 and "disabled" in mokutil.get("stdout", ""):
        state = "off"
    elif efivar.get("rc", 1) == 0 and (efivar.get("stdout", "").split() or [""])[-1] in ("0", "1"):
        state = "on" if efivar["stdout"].split()[-1] == "1" else "off"
    else:
        state = "unknown"
    strategy = settings["nvidia_driver_strategy"]
    if is_gpu and state == "on":
        if strategy == "host" and not as_bool(settings["preflight_secure_boot_signed_modules"])[1]:
            errors.append(
                "%s: Secure Boot is on and nvidia_driver_strategy is host: the firmware refuses unsigned NVIDIA kernel "
                "modules (DKMS builds), so the driver would not load. Disable Secure Boot in the firmware, or enroll a "
                "MOK and sign the modules and set preflight_secure_boot_signed_modules: true, or use "
                "nvidia_driver_strategy: operator with signed precompiled drivers." % host)
        elif strategy == "operator":
            notes.append("%s: Secure Boot is on: the GPU Operator's driver container must load signed modules "
                         "(precompiled signed drivers); a compiled driver will not load." % host)
    elif is_gpu and state == "unknown":
        notes.append("%s: the Secure Boot state could not be read (no mokutil, no SecureBoot EFI variable); check it "
                     "with mokutil --sb-state." % host)
    return state


def _host_driver(host, observed, settings, errors, notes):
    pattern = re.compile(settings["preflight_nvidia_driver_package_pattern"])
    installed = [line.split()[-1] for line in observed.get("dpkg_lines", []) if line.startswith("ii ")]
    packages = [name for name in installed if pattern.match(name)]
    module = observed.get("nvidia_module")
    if not (module or packages):
        return
    found = (["the nvidia kernel module is loaded"] if module else []) + (
        ["packages %s are installed" % ", ".join(packages)] if packages else [])
    if settings["nvidia_driver_strategy"] == "operator":
        errors.append(
            "%s: %s, but nvidia_driver_strategy is operator: the GPU Operator's driver container cannot load its "
            "driver beside a host driver. Remove the host driver (apt-get purge %s, then reboot), or set "
            "nvidia_driver_strategy: host to keep it." % (host, " and ".join(found),
                                                          " ".join(packages) or "the NVIDIA packages"))
    else:
        notes.append("%s: host NVIDIA driver present (%s), as nvidia_driver_strategy host expects."
                     % (host, " and ".join(found)))


def _time(host, observed, settings, errors, notes):
    skew = int(observed.get("clock_skew", 0))
    if skew > settings["preflight_max_clock_skew_seconds"]:
        errors.append(
            "%s: its clock is %s s away from the controller's (more than preflight_max_clock_skew_seconds %s); "
            "certificates and etcd need close clocks. Set the time (timedatectl set-ntp true, or chronyc makestep) "
            "and run again." % (host, skew, settings["preflight_max_clock_skew_seconds"]))
    timedatectl = observed.get("timedatectl") or {}
    ntp = dict(line.split("=", 1) for line in timedatectl.get("stdout_lines", []) if "=" in line)
    if timedatectl.get("rc", 1) != 0:
        state = "unknown (timedatectl unavailable)"
    else:
        state = "synchronised" if ntp.get("NTPSynchronized", "no") == "yes" else "not synchronised"
    if state != "synchronised":
        if as_bool(settings["preflight_require_time_sync"])[1]:
            errors.append(
                "%s: the clock is %s (timedatectl show) and preflight_require_time_sync is true; enable NTP (the "
                "prepare stage's host_prep sets up systemd-timesyncd or chrony) and wait for it to synchronise."
                % (host, state))
        else:
            notes.append("%s: the clock is %s (NTP %s); host_prep sets up time sync next."
                         % (host, state, ntp.get("NTP", "?")))
    return state


def _ports(host, facts, settings, is_server, errors):
    scopes = ["all"] + (["servers"] if is_server else [])
    wanted = [rule for rule in settings["cluster_ports"][settings["cluster_distribution"]]
              if rule["proto"] in ("tcp", "udp") and rule["hosts"] in scopes]
    allowed = settings["preflight_port_owners_allowed"]
    for rule in wanted:
        bounds = str(rule["port"]).split("-")
        low, high = int(bounds[0]), int(bounds[-1])
        for listener in facts.get(rule["proto"] + "_listen", []) or []:
            if low <= int(listener["port"]) <= high and listener.get("name") not in allowed:
                errors.append(
                    "%s: port %s/%s (%s) is taken by %s (pid %s) on %s; stop or move that service, the cluster needs "
                    "the port (cluster_ports in group_vars/all)."
                    % (host, listener["port"], rule["proto"], rule["purpose"], listener.get("name"),
                       listener.get("pid"), listener.get("address")))
    return len(wanted)


class FilterModule:
    """The preflight filter of inference.platform."""

    def filters(self):
        return {"preflight_problems": preflight_problems}
