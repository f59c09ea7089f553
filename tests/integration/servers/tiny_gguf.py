"""Write a tiny llama-architecture GGUF model offline, deterministically.

The weights are random (seeded): the model talks nonsense, but it is a real model that llama.cpp
loads, tokenizes for, runs and streams from, so the OpenAI protocol, streaming and token
accounting that the integration tests look at are the real thing.

Properties the tests rely on (they follow from how the weights are built, see ``_weights``):

* The model can only ever *generate* printable ASCII tokens (bytes 0x20-0x7e and the merged
  tokens built from them). Control bytes, bytes >= 0x80 and the special tokens (including the
  end-of-sequence token ``<|im_end|>``) get a logit of about -60 or lower at every step.
  Consequence: a completion never stops by itself; it always runs to ``max_tokens`` and
  ``usage.completion_tokens == max_tokens`` with ``finish_reason == "length"``.
* The tokenizer is GPT-2 style byte-level BPE with a handful of merges, none of which joins two
  ``a`` characters: a run of N ``a`` letters in a prompt is N tokens, so prompt token counts can be
  checked exactly by difference.
* The chat template is ChatML (``<|im_start|>role\\n...<|im_end|>\\n``), embedded in the GGUF.

The file is cached under ``~/.cache/inference-platform/models/<key>/`` where ``<key>`` is a hash of
the generator parameters and the generator's format version: change either and a new file is
written. Writing goes to a temporary file that is renamed into place, so concurrent sessions never
see half a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

# Bump when the way the file is built changes (tokenizer, weight recipe, metadata).
GENERATOR_FORMAT = 1

CACHE_ROOT_ENV = "INFERENCE_PLATFORM_CACHE"
DEFAULT_CACHE_ROOT = Path.home() / ".cache" / "inference-platform"

BOS_TOKEN = "<|endoftext|>"  # noqa: S105 - a vocabulary token, not a secret
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"  # end of sequence (the model never generates it, see module docstring)
SPECIAL_TOKENS = (BOS_TOKEN, IM_START, IM_END)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A few byte-level BPE merges (GPT-2 notation, "Ġ" is a space). None joins "a" with "a".
MERGES = (
    ("Ġ", "t"),
    ("h", "e"),
    ("Ġt", "he"),
    ("i", "n"),
    ("e", "r"),
    ("o", "n"),
    ("Ġ", "s"),
    ("r", "e"),
    ("a", "t"),
    ("e", "n"),
    ("Ġ", "a"),
    ("o", "r"),
    ("Ġ", "w"),
    ("in", "g"),
    ("Ġ", "i"),
    ("Ġ", "o"),
    ("e", "d"),
    ("a", "n"),
    ("Ġ", "c"),
    ("i", "s"),
    ("Ġt", "o"),
    ("Ġ", "m"),
    ("o", "u"),
    ("Ġ", "b"),
    ("e", "s"),
    ("Ġ", "p"),
    ("Ġo", "f"),
    ("n", "d"),
    ("Ġa", "nd"),
    ("l", "l"),
)


@dataclasses.dataclass(frozen=True)
class TinyModelParams:
    """Generator parameters. Everything here goes into the cache key."""

    embedding_length: int = 64
    block_count: int = 2
    head_count: int = 4
    head_count_kv: int = 2
    feed_forward_length: int = 128
    context_length: int = 4096
    seed: int = 20240611
    name: str = "tiny-random-llama"

    def cache_key(self) -> str:
        payload = json.dumps({"format": GENERATOR_FORMAT, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class TinyModel:
    path: Path
    params: TinyModelParams
    vocab_size: int
    sha256: str
    generated: bool  # False when it came from the cache


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ROOT_ENV) or DEFAULT_CACHE_ROOT)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map (as in llama.cpp's unicode.cpp)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def build_vocab() -> tuple[list[str], list[int], list[str], list[bool]]:
    """Return (tokens, token_types, merges, can_generate) for the byte-level BPE vocabulary."""
    import gguf

    b2u = bytes_to_unicode()
    tokens: list[str] = [b2u[b] for b in range(256)]
    types: list[int] = [int(gguf.TokenType.NORMAL)] * 256
    can_generate = [0x20 <= b <= 0x7E for b in range(256)]
    merges: list[str] = []
    for left, right in MERGES:
        assert left in tokens and right in tokens, (left, right)
        merged = left + right
        merges.append(f"{left} {right}")
        if merged not in tokens:
            tokens.append(merged)
            types.append(int(gguf.TokenType.NORMAL))
            can_generate.append(True)
    for special in SPECIAL_TOKENS:
        tokens.append(special)
        types.append(int(gguf.TokenType.CONTROL))
        can_generate.append(False)
    return tokens, types, merges, can_generate


def _weights(params: TinyModelParams, can_generate: list[bool]):
    """Random weights with one deliberate structure: residual dimension 0 is a constant.

    Every token embedding has dimension 0 set to 8.0, and no layer writes to dimension 0 (the rows
    of attn_output and ffn_down for it are zero), so after the final RMS norm dimension 0 is a
    large positive number at every position. The output projection uses that dimension as a bias:
    tokens that must never be generated get -12 in column 0 and zeros elsewhere, i.e. a logit
    around -60 or lower, far under the allowed tokens' logits (random, spread of a few units).
    """
    import numpy as np

    rng = np.random.default_rng(params.seed)
    d = params.embedding_length
    head_dim = d // params.head_count
    n_vocab = len(can_generate)

    def normal(*shape: int, std: float) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    tensors: dict[str, np.ndarray] = {}
    embd = normal(n_vocab, d, std=1.0)
    embd[:, 0] = 8.0
    tensors["token_embd.weight"] = embd
    for i in range(params.block_count):
        p = f"blk.{i}."
        tensors[p + "attn_norm.weight"] = np.ones(d, dtype=np.float32)
        tensors[p + "attn_q.weight"] = normal(params.head_count * head_dim, d, std=0.2)
        tensors[p + "attn_k.weight"] = normal(params.head_count_kv * head_dim, d, std=0.2)
        tensors[p + "attn_v.weight"] = normal(params.head_count_kv * head_dim, d, std=0.2)
        attn_out = normal(d, params.head_count * head_dim, std=0.1)
        attn_out[0, :] = 0.0
        tensors[p + "attn_output.weight"] = attn_out
        tensors[p + "ffn_norm.weight"] = np.ones(d, dtype=np.float32)
        tensors[p + "ffn_gate.weight"] = normal(params.feed_forward_length, d, std=0.2)
        tensors[p + "ffn_up.weight"] = normal(params.feed_forward_length, d, std=0.2)
        down = normal(d, params.feed_forward_length, std=0.1)
        down[0, :] = 0.0
        tensors[p + "ffn_down.weight"] = down
    tensors["output_norm.weight"] = np.ones(d, dtype=np.float32)
    out = normal(n_vocab, d, std=1.0)
    out[:, 0] = 0.0
    blocked = ~np.asarray(can_generate)
    out[blocked, :] = 0.0
    out[blocked, 0] = -12.0
    tensors["output.weight"] = out
    return tensors


def write_gguf(path: Path, params: TinyModelParams) -> int:
    """Write the model to ``path``. Returns the vocabulary size."""
    import gguf

    tokens, types, merges, can_generate = build_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(params.name)
    writer.add_description("Random-weight test model written by tests/integration/servers/tiny_gguf.py")
    writer.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    writer.add_context_length(params.context_length)
    writer.add_embedding_length(params.embedding_length)
    writer.add_block_count(params.block_count)
    writer.add_feed_forward_length(params.feed_forward_length)
    writer.add_head_count(params.head_count)
    writer.add_head_count_kv(params.head_count_kv)
    writer.add_rope_dimension_count(params.embedding_length // params.head_count)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(BOS_TOKEN))
    writer.add_eos_token_id(tokens.index(IM_END))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)

    for name, array in _weights(params, can_generate).items():
        writer.add_tensor(name, array)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(tokens)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_tiny_model(params: TinyModelParams | None = None, root: Path | None = None) -> TinyModel:
    """Return the cached model for ``params``, writing it first if it is not there."""
    params = params or TinyModelParams()
    directory = (root or cache_root()) / "models" / f"{params.name}-{params.cache_key()}"
    path = directory / "model.gguf"
    vocab_size = len(build_vocab()[0])
    if path.is_file():
        return TinyModel(path=path, params=params, vocab_size=vocab_size, sha256=_sha256(path), generated=False)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".model-", suffix=".gguf.tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_gguf(tmp, params)
        tmp.chmod(0o644)
        (directory / "params.json").write_text(
            json.dumps({"format": GENERATOR_FORMAT, **dataclasses.asdict(params)}, indent=2, sort_keys=True) + "\n"
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return TinyModel(path=path, params=params, vocab_size=vocab_size, sha256=_sha256(path), generated=True)


def ensure_tiny_model_with(python: str | os.PathLike[str], timeout: float = 300.0) -> TinyModel:
    """Run this file with ``python`` (the servers' venv, which has ``gguf`` and numpy) and return its model.

    The test process (the project venv) has neither package, so the model is written by a child
    process; the cache makes later calls a sha256 of the file.
    """
    import subprocess

    done = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} {__file__} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return TinyModel(
        path=Path(data["path"]),
        params=TinyModelParams(**data["params"]),
        vocab_size=data["vocab_size"],
        sha256=data["sha256"],
        generated=data["generated"],
    )


if __name__ == "__main__":  # <servers venv>/bin/python tests/integration/servers/tiny_gguf.py [--json]
    import sys

    model = ensure_tiny_model()
    if "--json" in sys.argv[1:]:
        print(
            json.dumps(
                {
                    "path": str(model.path),
                    "params": dataclasses.asdict(model.params),
                    "vocab_size": model.vocab_size,
                    "sha256": model.sha256,
                    "generated": model.generated,
                }
            )
        )
    else:
        print(f"{model.path} vocab={model.vocab_size} sha256={model.sha256} generated={model.generated}")
