"""inference.platform.model_list_errors / model_list_resources: the model-list rules, entry by entry.

Each bad case changes one field of a good entry and asserts the exact sentence the operator reads:
where (index and name), what is wrong, and what to write instead.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter.model_list import (
    FilterModule,
    model_list_errors,
    model_list_resources,
    model_memory_need,
    model_memory_problems,
    size_to_gib,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]

GOOD_MODEL = {
    "name": "qwen25-7b",
    "hf_id": "Qwen/Qwen2.5-7B-Instruct",
    "revision": "main",
    "gpus": 1,
    "tensor_parallel": 1,
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.90,
    "quantization": None,
    "extra_args": [],
    "replicas": {"min": 1, "max": 2},
    "autoscale": {"queue_threshold": 5, "cooldown_seconds": 300, "scale_to_zero": False},
}
GOOD_TENANT = {
    "name": "team-a",
    "models": ["qwen25-7b"],
    "max_budget_usd": 100,
    "budget_duration": "30d",
    "rpm_limit": 600,
}


def model(**changes):
    entry = copy.deepcopy(GOOD_MODEL)
    for key, value in changes.items():
        if value is KeyError:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


def test_the_design_example_is_well_formed():
    assert model_list_errors([GOOD_MODEL], [GOOD_TENANT]) == []


def test_an_empty_model_list_is_well_formed():
    assert model_list_errors([], []) == []
    assert model_list_errors([]) == []


def test_null_lists_get_a_sentence_not_a_crash():
    """Issue 19: `inference_models:` left empty is null in YAML; the operator reads what to write."""
    assert model_list_errors(None, []) == [
        'inference_models is empty (null): the key is there with no list under it. Write the model entries under it '
        '(docs/architecture.md, "The model list"), or inference_models: [] for a cluster that serves no model yet.'
    ]
    assert model_list_errors([GOOD_MODEL], None) == [
        'inference_tenants is empty (null): the key is there with no list under it. Write the tenants under it '
        '(docs/architecture.md, "The model list"), or inference_tenants: [] when no team is admitted yet.'
    ]
    assert len(model_list_errors(None, None)) == 2
    assert model_list_errors([GOOD_MODEL]) == [], "tenants not passed: the model list alone is checked"


def test_optional_keys_may_be_left_out_or_set():
    assert model_list_errors([model(quantization=KeyError, extra_args=KeyError)]) == []
    assert model_list_errors([model(quantization="awq", cache_size="40Gi", hf_token_required=True)]) == []


W = "inference_models[0] ('qwen25-7b')"

BAD_MODELS = {
    "name not DNS": (
        model(name="Qwen_7B"),
        "inference_models[0] ('Qwen_7B'): name 'Qwen_7B' is not a DNS-1123 label of at most 40 characters; write "
        "lowercase a-z, 0-9 and '-', starting and ending with a letter or digit (e.g. qwen25-7b).",
    ),
    "name too long": (
        model(name="a" * 41),
        f"inference_models[0] ('{'a' * 41}'): name '{'a' * 41}' is not a DNS-1123 label of at most 40 characters; "
        "write lowercase a-z, 0-9 and '-', starting and ending with a letter or digit (e.g. qwen25-7b).",
    ),
    "hf_id without org": (
        model(hf_id="Qwen2.5-7B"),
        f"{W}: hf_id 'Qwen2.5-7B' is not a Hugging Face repository id; "
        "write 'org/model' (e.g. Qwen/Qwen2.5-7B-Instruct).",
    ),
    "empty revision": (
        model(revision=""),
        f"{W}: revision '' is empty or not a string; write a commit id (preferred) or a branch such as main.",
    ),
    "zero gpus": (
        model(gpus=0),
        f"{W}: gpus is 0; write the number of GPUs one replica uses, an integer >= 1 (e.g. gpus: 1).",
    ),
    "bool gpus": (
        model(gpus=True),
        f"{W}: gpus is True; write the number of GPUs one replica uses, an integer >= 1 (e.g. gpus: 1).",
    ),
    "tp does not divide": (
        model(gpus=4, tensor_parallel=3),
        f"{W}: tensor_parallel (3) does not divide gpus (4); write tensor_parallel: 4 or a gpus value that is a "
        "multiple of 3.",
    ),
    "idle gpus": (
        model(gpus=2, tensor_parallel=1),
        f"{W}: one replica requests 2 GPU(s) but vLLM would use 1 (tensor_parallel 1 x pipeline/data parallel in "
        "extra_args); GPUs that vLLM does not use sit idle. Write tensor_parallel: 2, or gpus: 1, or add "
        "--pipeline-parallel-size 2 to extra_args.",
    ),
    "zero max_model_len": (
        model(max_model_len=0),
        f"{W}: max_model_len is 0; write the context length in tokens, an integer > 0 (e.g. 8192).",
    ),
    "utilization above 1": (
        model(gpu_memory_utilization=1.5),
        f"{W}: gpu_memory_utilization is 1.5; write the fraction of each GPU's memory vLLM may take, 0 < value <= 0.98 "
        "(e.g. 0.90).",
    ),
    "utilization zero": (
        model(gpu_memory_utilization=0),
        f"{W}: gpu_memory_utilization is 0; write the fraction of each GPU's memory vLLM may take, 0 < value <= 0.98 "
        "(e.g. 0.90).",
    ),
    "min above max": (
        model(replicas={"min": 3, "max": 2}),
        f"{W}: replicas is min 3, max 2; write integers with 1 <= min <= max (idle replicas go to zero with "
        "autoscale.scale_to_zero: true, not with min: 0).",
    ),
    "replicas not a mapping": (
        model(replicas=2),
        f"{W}: replicas is 2; write replicas: {{min: 1, max: 2}} (exactly the keys min and max).",
    ),
    "autoscale missing key": (
        model(autoscale={"queue_threshold": 5, "cooldown_seconds": 300}),
        f"{W}: autoscale has unknown keys [] and lacks ['scale_to_zero']; write exactly queue_threshold, "
        "cooldown_seconds, scale_to_zero.",
    ),
    "autoscale threshold zero": (
        model(autoscale={"queue_threshold": 0, "cooldown_seconds": 300, "scale_to_zero": False}),
        f"{W}: autoscale.queue_threshold is 0; write the number of waiting requests per replica above which a replica "
        "is added, a number > 0 (e.g. 5).",
    ),
    "autoscale cooldown negative": (
        model(autoscale={"queue_threshold": 5, "cooldown_seconds": -1, "scale_to_zero": False}),
        f"{W}: autoscale.cooldown_seconds is -1; write an integer >= 0 (e.g. 300).",
    ),
    "scale_to_zero not bool": (
        model(autoscale={"queue_threshold": 5, "cooldown_seconds": 300, "scale_to_zero": "no"}),
        f"{W}: autoscale.scale_to_zero is 'no'; write true or false.",
    ),
    "typo key": (
        model(tensor_paralel=2),
        f"{W}: unknown key tensor_paralel (a typo?); a vLLM model entry takes name, hf_id, revision, gpus, "
        "tensor_parallel, max_model_len, gpu_memory_utilization, replicas, autoscale, engine, quantization, "
        "extra_args, cache_size, hf_token_required, size.",
    ),
    "missing key": (
        model(max_model_len=KeyError),
        f"{W}: missing max_model_len; a vLLM model entry needs name, hf_id, revision, gpus, tensor_parallel, "
        "max_model_len, gpu_memory_utilization, replicas, autoscale.",
    ),
    "extra_args not strings": (
        model(extra_args=["--enforce-eager", 3]),
        f"{W}: extra_args is ['--enforce-eager', 3]; write a list of strings (e.g. ['--enable-prefix-caching']).",
    ),
    "bad cache_size": (
        model(cache_size="lots"),
        f"{W}: cache_size is 'lots'; write a size such as 100Gi.",
    ),
    "empty quantization": (
        model(quantization=""),
        f"{W}: quantization is ''; write null or a vLLM method name such as awq or fp8.",
    ),
    "a flag the platform sets, separate value": (
        model(extra_args=["--tensor-parallel-size", "4"]),
        f"{W}: extra_args sets --tensor-parallel-size, which the platform sets from the model entry; remove it from "
        "extra_args and write tensor_parallel in the model entry instead.",
    ),
    "a flag the platform sets, with =": (
        model(extra_args=["--gpu-memory-utilization=1.5"]),
        f"{W}: extra_args sets --gpu-memory-utilization, which the platform sets from the model entry; remove it from "
        "extra_args and write gpu_memory_utilization in the model entry instead.",
    ),
    "a flag the platform owns entirely": (
        model(extra_args=["--port", "9000"]),
        f"{W}: extra_args sets --port, which the platform sets from the model entry; remove it from extra_args and "
        "write nothing (the platform sets it).",
    ),
    "size not a mapping": (
        model(size=7),
        f"{W}: size is 7; write a mapping such as size: {{params_b: 7.6, dtype: bfloat16, layers: 28, kv_heads: 4, "
        "head_dim: 128} (from the model's config.json).",
    ),
    "size without the attention shape": (
        model(size={"params_b": 7.6, "layers": 28, "kv_heads": 4}),
        f"{W}: size lacks head_dim (num_hidden_layers, num_key_value_heads and hidden_size / num_attention_heads in "
        "the model's config.json), which size the KV cache; write e.g. size: {params_b: 7.6, dtype: bfloat16, "
        "layers: 28, kv_heads: 4, head_dim: 128}.",
    ),
    "size with an unknown dtype": (
        model(size={"params_b": 7.6, "dtype": "fp4", "layers": 28, "kv_heads": 4, "head_dim": 128}),
        f"{W}: size.dtype is 'fp4'; write one of bfloat16, float, float16, float32, half.",
    ),
    "size with a quantization the check cannot weigh": (
        model(quantization="hqq", size={"params_b": 7.6, "layers": 28, "kv_heads": 4, "head_dim": 128}),
        f"{W}: the memory check does not know how much a weight of quantization 'hqq' weighs; add size.weights_gib "
        "(the size of the weight files) or use one of awq, awq_marlin, bitsandbytes, compressed-tensors, "
        "experts_int8, fbgemm_fp8, fp8, gguf, gptq, gptq_marlin, marlin.",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_a_bad_model_entry_is_named_with_its_fix(case):
    entry, expected = BAD_MODELS[case]
    assert model_list_errors([entry]) == [expected]


def test_pipeline_parallel_in_extra_args_accounts_for_the_gpus():
    both_spellings = [
        model(gpus=4, tensor_parallel=2, extra_args=["--pipeline-parallel-size", "2"]),
        model(name="b", gpus=4, tensor_parallel=2, extra_args=["--pipeline-parallel-size=2"]),
        model(
            name="c", gpus=8, tensor_parallel=2, extra_args=["--pipeline-parallel-size=2", "--data-parallel-size", "2"]
        ),
    ]
    assert model_list_errors(both_spellings) == []


def test_the_name_limit_is_the_one_the_vllm_objects_need():
    """roles/vllm derives object names from the model name: 40 characters is the limit everywhere (MODEL_NAME_MAX)."""
    assert model_list_errors([model(name="a" * 40)]) == []
    assert model_list_errors([model(name="a" * 30)], max_name_length=20) == [
        f"inference_models[0] ('{'a' * 30}'): name '{'a' * 30}' is not a DNS-1123 label of at most 20 characters; "
        "write lowercase a-z, 0-9 and '-', starting and ending with a letter or digit (e.g. qwen25-7b)."
    ]


def test_duplicate_model_names_are_reported_once_with_positions():
    assert model_list_errors([GOOD_MODEL, model(hf_id="Qwen/Other"), model(name="x")]) == [
        "inference_models: name 'qwen25-7b' is used by entries 0, 1; each name becomes a Deployment, a Service and "
        "a LiteLLM route, so give every entry its own name."
    ]


def test_errors_of_several_entries_all_come_back():
    errors = model_list_errors([model(gpus=0), model(name="second", max_model_len=-5)])
    assert len(errors) == 2
    assert errors[0].startswith("inference_models[0] ('qwen25-7b'): gpus is 0")
    assert errors[1].startswith("inference_models[1] ('second'): max_model_len is -5")


def test_a_model_list_that_is_not_a_list_is_refused():
    assert model_list_errors({"name": "x"}) == [
        "inference_models is dict, not a list; write a list of model entries (or [] for none)."
    ]


def test_a_tenant_must_reference_existing_models():
    tenant = dict(GOOD_TENANT, models=["qwen25-7b", "llama-70b"])
    assert model_list_errors([GOOD_MODEL], [tenant]) == [
        "inference_tenants[0] ('team-a'): model 'llama-70b' is not in inference_models (known: qwen25-7b); write one "
        "of those names or add the model."
    ]


def test_tenant_fields_are_checked():
    tenant = dict(GOOD_TENANT, name="Team A", budget_duration="30 days", rpm_limit=0, models=[])
    assert model_list_errors([GOOD_MODEL], [tenant]) == [
        "inference_tenants[0] ('Team A'): name 'Team A' is not a DNS-1123 label; write lowercase a-z, 0-9 and '-' "
        "(e.g. team-a).",
        "inference_tenants[0] ('Team A'): models is []; write a non-empty list of model names from inference_models.",
        "inference_tenants[0] ('Team A'): budget_duration is '30 days'; write a number with s, m, h or d (e.g. 30d).",
        "inference_tenants[0] ('Team A'): rpm_limit is 0; write an integer > 0.",
    ]


def test_duplicate_tenants_are_refused():
    errors = model_list_errors([GOOD_MODEL], [GOOD_TENANT, GOOD_TENANT])
    assert errors == ["inference_tenants: name 'team-a' is used more than once; give every tenant its own name."]


@pytest.mark.parametrize(
    ("quantity", "gib"),
    [("100Gi", 100.0), ("512Mi", 0.5), ("1Ti", 1024.0), (40, 40.0), ("1073741824", 1073741824.0), ("2G", 2e9 / 2**30)],
)
def test_sizes_are_read_as_kubernetes_quantities(quantity, gib):
    assert size_to_gib(quantity) == pytest.approx(gib)


def test_resources_sum_what_the_hosts_need():
    models = [
        GOOD_MODEL,
        model(
            name="llama-70b",
            gpus=4,
            tensor_parallel=4,
            cache_size="200Gi",
            hf_token_required=True,
            replicas={"min": 2, "max": 2},
        ),
    ]
    assert model_list_resources(models, "100Gi") == {
        "models": 2,
        "max_gpus_per_replica": 4,
        "total_gpus_min_replicas": 9,
        "cache_gib_by_model": {"qwen25-7b": 100.0, "llama-70b": 200.0},
        "total_cache_gib": 300.0,
        "hf_token_required": ["llama-70b"],
    }


def test_resources_of_no_models_are_zero():
    assert model_list_resources([]) == {
        "models": 0,
        "max_gpus_per_replica": 0,
        "total_gpus_min_replicas": 0,
        "cache_gib_by_model": {},
        "total_cache_gib": 0,
        "hf_token_required": [],
    }


def test_resources_refuse_a_malformed_list():
    with pytest.raises(AnsibleFilterError, match=r"run the validate stage first: inference_models\[0\]"):
        model_list_resources([model(gpus=0)])


def test_the_filters_are_registered_under_their_names():
    assert set(FilterModule().filters()) == {
        "model_list_errors", "model_list_resources", "model_memory_problems", "model_engines", "model_server",
        "engine_queries",
    }


def test_ansible_finds_the_filter_by_its_collection_name(tmp_path):
    """The filter as a role uses it: through Jinja in ansible, resolved via ansible.cfg's collections_path."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ [{'name': 'x'}] | inference.platform.model_list_errors | length }}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"msg": "1"' in result.stdout or "msg: '1'" in result.stdout or "msg: 1" in result.stdout, result.stdout


SEVEN_B = {"params_b": 7.62, "dtype": "bfloat16", "layers": 28, "kv_heads": 4, "head_dim": 128}


def test_the_memory_need_adds_weights_the_kv_cache_of_one_context_and_the_runtime():
    need = model_memory_need(model(size=SEVEN_B))
    # 7.62e9 parameters x 2 bytes = 14.19 GiB; KV: 2 x 28 layers x 4 heads x 128 x 2 bytes x 8192 tokens = 0.44 GiB.
    assert need == {
        "weights_gib": 14.19,
        "kv_cache_gib": 0.44,
        "overhead_gib": 1.5,
        "shards": 1,
        "per_gpu_gib": 16.13,
    }
    assert model_memory_need(model()) is None, "no size: the need is unknown"


def test_quantization_tensor_parallel_and_an_fp8_kv_cache_lower_the_need_per_gpu():
    base = model_memory_need(model(size=SEVEN_B))["per_gpu_gib"]
    assert model_memory_need(model(quantization="awq", size=SEVEN_B))["weights_gib"] == round(7.62e9 * 0.6 / 2**30, 2)
    split = model_memory_need(model(gpus=2, tensor_parallel=2, size=SEVEN_B))
    assert split["shards"] == 2 and split["per_gpu_gib"] < base
    fp8_kv = model_memory_need(model(extra_args=["--kv-cache-dtype", "fp8"], size=SEVEN_B))
    assert fp8_kv["kv_cache_gib"] == 0.22
    given = model_memory_need(model(size={**SEVEN_B, "weights_gib": 5.0}))
    assert given["weights_gib"] == 5.0


def test_a_model_that_fits_passes_and_one_that_does_not_gets_the_numbers_and_the_ways_out():
    fits = model(size=SEVEN_B)
    too_big = model(name="big", max_model_len=32768, size={**SEVEN_B, "params_b": 14.7, "layers": 48, "kv_heads": 8})
    nodes = {"gpu-1": {"gpu_memory_gib": 20, "gpu_count": 2}, "cpu-1": {"gpu_memory_gib": None}}
    result = model_memory_problems([fits, too_big], nodes)
    assert result == {
        "errors": [
            "inference_models[1] ('big'): needs about 34.88 GiB per GPU (weights 27.38 GiB and KV cache for "
            "max_model_len 32768 6.0 GiB, split over 1 GPU(s), + 1.5 GiB runtime), but a GPU of gpu-1 has 20 GiB (the "
            "inventory) x gpu_memory_utilization 0.9 = 18.0 GiB: vLLM would stop at start with out-of-memory or too "
            "little KV cache. Ways out: more GPUs per replica than this node has, on a node with more or larger GPUs"
            "; a 4-bit quantized checkpoint (e.g. AWQ: about 15.71 GiB per GPU); a higher "
            "gpu_memory_utilization where the GPU serves nothing else (at most 0.98)."
        ],
        "unchecked": [],
    }


def test_a_node_with_fewer_gpus_than_the_model_is_not_where_it_lands():
    entry = model(gpus=2, tensor_parallel=2, size={**SEVEN_B, "params_b": 70})
    assert model_memory_problems([entry], {"small": {"gpu_memory_gib": 24, "gpu_count": 1}})["errors"] == []
    assert len(model_memory_problems([entry], {"big": {"gpu_memory_gib": 24, "gpu_count": 2}})["errors"]) == 1


def test_a_shorter_context_is_offered_when_the_weights_fit():
    entry = model(max_model_len=131072, size=SEVEN_B)
    [error] = model_memory_problems([entry], {"gpu-1": {"gpu_memory_gib": 20, "gpu_count": 1}})["errors"]
    assert "a shorter context (max_model_len: 32768)" in error


def test_models_without_size_are_listed_as_unchecked():
    result = model_memory_problems([model(), model(name="b", size=SEVEN_B)], {"gpu-1": {"gpu_memory_gib": 80}})
    assert result == {"errors": [], "unchecked": ["qwen25-7b"]}
