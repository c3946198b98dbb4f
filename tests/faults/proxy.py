"""A TCP fault proxy of the project's own (toxiproxy does not install here).

``FaultProxy(host, port).start()`` listens on 127.0.0.1 (an ephemeral port: ``proxy.port``) and
forwards every connection to the upstream host, on an asyncio loop in its own thread. The fault
is switched while connections are open with ``proxy.set(...)``:

- ``pass``: forward as is;
- ``latency``: each chunk waits ``latency`` seconds before it is forwarded (both directions);
- ``bandwidth``: at most ``bandwidth`` bytes per second per direction and connection;
- ``cut``: after ``cut_after`` more bytes in one direction (counted from the switch, or from the
  connection's start for a new one) the rest of the chunk is dropped and both sides are closed
  (FIN): a connection cut in the middle of a message;
- ``blackhole``: connections are accepted but nothing is forwarded (new ones do not even reach
  the upstream) until the fault is removed: a network partition shorter than TCP's timeouts, so
  the bytes held are delivered afterwards, as TCP retransmission would;
- ``reset``: every open connection is aborted with an RST on both sides (SO_LINGER 0), and every
  new one is accepted then reset at once.

``proxy.stats`` counts connections, bytes, cuts and resets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Mode = Literal["pass", "latency", "bandwidth", "cut", "blackhole", "reset"]


@dataclass(frozen=True, slots=True)
class Fault:
    """The fault in force: a mode and its parameter."""

    mode: Mode = "pass"
    latency: float = 0.0  # seconds per chunk
    bandwidth: int = 0  # bytes per second
    cut_after: int = 0  # bytes per direction


def _rst(writer: asyncio.StreamWriter) -> None:
    """Abort with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One proxied connection: the client side, the upstream side, a budget per direction."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.generation = -1
        self.budget = [0, 0]
        self.closed = False

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]

    def reset(self) -> None:
        self.closed = True
        for writer in self.writers():
            _rst(writer)

    def close(self) -> None:
        self.closed = True
        for writer in self.writers():
            with contextlib.suppress(Exception):
                writer.close()


class FaultProxy:
    """A TCP proxy whose fault can be switched while it runs."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.fault = Fault()
        self.stats: Counter[str] = Counter()
        self._generation = 0
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control (from any thread) -------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen on 127.0.0.1 and return self once ready."""
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stop the thread."""
        if not self._thread.is_alive():
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def set(self, mode: Mode = "pass", *, latency: float = 0.0, bandwidth: int = 0,
            cut_after: int = 0) -> None:
        """Switch the fault; takes effect on open connections at once."""
        if mode == "latency" and latency <= 0 or mode == "bandwidth" and bandwidth <= 0:
            raise ValueError(f"{mode} needs a positive parameter")
        if mode == "cut" and cut_after < 0:
            raise ValueError("cut_after must be >= 0")
        self._call(self._switch(Fault(mode, latency, bandwidth, cut_after)))

    def heal(self) -> None:
        """Remove the fault."""
        self.set("pass")

    @property
    def open_connections(self) -> int:
        """Connections currently proxied."""
        return len(self._links)

    def _call(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # -- inside the loop ------------------------------------------------------------------------

    async def _start(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.reset()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _switch(self, fault: Fault) -> None:
        assert self._open is not None
        self.fault = fault
        self._generation += 1
        self.stats[f"switch_{fault.mode}"] += 1
        if fault.mode == "blackhole":
            self._open.clear()
        else:
            self._open.set()
        if fault.mode == "reset":
            for link in list(self._links):
                self.stats["reset"] += 1
                link.reset()

    def _track(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._open is not None
        self._track()
        self.stats["accepted"] += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            if self.fault.mode == "reset":
                self.stats["reset"] += 1
                link.reset()
                return
            await self._open.wait()  # a blackhole: accepted, the upstream is not reached yet
            if link.closed:
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                self.stats["upstream_refused"] += 1
                link.reset()
                return
            link.upstream = up_writer
            if link.closed:  # reset while connecting
                _rst(up_writer)
                return
            await asyncio.gather(self._pump(link, reader, up_writer, 0),
                                 self._pump(link, up_reader, writer, 1))
        finally:
            self._links.discard(link)
            link.close()

    async def _pump(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: int) -> None:
        assert self._open is not None
        try:
            while not link.closed:
                data = await reader.read(4096)
                if not data:
                    break
                await self._open.wait()  # blackhole: hold the bytes until the fault is removed
                fault = self.fault
                if link.closed:
                    break
                if link.generation != self._generation:  # the fault changed: new budgets
                    link.generation = self._generation
                    link.budget = [fault.cut_after, fault.cut_after]
                if fault.mode == "cut":
                    if len(data) >= link.budget[direction]:
                        if link.budget[direction]:
                            writer.write(data[: link.budget[direction]])
                            with contextlib.suppress(Exception):
                                await writer.drain()
                        self.stats["cut"] += 1
                        link.close()
                        break
                    link.budget[direction] -= len(data)
                if fault.mode == "latency":
                    await asyncio.sleep(fault.latency)
                if fault.mode == "bandwidth":
                    step = max(1, fault.bandwidth // 20)
                    for start in range(0, len(data), step):
                        chunk = data[start:start + step]
                        writer.write(chunk)
                        await writer.drain()
                        await asyncio.sleep(len(chunk) / fault.bandwidth)
                else:
                    writer.write(data)
                    await writer.drain()
                self.stats[("up", "down")[direction]] += len(data)
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            pass
        finally:
            if not link.closed:  # a clean end of one side: close the other (FIN)
                link.close()
