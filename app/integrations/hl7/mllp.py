"""MLLP over asyncio: framing, a server that acknowledges each message, and a client.

Frame = 0x0B + message + 0x1C 0x0D. The server reads one frame at a time per connection, awaits
the handler (which returns the ACK bytes only once the message is durably stored) and writes the
ACK before reading the next frame. A handler that raises closes the connection without an ACK,
so the sender resends (the inbound side is idempotent on MSH-10). Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.integrations.hl7.errors import (
    AckError,
    AckMismatch,
    AckRejected,
    Hl7FormatError,
    MllpConnectError,
    MllpDropped,
    MllpProtocolError,
    MllpTimeout,
)
from app.integrations.hl7.parse import Ack, parse_ack

START = b"\x0b"
END = b"\x1c\x0d"
DEFAULT_MAX_BYTES = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is on the other end of a server connection."""

    host: str
    port: int
    tls_subject: str | None = None  # client certificate common name (mutual TLS)


Handler = Callable[[bytes, Peer], Awaitable[bytes]]


def frame(message: bytes) -> bytes:
    """Wrap a message in an MLLP frame."""
    return START + message + END


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """Next framed message; None on a clean end of stream between frames."""
    try:
        data = await reader.readuntil(END)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise MllpDropped("connection closed in the middle of a frame") from None
        return None
    except asyncio.LimitOverrunError:
        raise MllpProtocolError("frame larger than the configured maximum") from None
    except (ConnectionError, ssl.SSLError) as exc:
        raise MllpDropped(type(exc).__name__) from None
    start = data.find(START)
    if start < 0 or data[:start].strip():
        raise MllpProtocolError("data outside an MLLP frame")
    return data[start + 1 : -len(END)]


def server_ssl_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS for the listener; with ``client_ca`` the sender must present a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(ca: Path | None, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """TLS for the relay: verify the receiver against ``ca``; present ``cert`` for mutual TLS."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def _peer(writer: asyncio.StreamWriter) -> Peer:
    address = writer.get_extra_info("peername") or ("?", 0)
    subject = None
    certificate = writer.get_extra_info("peercert")
    if certificate:
        for rdn in certificate.get("subject", ()):
            for name, value in rdn:
                if name == "commonName":
                    subject = value
    return Peer(str(address[0]), int(address[1]), subject)


class MllpServer:
    """An MLLP listener serving many concurrent connections."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_message_bytes: int = DEFAULT_MAX_BYTES,
        idle_timeout_seconds: float = 300.0,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.max_message_bytes = max_message_bytes
        self.idle_timeout_seconds = idle_timeout_seconds
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> MllpServer:
        """Bind and listen; ``port`` becomes the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.ssl_context, limit=self.max_message_bytes
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        aclose = getattr(self.handler, "aclose", None)
        if aclose is not None:  # a handler holding resources (worker processes) releases them
            await aclose()

    async def __aenter__(self) -> MllpServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        peer = _peer(writer)
        try:
            await self._loop(reader, writer, peer)
        except (MllpDropped, MllpProtocolError, TimeoutError, ConnectionError) as exc:
            log.info("mllp connection from %s:%s ended: %s", peer.host, peer.port, type(exc).__name__)
        except Exception:
            log.exception("mllp handler failed; connection closed without ACK")
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer) -> None:
        while True:
            message = await asyncio.wait_for(read_frame(reader), self.idle_timeout_seconds)
            if message is None:
                return
            ack = await self.handler(message, peer)
            writer.write(frame(ack))
            await writer.drain()


class MllpClient:
    """One MLLP connection to a receiver; reconnects on the next send after any failure."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout_seconds: float = 5.0,
        ack_timeout_seconds: float = 10.0,
        max_message_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.connect_timeout_seconds = connect_timeout_seconds
        self.ack_timeout_seconds = ack_timeout_seconds
        self.max_message_bytes = max_message_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection (within the connect timeout)."""
        hostname = (self.server_hostname or self.host) if self.ssl_context else None
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=hostname,
                    limit=self.max_message_bytes,
                ),
                self.connect_timeout_seconds,
            )
        except TimeoutError:
            raise MllpTimeout("connect timeout") from None
        except (OSError, ssl.SSLError) as exc:
            raise MllpConnectError(type(exc).__name__) from None

    async def send(self, message: bytes) -> bytes:
        """Send one message and return the raw ACK; any failure closes the connection."""
        if self._writer is None:
            await self.connect()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(frame(message))
            await asyncio.wait_for(self._writer.drain(), self.ack_timeout_seconds)
            ack = await asyncio.wait_for(read_frame(self._reader), self.ack_timeout_seconds)
        except TimeoutError:
            await self.close()
            raise MllpTimeout("no acknowledgement in time") from None
        except (ConnectionError, ssl.SSLError) as exc:
            await self.close()
            raise MllpDropped(type(exc).__name__) from None
        except BaseException:
            await self.close()
            raise
        if ack is None:
            await self.close()
            raise MllpDropped("connection closed before the acknowledgement")
        return ack

    async def deliver(self, message: bytes, control_id: str) -> Ack:
        """Send and check the ACK: AA/CA returned, AE/CE -> AckError, AR/CR -> AckRejected."""
        raw = await self.send(message)
        try:
            ack = parse_ack(raw)
        except Hl7FormatError:
            await self.close()
            raise MllpProtocolError("the acknowledgement is not a readable HL7 ACK") from None
        if ack.control_id != control_id:
            await self.close()
            raise AckMismatch(f"MSA-2 {ack.control_id[:20]!r} does not answer {control_id[:20]!r}")
        if ack.code in ("AE", "CE"):
            raise AckError(ack.code, ack.control_id, ack.text)
        if ack.code not in ("AA", "CA"):
            raise AckRejected(ack.code, ack.control_id, ack.text)
        return ack

    async def close(self) -> None:
        """Close the connection if open."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def __aenter__(self) -> MllpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
