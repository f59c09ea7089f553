"""Fault helpers for tests that need a server to misbehave in a known, real way.

* Server stopped: ``LlamaServer.stop()`` on a server of your own (fixture
  ``stoppable_llama_server``), or a URL on :class:`~.process.ReservedDeadPort` (fixture
  ``dead_backend_url``), which refuses connections for the whole session.
* Slow first token: :func:`slow_first_byte` on the session's :class:`~.delay_proxy.FirstByteDelayProxy`
  (fixture ``delay_proxy``; LiteLLM route ``tiny-chat-slow`` goes through it).
* Wrong model name: :data:`WRONG_MODEL`. Note what each server does with it (measured, see
  tests/integration/README.md): LiteLLM refuses it (HTTP 400), while llama-cpp-python's server,
  which serves a single model, ignores the name and answers with its own model.
* Bad key: :data:`BAD_KEY`. LiteLLM without a database answers 400 "No connected db." for any key
  other than the master key (not 401); no key at all gets 401.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .delay_proxy import FirstByteDelayProxy

WRONG_MODEL = "no-such-model-anywhere"
# Well-formed, deliberately not the master key; not a secret.
BAD_KEY = "sk-integration-tests-wrong-key-0000000000"


@contextlib.contextmanager
def slow_first_byte(proxy: FirstByteDelayProxy, seconds: float) -> Iterator[FirstByteDelayProxy]:
    """Delay the first byte of every response through ``proxy`` by ``seconds`` inside the block."""
    previous = proxy.first_byte_delay
    proxy.first_byte_delay = seconds
    try:
        yield proxy
    finally:
        proxy.first_byte_delay = previous
