# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters that check the model list (inference_models, inference_tenants) and size what it needs.

One implementation of the model-list rules, reused by roles/validate_inventory (before any host is
touched), roles/preflight (host sizing) and any platform role that wants the same answers.
Documentation of each filter: the sidecar files model_list_errors.yml and model_list_resources.yml.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?$")
DURATION = re.compile(r"^[0-9]+[smhd]$")

# The keys of a model entry (docs/architecture.md, "The model list"), and which may be left out.
MODEL_REQUIRED_KEYS = (
    "name",
    "hf_id",
    "revision",
    "gpus",
    "tensor_parallel",
    "max_model_len",
    "gpu_memory_utilization",
    "replicas",
    "autoscale",
)
# cache_size: size of the model's cache volume (roles/vllm); hf_token_required: the weights are gated
# on Hugging Face, so the platform needs a token (roles/validate_inventory checks it is set).
MODEL_OPTIONAL_KEYS = ("quantization", "extra_args", "cache_size", "hf_token_required")
AUTOSCALE_KEYS = ("queue_threshold", "cooldown_seconds", "scale_to_zero")
TENANT_REQUIRED_KEYS = ("name", "models")
TENANT_OPTIONAL_KEYS = ("max_budget_usd", "budget_duration", "rpm_limit", "tpm_limit")
# vLLM flags whose product with tensor_parallel is the number of GPUs one replica uses.
PARALLEL_FLAGS = ("--pipeline-parallel-size", "--data-parallel-size")

SIZE_FACTORS_GIB = {
    None: 1.0,
    "Gi": 1.0,
    "Mi": 1.0 / 1024,
    "Ki": 1.0 / 1024 / 1024,
    "Ti": 1024.0,
    "G": 1e9 / 2**30,
    "M": 1e6 / 2**30,
    "K": 1e3 / 2**30,
    "T": 1e12 / 2**30,
}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _where(index, entry, variable="inference_models"):
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{variable}[{index}]" + (f" ({name!r})" if isinstance(name, str) and name else "")


def size_to_gib(value):
    """A Kubernetes quantity (100Gi, 500G, 1Ti) or a plain number of GiB, as GiB."""
    if _is_number(value):
        return float(value)
    match = SIZE.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a size such as 100Gi")
    return float(match.group(1)) * SIZE_FACTORS_GIB[match.group(2)]


def _parallel_flags(extra_args):
    """Values of --pipeline-parallel-size / --data-parallel-size in extra_args (both spellings)."""
    found = {}
    args = list(extra_args)
    for position, arg in enumerate(args):
        for flag in PARALLEL_FLAGS:
            if arg == flag and position + 1 < len(args):
                found[flag] = args[position + 1]
            elif arg.startswith(flag + "="):
                found[flag] = arg.split("=", 1)[1]
    return found


def _check_gpus(where, entry, errors):
    gpus = entry.get("gpus")
    tensor_parallel = entry.get("tensor_parallel")
    ok = True
    if not _is_int(gpus) or gpus < 1:
        errors.append(
            f"{where}: gpus is {gpus!r}; write the number of GPUs one replica uses, an integer >= 1 (e.g. gpus: 1)."
        )
        ok = False
    if not _is_int(tensor_parallel) or tensor_parallel < 1:
        errors.append(
            f"{where}: tensor_parallel is {tensor_parallel!r}; write an integer >= 1, usually equal to gpus "
            "(tensor_parallel: 1 for a model that fits one GPU)."
        )
        ok = False
    extra_args = entry.get("extra_args") or []
    if not ok or not isinstance(extra_args, list) or not all(isinstance(arg, str) for arg in extra_args):
        return
    if gpus % tensor_parallel != 0:
        errors.append(
            f"{where}: tensor_parallel ({tensor_parallel}) does not divide gpus ({gpus}); "
            f"write tensor_parallel: {gpus} "
            f"or a gpus value that is a multiple of {tensor_parallel}."
        )
        return
    product = tensor_parallel
    for flag, value in sorted(_parallel_flags(extra_args).items()):
        if not value.isdigit() or int(value) < 1:
            errors.append(f"{where}: extra_args sets {flag} to {value!r}; write a positive integer.")
            return
        product *= int(value)
    if product != gpus:
        errors.append(
            f"{where}: one replica requests {gpus} GPU(s) but vLLM would use {product} "
            f"(tensor_parallel {tensor_parallel} x pipeline/data parallel in extra_args); GPUs that vLLM does not use "
            f"sit idle. Write tensor_parallel: {gpus}, or gpus: {product}, or add --pipeline-parallel-size "
            f"{gpus // tensor_parallel} to extra_args."
        )


def _check_replicas(where, entry, errors):
    replicas = entry.get("replicas")
    if not isinstance(replicas, dict) or set(replicas) != {"min", "max"}:
        errors.append(
            f"{where}: replicas is {replicas!r}; write replicas: {{min: 1, max: 2}} (exactly the keys min and max)."
        )
        return
    low, high = replicas["min"], replicas["max"]
    if not (_is_int(low) and _is_int(high) and 1 <= low <= high):
        errors.append(
            f"{where}: replicas is min {low!r}, max {high!r}; write integers with 1 <= min <= max "
            "(idle replicas go to zero with autoscale.scale_to_zero: true, not with min: 0)."
        )


def _check_autoscale(where, entry, errors):
    autoscale = entry.get("autoscale")
    if not isinstance(autoscale, dict):
        errors.append(
            f"{where}: autoscale is {autoscale!r}; write autoscale: "
            "{queue_threshold: 5, cooldown_seconds: 300, scale_to_zero: false}."
        )
        return
    unknown = sorted(set(autoscale) - set(AUTOSCALE_KEYS))
    missing = [key for key in AUTOSCALE_KEYS if key not in autoscale]
    if unknown or missing:
        errors.append(
            f"{where}: autoscale has unknown keys {unknown} and lacks {missing}; "
            f"write exactly {', '.join(AUTOSCALE_KEYS)}."
        )
        return
    threshold = autoscale["queue_threshold"]
    if not _is_number(threshold) or threshold <= 0:
        errors.append(
            f"{where}: autoscale.queue_threshold is {threshold!r}; write the number of waiting requests per replica "
            "above which a replica is added, a number > 0 (e.g. 5)."
        )
    cooldown = autoscale["cooldown_seconds"]
    if not _is_int(cooldown) or cooldown < 0:
        errors.append(f"{where}: autoscale.cooldown_seconds is {cooldown!r}; write an integer >= 0 (e.g. 300).")
    if not isinstance(autoscale["scale_to_zero"], bool):
        errors.append(f"{where}: autoscale.scale_to_zero is {autoscale['scale_to_zero']!r}; write true or false.")


def _check_model(index, entry, max_name_length, max_gpu_memory_utilization, errors):
    where = _where(index, entry)
    if not isinstance(entry, dict):
        errors.append(
            f"{where}: each entry must be a mapping with the keys {', '.join(MODEL_REQUIRED_KEYS)}; found {entry!r}."
        )
        return
    missing = [key for key in MODEL_REQUIRED_KEYS if key not in entry]
    unknown = sorted(set(entry) - set(MODEL_REQUIRED_KEYS) - set(MODEL_OPTIONAL_KEYS))
    if missing:
        errors.append(
            f"{where}: missing {', '.join(missing)}; every model entry needs {', '.join(MODEL_REQUIRED_KEYS)}."
        )
    if unknown:
        errors.append(
            f"{where}: unknown keys {', '.join(unknown)} (a typo?); a model entry takes "
            f"{', '.join(MODEL_REQUIRED_KEYS + MODEL_OPTIONAL_KEYS)}."
        )
    name = entry.get("name")
    if "name" in entry and not (isinstance(name, str) and DNS_LABEL.match(name) and len(name) <= max_name_length):
        errors.append(
            f"{where}: name {name!r} is not a DNS-1123 label of at most {max_name_length} characters; write lowercase "
            "a-z, 0-9 and '-', starting and ending with a letter or digit (e.g. qwen25-7b)."
        )
    hf_id = entry.get("hf_id")
    if "hf_id" in entry and not (isinstance(hf_id, str) and HF_ID.match(hf_id)):
        errors.append(
            f"{where}: hf_id {hf_id!r} is not a Hugging Face repository id; "
            "write 'org/model' (e.g. Qwen/Qwen2.5-7B-Instruct)."
        )
    revision = entry.get("revision")
    if "revision" in entry and not (isinstance(revision, str) and revision.strip() and " " not in revision):
        errors.append(
            f"{where}: revision {revision!r} is empty or not a string; "
            "write a commit id (preferred) or a branch such as main."
        )
    if "gpus" in entry and "tensor_parallel" in entry:
        _check_gpus(where, entry, errors)
    max_model_len = entry.get("max_model_len")
    if "max_model_len" in entry and (not _is_int(max_model_len) or max_model_len <= 0):
        errors.append(
            f"{where}: max_model_len is {max_model_len!r}; "
            "write the context length in tokens, an integer > 0 (e.g. 8192)."
        )
    utilization = entry.get("gpu_memory_utilization")
    if "gpu_memory_utilization" in entry and not (
        _is_number(utilization) and 0 < utilization <= max_gpu_memory_utilization
    ):
        errors.append(
            f"{where}: gpu_memory_utilization is {utilization!r}; "
            "write the fraction of each GPU's memory vLLM may take, "
            f"0 < value <= {max_gpu_memory_utilization} (e.g. 0.90)."
        )
    quantization = entry.get("quantization")
    if quantization is not None and not (isinstance(quantization, str) and quantization.strip()):
        errors.append(
            f"{where}: quantization is {quantization!r}; write null or a vLLM method name such as awq or fp8."
        )
    extra_args = entry.get("extra_args", [])
    if not (isinstance(extra_args, list) and all(isinstance(arg, str) for arg in extra_args)):
        errors.append(
            f"{where}: extra_args is {extra_args!r}; write a list of strings (e.g. ['--enable-prefix-caching'])."
        )
    if "cache_size" in entry:
        try:
            if size_to_gib(entry["cache_size"]) <= 0:
                raise ValueError("not positive")
        except ValueError:
            errors.append(f"{where}: cache_size is {entry['cache_size']!r}; write a size such as 100Gi.")
    if not isinstance(entry.get("hf_token_required", False), bool):
        errors.append(f"{where}: hf_token_required is {entry['hf_token_required']!r}; write true or false.")
    if "replicas" in entry:
        _check_replicas(where, entry, errors)
    if "autoscale" in entry:
        _check_autoscale(where, entry, errors)


def _check_tenant(index, tenant, model_names, errors):
    where = _where(index, tenant, "inference_tenants")
    if not isinstance(tenant, dict):
        errors.append(f"{where}: each tenant must be a mapping with at least name and models; found {tenant!r}.")
        return
    missing = [key for key in TENANT_REQUIRED_KEYS if key not in tenant]
    unknown = sorted(set(tenant) - set(TENANT_REQUIRED_KEYS) - set(TENANT_OPTIONAL_KEYS))
    if missing:
        errors.append(f"{where}: missing {', '.join(missing)}; a tenant needs name and models.")
    if unknown:
        errors.append(
            f"{where}: unknown keys {', '.join(unknown)} (a typo?); a tenant takes "
            f"{', '.join(TENANT_REQUIRED_KEYS + TENANT_OPTIONAL_KEYS)}."
        )
    name = tenant.get("name")
    if "name" in tenant and not (isinstance(name, str) and DNS_LABEL.match(name) and len(name) <= 63):
        errors.append(
            f"{where}: name {name!r} is not a DNS-1123 label; write lowercase a-z, 0-9 and '-' (e.g. team-a)."
        )
    models = tenant.get("models")
    if "models" in tenant:
        if not (isinstance(models, list) and models and all(isinstance(model, str) for model in models)):
            errors.append(
                f"{where}: models is {models!r}; write a non-empty list of model names from inference_models."
            )
        else:
            for model in models:
                if model not in model_names:
                    known = ", ".join(sorted(model_names)) or "none defined"
                    errors.append(
                        f"{where}: model {model!r} is not in inference_models (known: {known}); "
                        "write one of those names or add the model."
                    )
    budget = tenant.get("max_budget_usd")
    if "max_budget_usd" in tenant and not (_is_number(budget) and budget >= 0):
        errors.append(f"{where}: max_budget_usd is {budget!r}; write a number >= 0 (e.g. 100).")
    duration = tenant.get("budget_duration")
    if "budget_duration" in tenant and not (isinstance(duration, str) and DURATION.match(duration)):
        errors.append(f"{where}: budget_duration is {duration!r}; write a number with s, m, h or d (e.g. 30d).")
    for key in ("rpm_limit", "tpm_limit"):
        if key in tenant and not (_is_int(tenant[key]) and tenant[key] > 0):
            errors.append(f"{where}: {key} is {tenant[key]!r}; write an integer > 0.")


def model_list_errors(models, tenants=None, max_name_length=63, max_gpu_memory_utilization=1.0):
    """Every problem of inference_models (and inference_tenants), as sentences; an empty list when all is well."""
    errors = []
    if tenants is None:
        tenants = []
    if not isinstance(models, list):
        return [
            f"inference_models is {type(models).__name__}, not a list; write a list of model entries (or [] for none)."
        ]
    for index, entry in enumerate(models):
        _check_model(index, entry, max_name_length, max_gpu_memory_utilization, errors)
    names = [entry.get("name") for entry in models if isinstance(entry, dict)]
    for duplicate in sorted({name for name in names if isinstance(name, str) and names.count(name) > 1}):
        positions = [str(index) for index, name in enumerate(names) if name == duplicate]
        errors.append(
            f"inference_models: name {duplicate!r} is used by entries {', '.join(positions)}; each name becomes a "
            "Deployment, a Service and a LiteLLM route, so give every entry its own name."
        )
    if not isinstance(tenants, list):
        errors.append(
            f"inference_tenants is {type(tenants).__name__}, not a list; write a list of tenants (or [] for none)."
        )
        return errors
    model_names = {name for name in names if isinstance(name, str)}
    for index, tenant in enumerate(tenants):
        _check_tenant(index, tenant, model_names, errors)
    tenant_names = [tenant.get("name") for tenant in tenants if isinstance(tenant, dict)]
    for duplicate in sorted({name for name in tenant_names if isinstance(name, str) and tenant_names.count(name) > 1}):
        errors.append(f"inference_tenants: name {duplicate!r} is used more than once; give every tenant its own name.")
    return errors


def model_list_resources(models, default_cache_size="100Gi"):
    """What the model list asks of the hosts: GPUs of the largest replica, total model cache, token needs."""
    errors = model_list_errors(models)
    if errors:
        raise AnsibleFilterError("inference_models is not valid, run the validate stage first: " + " ".join(errors))
    cache = {entry["name"]: round(size_to_gib(entry.get("cache_size", default_cache_size)), 2) for entry in models}
    return {
        "models": len(models),
        "max_gpus_per_replica": max((entry["gpus"] for entry in models), default=0),
        "total_gpus_min_replicas": sum(entry["gpus"] * entry["replicas"]["min"] for entry in models),
        "cache_gib_by_model": cache,
        "total_cache_gib": round(sum(cache.values()), 2),
        "hf_token_required": [entry["name"] for entry in models if entry.get("hf_token_required", False)],
    }


class FilterModule:
    """The model-list filters of inference.platform."""

    def filters(self):
        return {
            "model_list_errors": model_list_errors,
            "model_list_resources": model_list_resources,
        }
