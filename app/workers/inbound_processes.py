"""Worker processes of the MLLP listener (``hl7.inbound_processes`` > 1).

Parsing and applying a message is CPU work under the GIL; a single listener process therefore
uses one core at most. With worker processes, the listener's event loop only frames messages and
ACKs, and hands each group of waiting messages to an idle worker over a pipe. The pipe is watched
by the event loop itself (no executor threads): handing a group over costs a few microseconds.

A worker that dies (killed, out of memory) fails the messages it held, whose connections are
closed without ACK (the sender sends them again), and is replaced. So is a worker that hangs: one
that has not answered a group within ``hl7.inbound_group_timeout_seconds`` is killed first. Its
database transaction dies with its connection, so nothing of the group was committed.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from app.config import Settings

log = logging.getLogger("identito.mllp")
_CONTEXT = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited pool or threads


class WorkerDied(RuntimeError):
    """The worker process ended while it held messages."""


class WorkerHung(WorkerDied):
    """The worker process did not answer a group in time; it has been killed."""


class WorkerProcess:
    """One worker process and the pipe to it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_main, args=(child, settings), name="identito-mllp-worker",
                                        daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker has built its database engine (start-up)."""
        if not self.conn.poll(timeout):
            raise WorkerDied("MLLP worker process did not start")
        self.conn.recv()

    async def process_many(self, raws: list[bytes]) -> list[bytes]:
        """Send a group, wait (without blocking the loop) for its ACKs."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        timeout = self.settings.hl7.inbound_group_timeout_seconds
        try:
            self.conn.send(raws)
            await asyncio.wait_for(ready, timeout)
        except OSError as exc:  # the pipe broke: the process is gone
            raise WorkerDied(f"MLLP worker process {self.process.pid} ended") from exc
        except TimeoutError:
            self.process.kill()
            raise WorkerHung(
                f"MLLP worker process {self.process.pid} did not answer {len(raws)} message(s) "
                f"within {timeout:g} s and was killed"
            ) from None
        finally:
            loop.remove_reader(fd)
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"MLLP worker process {self.process.pid} ended") from exc
        if status != "ok":
            raise RuntimeError(f"MLLP worker process failed: {payload}")
        return payload  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Close the pipe (the worker then exits) and wait for it."""
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class WorkerPool:
    """A fixed number of worker processes; ``run`` takes an idle one for one group."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.workers = [WorkerProcess(settings) for _ in range(count)]
        for worker in self.workers:
            worker.wait_ready()
        self._idle: asyncio.Queue[WorkerProcess] | None = None

    async def run(self, raws: list[bytes]) -> list[bytes]:
        """Apply a group in an idle worker (waits for one)."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self.workers:
                self._idle.put_nowait(worker)
        worker = await self._idle.get()
        try:
            return await worker.process_many(raws)
        except WorkerDied as exc:
            log.error("%s; starting another", exc)
            worker.stop()
            worker = await asyncio.to_thread(self._replace, worker)
            raise
        finally:
            self._idle.put_nowait(worker)

    def _replace(self, dead: WorkerProcess) -> WorkerProcess:
        fresh = WorkerProcess(self.settings)
        fresh.wait_ready()
        self.workers[self.workers.index(dead)] = fresh
        return fresh

    def stop(self) -> None:
        """Stop every worker."""
        for worker in self.workers:
            worker.stop()


def _main(conn: Connection, settings: Settings) -> None:
    """A worker process: build the service context, then apply groups until the pipe closes."""
    from app.wiring.context import build_context, setup_logging
    from app.wiring.hl7 import InboundPipeline

    setup_logging(settings.log_level)
    handler = InboundPipeline(build_context(settings), settings)
    conn.send(("ready", None))
    while True:
        try:
            raws = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        reply: tuple[str, Any]
        try:
            reply = ("ok", handler.process_many(raws))
        except Exception as exc:  # a defect: reported to the listener, which closes the connections
            log.exception("MLLP worker failed on a group of %d message(s)", len(raws))
            reply = ("error", type(exc).__name__)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            break
    handler.ctx.engine.dispose()
