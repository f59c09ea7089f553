"""FirstByteDelayProxy: a TCP proxy on loopback that holds back the first byte of each response.

This is the one stand-in of the integration layer. The server behind it is real and answers at
its own speed; the proxy only waits ``first_byte_delay`` seconds before it forwards the first
bytes of each response (then everything else passes straight through, chunk by chunk, so
streaming stays streaming). To a client this looks exactly like a server whose time to first
token is long, which the tiny model cannot produce by itself in a controllable way.

"Each response" is tracked per connection without parsing HTTP: whenever the client has sent
bytes since the upstream last sent something, the next upstream bytes are the start of a new
response and are delayed. That covers HTTP keep-alive (request, response, request, ...).

The delay can be changed while the proxy runs (``proxy.first_byte_delay = 3.0``); connections
opened afterwards, and later responses on open connections, use the new value.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from .process import LOOPBACK


class FirstByteDelayProxy:
    def __init__(self, upstream_port: int, first_byte_delay: float = 0.0, upstream_host: str = LOOPBACK) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.first_byte_delay = first_byte_delay
        self.port: int | None = None
        self.connections = 0
        self.delayed_responses = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FirstByteDelayProxy:
        self._thread = threading.Thread(target=self._run, name="first-byte-delay-proxy", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("FirstByteDelayProxy did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"FirstByteDelayProxy failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, LOOPBACK, 0))
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as err:  # e.g. no free port; reported to the starting thread
            self._error = err
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    # -- one client connection -------------------------------------------------------------
    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            client_writer.close()  # upstream down: the client sees the connection closed, like a dead server
            return
        awaiting_response = asyncio.Event()

        async def client_to_upstream() -> None:
            while data := await client_reader.read(65536):
                awaiting_response.set()
                upstream_writer.write(data)
                await upstream_writer.drain()
            with contextlib.suppress(OSError):
                upstream_writer.write_eof()

        async def upstream_to_client() -> None:
            while data := await upstream_reader.read(65536):
                if awaiting_response.is_set():
                    awaiting_response.clear()
                    if self.first_byte_delay > 0:
                        self.delayed_responses += 1
                        await asyncio.sleep(self.first_byte_delay)
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
        try:
            # The response direction ending (server closed) ends the connection.
            await tasks[1]
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, upstream_writer):
                with contextlib.suppress(Exception):
                    writer.close()
