"""Downstream MLLP listeners for contract and fault tests: real sockets on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from app.integrations.hl7.mllp import END, frame, read_frame
from app.integrations.hl7.parse import sniff_header

# behaviour(message, index) -> "AA" | "AE" | "AR" | "slow" | "drop" | "drop-mid-ack" | "wrong-id"
Behaviour = Callable[[bytes, int], str]


def ack_bytes(message: bytes, code: str, control_id: str | None = None) -> bytes:
    """A minimal ACK for a received message."""
    header = sniff_header(message)
    cid = control_id if control_id is not None else (header.control_id if header else "")
    return (
        f"MSH|^~\\&|SINK|X|IDENTITO|X|20260101000000||ACK|A{cid}|P|2.5\rMSA|{code}|{cid}\r"
        f"ERR||||E||||reason {code}\r"
    ).encode()


class FakeReceiver:
    """A downstream application: records what it received and answers per a behaviour."""

    def __init__(self, behaviour: Behaviour | None = None, slow_seconds: float = 5.0) -> None:
        self.behaviour = behaviour or (lambda _m, _i: "AA")
        self.slow_seconds = slow_seconds
        self.received: list[bytes] = []
        self.acked: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> FakeReceiver:
        """Listen on 127.0.0.1 (ephemeral port unless one is given, e.g. to come back up)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while (message := await read_frame(reader)) is not None:
                if not await self._answer(message, writer):
                    return
        except Exception:  # noqa: BLE001 - a fake peer just hangs up
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, message: bytes, writer: asyncio.StreamWriter) -> bool:
        index = len(self.received)
        self.received.append(message)
        action = self.behaviour(message, index)
        if action == "drop":
            return False
        if action == "slow":
            await asyncio.sleep(self.slow_seconds)
            action = "AA"
        if action == "drop-mid-ack":
            writer.write(frame(ack_bytes(message, "AA"))[: -len(END) - 5])
            await writer.drain()
            return False
        code, cid = (action, None) if action != "wrong-id" else ("AA", "not-yours")
        writer.write(frame(ack_bytes(message, code, cid)))
        await writer.drain()
        if code == "AA":
            self.acked.append(message)
        return True
