# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters that check the model list (inference_models, inference_tenants) and size what it needs.

One implementation of the model-list rules, reused by roles/validate_inventory (before any host is
touched), roles/preflight (host sizing, memory fit against the GPUs it measures) and the platform roles
(roles/vllm builds its objects only from a list these rules accept).
Documentation of each filter: the sidecar files model_list_errors.yml, model_list_resources.yml and
model_memory_problems.yml.
"""

from __future__ import annotations

import math
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.module_utils._engines import DEFAULT_ENGINE, ENGINES
from ansible_collections.inference.platform.plugins.module_utils._rules import is_dns_label

HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?$")
DURATION = re.compile(r"^[0-9]+[smhd]$")

# The keys of a model entry (docs/architecture.md, "The model list") every engine takes, and which may be left out.
MODEL_REQUIRED_KEYS = ("name", "hf_id", "revision", "gpus", "max_model_len", "replicas", "autoscale")
# engine: which server runs the model (ENGINES, module_utils/_engines.py); cache_size: size of the model's cache
# volume (roles/vllm); hf_token_required: the weights are gated on Hugging Face, so the platform needs a token
# (roles/validate_inventory).
MODEL_OPTIONAL_KEYS = ("engine", "extra_args", "cache_size", "hf_token_required")
# Longest model name: roles/vllm derives object names from it (<name>-preload-<hash>, ...) within 63 characters.
MODEL_NAME_MAX = 40
# Largest gpu_memory_utilization accepted: vLLM needs some GPU memory outside its own budget (CUDA context).
MAX_GPU_MEMORY_UTILIZATION = 0.98
# How a replica that is told to stop drains first (the Deployment's preStop hook; the kubelet sends SIGTERM only when
# it ends, and llama-server stops at once on SIGTERM, cutting the streams in flight). It keeps serving for `settle`
# seconds while the Service's endpoints and every node's kube-proxy drop it (new connections go to the other
# replicas), then reads the engine's metrics (ENGINES: waiting and running) until they sum to 0 on two reads a
# second apart (requests still arriving on a kept-alive connection count), at most `limit` seconds. An unreadable
# metrics page counts as idle (nothing to wait for). Arguments: settle limit url waiting running http_get...
DRAIN_SCRIPT = """\
settle=$1 limit=$2 url=$3 waiting=$4 running=$5
shift 5
sleep "$settle"
idle=0 waited=0
while [ "$waited" -lt "$limit" ]; do
  busy=$("$@" "$url" 2>/dev/null | awk -v a="$waiting" -v b="$running" \
    '{n = $1; sub(/[{].*/, "", n)} n == a || n == b {s += $NF} END {print s + 0}')
  if [ "$busy" = 0 ]; then idle=$((idle + 1)); else idle=0; fi
  if [ "$idle" -ge 2 ]; then exit 0; fi
  sleep 1
  waited=$((waited + 1))
done
"""
# Seconds of the grace period left after the drain's longest wait, for the engine's own shutdown after SIGTERM.
DRAIN_MARGIN_SECONDS = 10
# The address a model server listens on inside its pod: every interface, since the Service and the kubelet's probes
# reach it through the pod IP (the namespace's NetworkPolicies decide who may).
POD_LISTEN_ADDRESS = "0.0.0.0"  # noqa: S104
# A GGUF file inside the model's repository: a relative path of plain names ending in .gguf.
GGUF_FILE = re.compile(r"^(?!.*(^|/)\.\.?(/|$))[\w.-]+(/[\w.-]+)*\.gguf$")
# The memory-fit check: keys of a model's size, bytes per weight by dtype and by quantization method, and what
# vLLM holds per GPU beside weights and KV cache (CUDA context, activations of the profile run, CUDA graphs).
SIZE_KEYS = ("params_b", "dtype", "layers", "kv_heads", "head_dim", "weights_gib")
DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "half": 2.0, "float32": 4.0, "float": 4.0}
# 4-bit methods keep embeddings and norms in 16 bit and store scales: 0.6 bytes per parameter on average is the
# conservative side of what AWQ/GPTQ checkpoints of 7-70B models weigh (weights_gib overrides it).
QUANTIZATION_BYTES = {
    "awq": 0.6, "awq_marlin": 0.6, "gptq": 0.6, "gptq_marlin": 0.6, "marlin": 0.6, "bitsandbytes": 0.6,
    "gguf": 0.6, "fp8": 1.05, "fbgemm_fp8": 1.05, "compressed-tensors": 1.05, "experts_int8": 1.05,
}
RUNTIME_OVERHEAD_GIB = 1.5
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


def _check_size(where, entry, errors):
    size = entry["size"]
    example = "size: {params_b: 7.6, dtype: bfloat16, layers: 28, kv_heads: 4, head_dim: 128}"
    if not isinstance(size, dict):
        errors.append(f"{where}: size is {size!r}; write a mapping such as {example} (from the model's config.json).")
        return
    unknown = sorted(set(size) - set(SIZE_KEYS))
    if unknown:
        errors.append(f"{where}: size has unknown keys {', '.join(unknown)}; it takes {', '.join(SIZE_KEYS)}.")
    if "params_b" not in size and "weights_gib" not in size:
        errors.append(
            f"{where}: size needs params_b (billions of parameters) or weights_gib (the weights' size); "
            f"write e.g. {example}."
        )
    for key in ("params_b", "weights_gib"):
        if key in size and not (_is_number(size[key]) and size[key] > 0):
            errors.append(f"{where}: size.{key} is {size[key]!r}; write a number > 0.")
    for key in ("layers", "kv_heads", "head_dim"):
        if key not in size:
            errors.append(
                f"{where}: size lacks {key} (num_hidden_layers, num_key_value_heads and hidden_size / "
                f"num_attention_heads in the model's config.json), which size the KV cache; write e.g. {example}."
            )
        elif not (_is_int(size[key]) and size[key] > 0):
            errors.append(f"{where}: size.{key} is {size[key]!r}; write an integer > 0.")
    dtype = size.get("dtype", "bfloat16")
    if dtype not in DTYPE_BYTES:
        errors.append(f"{where}: size.dtype is {dtype!r}; write one of {', '.join(sorted(DTYPE_BYTES))}.")
    quantization = entry.get("quantization")
    if (quantization is not None and quantization not in QUANTIZATION_BYTES and "weights_gib" not in size
            and isinstance(quantization, str)):
        errors.append(
            f"{where}: the memory check does not know how much a weight of quantization {quantization!r} weighs; "
            "add size.weights_gib (the size of the weight files) or use one of "
            f"{', '.join(sorted(QUANTIZATION_BYTES))}."
        )


def engine_of(entry):
    """The engine name a (well-formed) model entry runs on: its engine key, else the default (vLLM)."""
    engine = entry.get("engine") if isinstance(entry, dict) else None
    return DEFAULT_ENGINE if engine is None else engine


# The order keys are named in messages (the order of docs/architecture.md's example entry).
KEY_ORDER = ("name", "engine", "hf_id", "gguf_file", "revision", "gpus", "tensor_parallel", "max_model_len",
             "gpu_memory_utilization", "quantization", "extra_args", "replicas", "autoscale", "cache_size",
             "hf_token_required", "size")


def _engine_keys(engine):
    """The keys a model entry of this engine must have, and those it may have, in KEY_ORDER."""
    spec = ENGINES[engine]
    required = set(MODEL_REQUIRED_KEYS + spec["required"])
    optional = set(MODEL_OPTIONAL_KEYS + spec["optional"])
    return (tuple(key for key in KEY_ORDER if key in required),
            tuple(key for key in KEY_ORDER if key in optional))


def _check_engine_keys(where, entry, errors):
    """The engine named and the keys that apply to it; returns the engine, or None when it is not known."""
    engine = engine_of(entry)
    if not isinstance(engine, str) or engine not in ENGINES:
        errors.append(
            f"{where}: engine is {engine!r}; write one of {', '.join(sorted(ENGINES))} "
            f"(or leave it out for {DEFAULT_ENGINE})."
        )
        return None
    required, optional = _engine_keys(engine)
    missing = [key for key in required if key not in entry]
    if missing:
        errors.append(
            f"{where}: missing {', '.join(missing)}; a {ENGINES[engine]['title']} model entry needs "
            f"{', '.join(required)}."
        )
    for key in sorted(set(entry) - set(required) - set(optional)):
        owners = [other for other in sorted(ENGINES) if key in ENGINES[other]["required"] + ENGINES[other]["optional"]]
        if owners:
            errors.append(
                f"{where}: {key} applies to {' and '.join(ENGINES[other]['title'] for other in owners)} only "
                f"(engine: {owners[0]}), not to {ENGINES[engine]['title']} (engine: {engine}); remove it"
                + (" (a GGUF file carries its own quantization and context; extra_args take the engine's flags)."
                   if engine == "llamacpp" else ".")
            )
        else:
            errors.append(
                f"{where}: unknown key {key} (a typo?); a {ENGINES[engine]['title']} model entry takes "
                f"{', '.join(required + optional)}."
            )
    return engine


def _check_model(index, entry, max_name_length, max_gpu_memory_utilization, errors):
    where = _where(index, entry)
    if not isinstance(entry, dict):
        errors.append(
            f"{where}: each entry must be a mapping with the keys {', '.join(MODEL_REQUIRED_KEYS)}; found {entry!r}."
        )
        return
    engine = _check_engine_keys(where, entry, errors)
    name = entry.get("name")
    if "name" in entry and not is_dns_label(name, max_name_length):
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
    if engine == "vllm" and "gpus" in entry and "tensor_parallel" in entry:
        _check_gpus(where, entry, errors)
    elif engine is not None and engine != "vllm" and "gpus" in entry:
        gpus, fewest = entry["gpus"], ENGINES[engine]["min_gpus"]
        if not _is_int(gpus) or gpus < fewest:
            errors.append(
                f"{where}: gpus is {gpus!r}; write the number of GPUs one replica uses, an integer >= {fewest}"
                + (" (0 runs the model on CPU)." if fewest == 0 else ".")
            )
    if "gguf_file" in entry and not (isinstance(entry["gguf_file"], str) and GGUF_FILE.match(entry["gguf_file"])):
        errors.append(
            f"{where}: gguf_file is {entry['gguf_file']!r}; write the path of the .gguf file inside the repository "
            "hf_id names, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf (no '..', no leading '/')."
        )
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
    if extra_args is None:
        extra_args = []
    if not (isinstance(extra_args, list) and all(isinstance(arg, str) for arg in extra_args)):
        errors.append(
            f"{where}: extra_args is {extra_args!r}; write a list of strings (e.g. ['--enable-prefix-caching'])."
        )
    else:
        managed = ENGINES[engine]["managed_flags"] if engine is not None else {}
        for flag in sorted({arg.split("=", 1)[0] for arg in extra_args} & set(managed)):
            errors.append(
                f"{where}: extra_args sets {flag}, which the platform sets from the model entry; remove it from "
                f"extra_args and write "
                + (managed[flag] + "." if managed[flag].startswith("nothing")
                   else f"{managed[flag]} in the model entry instead.")
            )
    if "cache_size" in entry:
        try:
            if size_to_gib(entry["cache_size"]) <= 0:
                raise ValueError("not positive")
        except ValueError:
            errors.append(f"{where}: cache_size is {entry['cache_size']!r}; write a size such as 100Gi.")
    if "size" in entry and engine == "vllm":
        _check_size(where, entry, errors)
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
    if "name" in tenant and not is_dns_label(name):
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


def model_list_errors(
    models, tenants=(), max_name_length=MODEL_NAME_MAX, max_gpu_memory_utilization=MAX_GPU_MEMORY_UTILIZATION
):
    """Every problem of inference_models (and inference_tenants), as sentences; an empty list when all is well."""
    errors = []
    if models is None:
        return [
            "inference_models is empty (null): the key is there with no list under it. Write the model entries "
            "under it (docs/architecture.md, \"The model list\"), or inference_models: [] for a cluster that "
            "serves no model yet.",
            *_null_tenants(tenants),
        ]
    if not isinstance(models, list):
        return [
            f"inference_models is {type(models).__name__}, not a list; write a list of model entries (or [] for none).",
            *_null_tenants(tenants),
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
    if tenants is None or tenants == ():  # null in the inventory, or no tenants passed to the filter
        return errors + _null_tenants(tenants)
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


def _null_tenants(tenants):
    if tenants is None:
        return [
            "inference_tenants is empty (null): the key is there with no list under it. Write the tenants under it "
            "(docs/architecture.md, \"The model list\"), or inference_tenants: [] when no team is admitted yet."
        ]
    return []


def _parallel_shards(entry):
    """GPUs one copy of the weights is split over: tensor_parallel x pipeline parallel (data parallel copies)."""
    flags = _parallel_flags(entry.get("extra_args") or [])
    pipeline = int(flags.get("--pipeline-parallel-size", "1"))
    return entry["tensor_parallel"] * pipeline


def model_memory_need(entry, overhead_gib=RUNTIME_OVERHEAD_GIB):
    """GiB one GPU of a replica needs (weights share + one max_model_len sequence of KV cache + runtime), or None.

    None when the entry has no size (the need is unknown).
    """
    size = entry.get("size")
    if not isinstance(size, dict):
        return None
    dtype_bytes = DTYPE_BYTES.get(size.get("dtype", "bfloat16"), 2.0)
    quantization = entry.get("quantization")
    if "weights_gib" in size:
        weights = float(size["weights_gib"])
    else:
        per_weight = QUANTIZATION_BYTES.get(quantization, dtype_bytes) if quantization else dtype_bytes
        weights = size["params_b"] * 1e9 * per_weight / 2**30
    kv_bytes = dtype_bytes
    extra_args = entry.get("extra_args") or []
    for position, arg in enumerate(extra_args):
        value = arg.split("=", 1)[1] if arg.startswith("--kv-cache-dtype=") else (
            extra_args[position + 1] if arg == "--kv-cache-dtype" and position + 1 < len(extra_args) else None)
        if value and value.startswith("fp8"):
            kv_bytes = 1.0
    kv = 2 * size["layers"] * size["kv_heads"] * size["head_dim"] * kv_bytes * entry["max_model_len"] / 2**30
    shards = _parallel_shards(entry)
    return {
        "weights_gib": round(weights, 2),
        "kv_cache_gib": round(kv, 2),
        "overhead_gib": overhead_gib,
        "shards": shards,
        "per_gpu_gib": round((weights + kv) / shards + overhead_gib, 2),
    }


def model_memory_problems(models, gpu_nodes, source="the inventory", overhead_gib=RUNTIME_OVERHEAD_GIB):
    """Models whose weights and KV cache do not fit the GPUs of a node they may land on, as sentences.

    gpu_nodes maps a node name to {gpu_memory_gib: <memory of its smallest GPU>, gpu_count: <GPUs, or null>}; a
    node without gpu_memory_gib is not judged. A model may land on every node with at least its gpus GPUs (or an
    unknown count): each of them must fit it. Models without size are listed in the result's unchecked.
    """
    if not isinstance(models, list) or model_list_errors(models):
        return {"errors": [], "unchecked": []}
    errors, unchecked = [], []
    for index, entry in enumerate(models):
        if engine_of(entry) != "vllm":
            continue  # only vLLM reserves a fraction of each GPU (gpu_memory_utilization) to check against
        need = model_memory_need(entry, overhead_gib)
        if need is None:
            unchecked.append(entry["name"])
            continue
        where = _where(index, entry)
        too_small = {}
        for node, gpu in sorted((gpu_nodes or {}).items()):
            memory = (gpu or {}).get("gpu_memory_gib")
            count = (gpu or {}).get("gpu_count")
            if not _is_number(memory) or (_is_int(count) and count < entry["gpus"]):
                continue
            if need["per_gpu_gib"] > memory * entry["gpu_memory_utilization"]:
                too_small.setdefault((memory, count), []).append(node)
        for (memory, count), nodes in sorted(too_small.items(), key=lambda item: item[1]):
            budget = memory * entry["gpu_memory_utilization"]
            errors.append(
                f"{where}: needs about {need['per_gpu_gib']} GiB per GPU (weights {need['weights_gib']} GiB and "
                f"KV cache for max_model_len {entry['max_model_len']} {need['kv_cache_gib']} GiB, split over "
                f"{need['shards']} GPU(s), + {overhead_gib} GiB runtime), but a GPU of {', '.join(nodes)} has "
                f"{memory} GiB ({source}) x gpu_memory_utilization {entry['gpu_memory_utilization']} = "
                f"{round(budget, 2)} GiB: vLLM would stop at start with out-of-memory or too little KV cache. "
                "Ways out: " + "; ".join(_ways_out(entry, need, memory, count, overhead_gib)) + "."
            )
    return {"errors": errors, "unchecked": unchecked}


def _ways_out(entry, need, memory, count, overhead_gib):
    budget = memory * entry["gpu_memory_utilization"]
    ways = []
    data = need["weights_gib"] + need["kv_cache_gib"]
    shards = next(
        (tp for tp in (2, 4, 8) if tp > need["shards"] and data / tp + overhead_gib <= budget
         and (not _is_int(count) or tp <= count)),
        None,
    )
    if shards:
        ways.append(f"more GPUs per replica (gpus: {shards}, tensor_parallel: {shards} needs about "
                    f"{round(data / shards + overhead_gib, 2)} GiB per GPU)")
    else:
        ways.append("more GPUs per replica than this node has, on a node with more or larger GPUs")
    if not entry.get("quantization"):
        quantized = dict(entry, quantization="awq")
        quantized_need = model_memory_need(quantized, overhead_gib)
        ways.append(f"a 4-bit quantized checkpoint (e.g. AWQ: about {quantized_need['per_gpu_gib']} GiB per GPU)")
    room = budget - overhead_gib - need["weights_gib"] / need["shards"]
    per_token = need["kv_cache_gib"] / entry["max_model_len"] / need["shards"]
    if room > 0 and per_token > 0:
        shorter = int(min(room / per_token, entry["max_model_len"] - 1))
        if shorter >= 256:
            ways.append(f"a shorter context (max_model_len: {2 ** int(math.log2(shorter))})")
    ways.append("a higher gpu_memory_utilization where the GPU serves nothing else (at most "
                f"{MAX_GPU_MEMORY_UTILIZATION})")
    return ways


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


def _engine_public(engine):
    spec = ENGINES[engine]
    return {"name": engine, "title": spec["title"], "label": spec["label"], "metrics": dict(spec["metrics"]),
            "litellm": {"provider": spec["litellm"]["provider"], "params": dict(spec["litellm"]["params"])}}


def model_engines(models):
    """The engines a (valid) model list uses, in ENGINES order: name, title, pod label, metrics, LiteLLM route.

    What the alert rules, dashboards, NetworkPolicies and the gateway read instead of naming an engine's metrics.
    An empty list gives every engine (so a rule or policy written for no model still knows all of them).
    """
    used = {engine_of(entry) for entry in models or [] if isinstance(entry, dict)}
    return [_engine_public(engine) for engine in ENGINES if engine in used or not used]


def engine_queries(metric, legend, rate_window=None):
    """PromQL for one kind of metric (waiting, running, generation_tokens, prompt_tokens) of every engine.

    Returns [[expr, legend], ...], one per engine, summed per model (by the engine's model label), as a rate over
    rate_window for counters; legends name the model with the dashboards' %label% placeholder.
    """
    queries = []
    for engine in ENGINES.values():
        name, label = engine["metrics"][metric], engine["metrics"]["model_label"]
        series = f"rate({name}[{rate_window}])" if rate_window else name
        queries.append([f"sum by ({label}) ({series})", f"%{label}% {legend}"])
    return queries


def drain_command(engine, port, settle_seconds, grace_seconds):
    """The preStop command of a replica of `engine` (DRAIN_SCRIPT), within a grace period of grace_seconds."""
    if not (_is_int(settle_seconds) and settle_seconds >= 0 and _is_int(grace_seconds)):
        raise AnsibleFilterError(
            f"drain settle seconds ({settle_seconds!r}) and grace period ({grace_seconds!r}) must be integers >= 0."
        )
    limit = grace_seconds - settle_seconds - DRAIN_MARGIN_SECONDS
    if limit < 1:
        raise AnsibleFilterError(
            f"a grace period of {grace_seconds} s leaves the drain no time after {settle_seconds} s of settling and "
            f"{DRAIN_MARGIN_SECONDS} s for the engine's shutdown; give vllm_termination_grace_period_seconds at least "
            f"{settle_seconds + DRAIN_MARGIN_SECONDS + 1} (the longest request a replica should finish, plus that)."
        )
    spec = ENGINES[engine]
    return ["sh", "-c", DRAIN_SCRIPT, "drain", str(settle_seconds), str(limit), f"http://127.0.0.1:{port}/metrics",
            spec["metrics"]["waiting"], spec["metrics"]["running"], *spec["http_get"]]


def model_server(entry, port, weights_dir, from_mirror=False, default_args=None, llamacpp_slots=4,
                 drain_settle_seconds=5, grace_seconds=120):
    """How one model entry is served: the engine's container command, args, env, probes, image, metrics and drain.

    weights_dir is where the preload Job left the weights in the model cache (a directory); vLLM reads the
    Hugging Face cache instead unless the weights came from a mirror (from_mirror). default_args maps an engine
    to the flags every model of it gets before its own extra_args. pre_stop is the drain (drain_command) a replica
    runs before it is stopped, within the pod's grace period (grace_seconds).
    """
    errors = model_list_errors([entry])
    if errors:
        raise AnsibleFilterError("the model entry is not valid, run the validate stage first: " + " ".join(errors))
    engine = engine_of(entry)
    spec = ENGINES[engine]
    pre_stop = drain_command(engine, port, drain_settle_seconds, grace_seconds)
    defaults = list((default_args or {}).get(engine) or [])
    extra = list(entry.get("extra_args") or [])
    port = str(port)
    if engine == "vllm":
        args = (["--model", weights_dir if from_mirror else entry["hf_id"]]
                + ([] if from_mirror else ["--revision", str(entry["revision"])])
                + ["--served-model-name", entry["name"], "--host", POD_LISTEN_ADDRESS, "--port", port,
                   "--tensor-parallel-size", str(entry["tensor_parallel"]),
                   "--max-model-len", str(entry["max_model_len"]),
                   "--gpu-memory-utilization", str(entry["gpu_memory_utilization"])]
                + (["--quantization", entry["quantization"]] if entry.get("quantization") else []))
        image = "vllm"
    elif engine == "llamacpp":
        if not (_is_int(llamacpp_slots) and llamacpp_slots >= 1):
            raise AnsibleFilterError(f"llamacpp_slots is {llamacpp_slots!r}; write an integer >= 1 (e.g. 4).")
        # llama-server splits --ctx-size over its slots: each request may use max_model_len tokens.
        args = ["--model", weights_dir.rstrip("/") + "/" + entry["gguf_file"], "--alias", entry["name"],
                "--host", POD_LISTEN_ADDRESS, "--port", port,
                "--ctx-size", str(entry["max_model_len"] * llamacpp_slots), "--parallel", str(llamacpp_slots),
                "--n-gpu-layers", "999" if entry["gpus"] > 0 else "0", "--metrics"]
        image = "llamacpp_cuda" if entry["gpus"] > 0 else "llamacpp"
    else:  # pragma: no cover - ENGINES and this function change together
        raise AnsibleFilterError(f"engine {engine!r} has no server arguments in model_server")
    return {
        "engine": engine,
        "label": spec["label"],
        "image": image,
        "command": list(spec["command"]),
        "args": args + defaults + extra,
        "env": [{"name": key, "value": value} for key, value in spec["env"].items()],
        "probes": dict(spec["probes"]),
        "shm": spec["shm"],
        "pre_stop": pre_stop,
        "gpus": entry["gpus"],
        "metrics": dict(spec["metrics"]),
        "litellm": {"provider": spec["litellm"]["provider"], "params": dict(spec["litellm"]["params"])},
    }


class FilterModule:
    """The model-list filters of inference.platform."""

    def filters(self):
        return {
            "model_list_errors": model_list_errors,
            "model_list_resources": model_list_resources,
            "model_memory_problems": model_memory_problems,
            "model_engines": model_engines,
            "engine_queries": engine_queries,
            "model_server": model_server,
        }
