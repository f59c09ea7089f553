"""Measurement quality of inference.platform.smoke_inference: one run, one real server, three views.

Not a test: a script that prints the table in
collections/ansible_collections/inference/platform/docs/measurement.md. In one run against the same
local llama-cpp-python server (tiny GGUF, servers' venv) it measures

1. ``smoke_inference`` through the Ansible CLI (concurrency 1, streamed);
2. guidellm (PyPI, in a throwaway venv given by --guidellm) at the same concurrency, prompt length
   and output length, with a Hugging Face tokenizer built from the GGUF's own vocabulary;
3. the module's client overhead: the module's request path (``SmokeInference.one_streamed``: the
   openai SDK) against a bare HTTP client (``http.client`` with hand-parsed SSE), alternating, same
   request.

Run from the project root with the project venv:

    .venv/bin/python tests/integration/measure_quality.py --guidellm /tmp/guidellm-venv/bin/guidellm
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "collections"))

from ansible_cli import run_module  # noqa: E402
from servers.llama_server import start_llama_server  # noqa: E402
from servers.requirements import servers_python  # noqa: E402
from servers.tiny_gguf import ensure_tiny_model_with  # noqa: E402

DUMP_VOCAB = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tiny_gguf import build_vocab
tokens, types, merges, _ = build_vocab()
print(json.dumps({"tokens": tokens, "merges": merges}))
"""

BUILD_TOKENIZER = """
import json, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
data = json.loads(open(sys.argv[1]).read())
vocab = {tok: i for i, tok in enumerate(data["tokens"])}
merges = [tuple(m.split(" ")) for m in data["merges"]]
tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", bos_token="<|endoftext|>")
fast.save_pretrained(sys.argv[2])
print(len(vocab))
"""


def pct(values, q):
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def build_tokenizer(work: Path, guidellm_python: Path) -> Path:
    dump = subprocess.run(
        [str(servers_python()), "-c", DUMP_VOCAB, str(HERE / "servers")],
        capture_output=True,
        text=True,
        check=True,
    )
    (work / "vocab.json").write_text(dump.stdout)
    out = work / "tokenizer"
    subprocess.run(
        [str(guidellm_python), "-c", BUILD_TOKENIZER, str(work / "vocab.json"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out


def raw_stream(port: int, body: dict) -> tuple[float, float, int]:
    """One streamed request with http.client: (ttft, e2e, content chunks)."""
    payload = json.dumps(body)
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/chat/completions", payload, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first = None
    chunks = 0
    for line in resp:
        if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
            continue
        event = json.loads(line[6:])
        for choice in event.get("choices") or []:
            if (choice.get("delta") or {}).get("content"):
                chunks += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    conn.close()
    return first - start, end - start, chunks


def module_path(base_url: str, model: str, prompt: str, max_tokens: int):
    """The module's own request path, SmokeInference.one_streamed, on a minimal module object."""
    from ansible_collections.inference.platform.plugins.modules.smoke_inference import SmokeInference

    params = {
        "api_url": base_url,
        "api_key": None,
        "timeout": 60.0,
        "validate_certs": True,
        "ca_path": None,
        "model": model,
        "prompt": prompt,
        "messages": None,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "extra_body": None,
    }
    module = types.SimpleNamespace(params=params, check_mode=False)
    return SmokeInference(module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guidellm", type=Path, required=True, help="guidellm executable (its own venv)")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--overhead-requests", type=int, default=30)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="measure-quality-"))
    model = ensure_tiny_model_with(servers_python())
    server = start_llama_server(model.path, work, name="llama-measure")
    rows = {}
    try:
        prompt = "a" * args.prompt_tokens  # exactly prompt_tokens content tokens with this vocabulary
        body = {
            "model": server.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "stream": True,
        }
        for _ in range(3):  # warm the server
            raw_stream(server.port, body)

        # 1. smoke_inference through Ansible
        run = run_module(
            "smoke_inference",
            {
                "api_url": server.root_url,
                "model": server.model,
                "prompt": prompt,
                "max_tokens": args.max_tokens,
                "requests": args.requests,
                "concurrency": 1,
                "timeout": 60,
            },
        )
        r = run.result
        assert not run.failed, run.describe()
        rows["smoke_inference (Ansible CLI)"] = {
            "ttft_p50_ms": r["ttft_seconds"]["p50"] * 1000,
            "itl_p50_ms": r["inter_token_latency_seconds"]["p50"] * 1000,
            "tps_per_request_p50": r["output_tokens_per_s"]["p50"],
            "tps_aggregate": r["throughput"]["output_tokens_per_s"],
            "tokens": r["output_tokens"]["total"],
            "errors": r["requests"]["failed"],
        }

        # 2. guidellm, same server, concurrency, prompt and output length
        tokenizer = build_tokenizer(work, args.guidellm.parent / "python")
        out = work / "guidellm.json"
        argv = [
            str(args.guidellm),
            "run",
            "--backend",
            # validate_backend=false: the server has no /health. extras.body.max_tokens: guidellm sends
            # max_completion_tokens, which llama-cpp-python 0.3.36 ignores (it then generates up to n_ctx).
            f"kind=openai_http,target={server.root_url},model={server.model},validate_backend=false,"
            f"extras.body.max_tokens={args.max_tokens}",
            "--profile",
            "kind=concurrent,streams=1",
            "--constraint",
            f"kind=max_requests,count={args.requests}",
            "--data",
            f"kind=synthetic_text,prompt_tokens={args.prompt_tokens},output_tokens={args.max_tokens}",
            "--tokenizer",
            f"kind=huggingface_auto,model={tokenizer}",
            "--output",
            f"kind=json,path={out}",
        ]
        print("guidellm:", " ".join(argv), file=sys.stderr)
        done = subprocess.run(
            argv, capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}, check=False
        )
        (work / "guidellm.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"guidellm failed ({done.returncode}); log: {work / 'guidellm.log'}")
        bench = json.loads(out.read_text())["benchmarks"][0]
        metrics = bench["metrics"]

        def successful(name, stat="median"):
            return metrics[name]["successful"][stat]

        per_request = [
            req["output_tokens"] / (req["request_end_time"] - req["request_start_time"])
            for req in bench["requests"]["successful"]
            if req.get("output_tokens") and req.get("request_end_time")
        ]
        rows["guidellm 0.8.1"] = {
            "ttft_p50_ms": successful("time_to_first_token_ms"),
            "itl_p50_ms": successful("inter_token_latency_ms"),
            "tps_per_request_p50": statistics.median(per_request) if per_request else None,
            "tps_aggregate (output_tokens_per_second mean)": successful("output_tokens_per_second", "mean"),
            "tokens": successful("output_token_count", "total_sum"),
            "streaming_iterations_per_request": successful("request_streaming_iterations_count"),
            "request_latency_p50_s": successful("request_latency"),
            "errors": len(bench["requests"]["errored"]),
            "report": str(out),
        }

        # 3. client overhead: the module's path vs a bare HTTP client, alternating
        smoke = module_path(server.root_url, server.model, prompt, args.max_tokens)
        raw, mod = [], []
        for _ in range(args.overhead_requests):
            raw.append(raw_stream(server.port, body))
            one = smoke.one_streamed()
            mod.append((one["ttft"], one["e2e"], one["tokens"]))
        rows["overhead"] = {
            "raw_ttft_p50_ms": pct([x[0] for x in raw], 0.5) * 1000,
            "module_ttft_p50_ms": pct([x[0] for x in mod], 0.5) * 1000,
            "raw_e2e_p50_ms": pct([x[1] for x in raw], 0.5) * 1000,
            "module_e2e_p50_ms": pct([x[1] for x in mod], 0.5) * 1000,
            "raw_tps_p50": statistics.median(x[2] / x[1] for x in raw),
            "module_tps_p50": statistics.median(x[2] / x[1] for x in mod),
            "chunks": sorted({x[2] for x in raw} | {x[2] for x in mod}),
        }
    finally:
        server.stop()
    print(json.dumps({"work_dir": str(work), **rows}, indent=2))


if __name__ == "__main__":
    main()
