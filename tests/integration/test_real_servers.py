"""Smoke tests proving the loopback servers are real: raw OpenAI SDK and HTTP against them.

What the tiny model guarantees (see servers/tiny_gguf.py): it never emits end-of-sequence, so a
completion always has exactly ``max_tokens`` tokens and finish_reason "length"; a run of N "a"
letters is N prompt tokens; temperature 0 is greedy, so the same request gives the same text.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import openai
import pytest
from servers.faults import BAD_KEY, WRONG_MODEL, slow_first_byte
from servers.requirements import servers_python

MESSAGES = [{"role": "user", "content": "Say something about the weather."}]


def _client(base_url: str, api_key: str = "not-checked", **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30, **kwargs)


def _complete(client: openai.OpenAI, model: str, max_tokens: int = 8, messages=MESSAGES):
    return client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0)


def _stream(client: openai.OpenAI, model: str, max_tokens: int = 8, **kwargs):
    """Return (chunks, text, seconds to the first content chunk)."""
    started = time.monotonic()
    first_content = None
    chunks = []
    stream = client.chat.completions.create(
        model=model, messages=MESSAGES, max_tokens=max_tokens, temperature=0, stream=True, **kwargs
    )
    for chunk in stream:
        chunks.append(chunk)
        if first_content is None and chunk.choices and chunk.choices[0].delta.content:
            first_content = time.monotonic() - started
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text, first_content


# --- llama-cpp-python server, direct ------------------------------------------------------------


@pytest.mark.integration
def test_llama_server_lists_its_alias(llama_server):
    models = _client(llama_server.base_url).models.list()
    assert [m.id for m in models.data] == [llama_server.model]


@pytest.mark.integration
def test_llama_non_streaming_completion_counts_tokens(llama_server):
    response = _complete(_client(llama_server.base_url), llama_server.model, max_tokens=9)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason == "length"
    assert response.usage.completion_tokens == 9
    assert response.usage.prompt_tokens > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens + 9


@pytest.mark.integration
def test_llama_prompt_tokens_are_counted_exactly(llama_server):
    client = _client(llama_server.base_url)

    def prompt_tokens(n: int) -> int:
        messages = [{"role": "user", "content": "a" * n}]
        return _complete(client, llama_server.model, max_tokens=1, messages=messages).usage.prompt_tokens

    assert prompt_tokens(40) - prompt_tokens(10) == 30


@pytest.mark.integration
def test_llama_streams_many_chunks_matching_the_non_streamed_text(llama_server):
    client = _client(llama_server.base_url)
    expected = _complete(client, llama_server.model, max_tokens=12).choices[0].message.content
    chunks, text, first = _stream(client, llama_server.model, max_tokens=12)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1
    assert text == expected
    assert chunks[-1].choices[0].finish_reason == "length"
    assert first is not None


@pytest.mark.integration
def test_llama_stream_carries_no_usage_even_when_asked(llama_server):
    """Measured fact the platform must live with: llama-cpp-python ignores stream_options."""
    chunks, _, _ = _stream(
        _client(llama_server.base_url), llama_server.model, max_tokens=4, stream_options={"include_usage": True}
    )
    assert all(getattr(c, "usage", None) is None for c in chunks)


@pytest.mark.integration
def test_llama_server_has_no_health_or_metrics_endpoint(llama_server):
    """Recorded fact (llama-cpp-python 0.3.36): only /v1/* and /extras/* exist."""
    for path in ("/health", "/metrics"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(llama_server.root_url + path, timeout=5)  # noqa: S310 - loopback
        assert err.value.code == 404, path


@pytest.mark.integration
def test_llama_server_ignores_an_unknown_model_name(llama_server):
    """Single-model llama-cpp-python answers any model name with its one model (no 404)."""
    response = _complete(_client(llama_server.base_url), WRONG_MODEL, max_tokens=2)
    assert response.usage.completion_tokens == 2
    assert response.model == WRONG_MODEL  # it echoes the requested name back


@pytest.mark.integration
def test_stopped_server_refuses_connections(stoppable_llama_server):
    client = _client(stoppable_llama_server.base_url)
    assert _complete(client, stoppable_llama_server.model, max_tokens=2).usage.completion_tokens == 2
    stoppable_llama_server.stop()
    assert not stoppable_llama_server.is_running()
    with pytest.raises(openai.APIConnectionError):
        _complete(client, stoppable_llama_server.model, max_tokens=2)
    stoppable_llama_server.restart()
    assert _complete(client, stoppable_llama_server.model, max_tokens=2).usage.completion_tokens == 2


@pytest.mark.integration
def test_delay_proxy_makes_the_first_token_slow(llama_server, delay_proxy):
    client = _client(delay_proxy.base_url)
    _, fast_text, fast_first = _stream(client, llama_server.model, max_tokens=6)
    with slow_first_byte(delay_proxy, 2.0):
        chunks, slow_text, slow_first = _stream(client, llama_server.model, max_tokens=6)
    assert fast_first < 1.0
    assert slow_first >= 2.0
    assert slow_text == fast_text  # same real server behind it, only later
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1


# --- LiteLLM proxy in front of the llama server ---------------------------------------------------


def _litellm_token_counts(model: str, text: str) -> tuple[int, int]:
    """LiteLLM's own token_counter() for MESSAGES and ``text``, run in the servers' venv (litellm is there)."""
    code = (
        "import json, sys\n"
        "import litellm\n"
        "model, messages, text = json.loads(sys.stdin.read())\n"
        "print(json.dumps([litellm.token_counter(model=model, messages=messages),\n"
        "                  litellm.token_counter(model=model, text=text, count_response_tokens=True)]))\n"
    )
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")  # no cost map download
    done = subprocess.run(
        [str(servers_python()), "-c", code],
        input=json.dumps([model, MESSAGES, text]),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    prompt, completion = json.loads(done.stdout.strip().splitlines()[-1])
    return prompt, completion


@pytest.mark.integration
def test_litellm_passes_a_completion_through_with_the_master_key(litellm_proxy, llama_server):
    direct = _complete(_client(llama_server.base_url), llama_server.model, max_tokens=10)
    via = _complete(_client(litellm_proxy.base_url, litellm_proxy.master_key), litellm_proxy.model, max_tokens=10)
    assert via.choices[0].message.content == direct.choices[0].message.content
    assert via.usage.completion_tokens == 10
    assert via.usage.prompt_tokens == direct.usage.prompt_tokens
    assert via.choices[0].finish_reason == "length"


@pytest.mark.integration
def test_litellm_lists_the_public_model_names(litellm_proxy):
    ids = {m.id for m in _client(litellm_proxy.base_url, litellm_proxy.master_key).models.list().data}
    assert ids == {route.name for route in litellm_proxy.routes}


@pytest.mark.integration
def test_litellm_streams_and_adds_estimated_usage(litellm_proxy, llama_server):
    """Through LiteLLM the stream ends with a usage chunk, but the backend sent no usage in the
    stream (llama-cpp-python ignores stream_options), so LiteLLM fills it with its own tiktoken
    estimate: the numbers are LiteLLM's token_counter() of the text, not the server's counts."""
    direct = _complete(_client(llama_server.base_url), llama_server.model, max_tokens=8)
    chunks, text, _ = _stream(
        _client(litellm_proxy.base_url, litellm_proxy.master_key),
        litellm_proxy.model,
        max_tokens=8,
        stream_options={"include_usage": True},
    )
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert text == direct.choices[0].message.content
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage, "LiteLLM sent no usage chunk"
    estimated_prompt, estimated_completion = _litellm_token_counts(llama_server.model, text)
    assert usage[-1].prompt_tokens == estimated_prompt
    assert usage[-1].completion_tokens == estimated_completion
    # ... and those are not what the server counted for the very same request.
    assert (usage[-1].prompt_tokens, usage[-1].completion_tokens) != (
        direct.usage.prompt_tokens,
        direct.usage.completion_tokens,
    )


@pytest.mark.integration
def test_litellm_refuses_a_request_without_a_key(litellm_proxy):
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        f"{litellm_proxy.base_url}/chat/completions",
        data=json.dumps({"model": litellm_proxy.model, "messages": MESSAGES, "max_tokens": 2}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert err.value.code == 401


@pytest.mark.integration
def test_litellm_without_db_answers_a_wrong_key_with_400_no_db(litellm_proxy):
    with pytest.raises(openai.BadRequestError) as err:
        _complete(_client(litellm_proxy.base_url, BAD_KEY), litellm_proxy.model, max_tokens=2)
    assert err.value.status_code == 400
    assert "No connected db" in str(err.value)


@pytest.mark.integration
def test_litellm_refuses_an_unknown_model(litellm_proxy):
    with pytest.raises(openai.APIStatusError) as err:
        _complete(_client(litellm_proxy.base_url, litellm_proxy.master_key), WRONG_MODEL, max_tokens=2)
    assert err.value.status_code == 400
    assert WRONG_MODEL in str(err.value)


@pytest.mark.integration
def test_litellm_route_to_a_stopped_backend_fails(litellm_proxy):
    with pytest.raises(openai.APIStatusError) as err:
        _complete(_client(litellm_proxy.base_url, litellm_proxy.master_key), "tiny-chat-down", max_tokens=2)
    assert err.value.status_code >= 500


@pytest.mark.integration
def test_litellm_slow_route_has_a_slow_first_token(litellm_proxy, delay_proxy):
    client = _client(litellm_proxy.base_url, litellm_proxy.master_key)
    with slow_first_byte(delay_proxy, 2.0):
        chunks, _, first = _stream(client, "tiny-chat-slow", max_tokens=4)
    assert first is not None and first >= 2.0
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1


@pytest.mark.integration
def test_master_key_is_in_no_file_or_log(litellm_proxy):
    key = litellm_proxy.master_key
    assert key.startswith("sk-") and len(key) > 40
    assert key not in litellm_proxy.config_path.read_text()
    assert key not in litellm_proxy.process.log_path.read_text(errors="replace")
    assert key not in repr(litellm_proxy)
