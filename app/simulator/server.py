"""Serving the simulator with uvicorn, on HTTP or HTTPS with client-certificate checking.

uvicorn does not give the ASGI app the client certificate; ``TlsH11Protocol`` adds the ASGI TLS
extension (``scope["extensions"]["tls"]["client_cert_chain"]``) so the app can read its CN and
answer DESIR_560 like the real service. The certificate is requested but optional at the TLS
level (``CERT_OPTIONAL``): a certificate from an unknown authority fails the handshake, a missing
one reaches the app, which then wants a signed assertion.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.simulator.app import Behaviour, create_simulator_app


def _wrap_with_client_certificate(protocol: Any, transport: asyncio.Transport) -> None:
    """Give this connection's app the client certificate chain (ASGI TLS extension)."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    inner = protocol.app

    async def with_tls(scope: Any, receive: Any, send: Any) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = {"client_cert_chain": chain, "server_cert": None}
        scope["extensions"] = extensions
        await inner(scope, receive, send)

    protocol.app = with_tls


class TlsH11Protocol(H11Protocol):
    """h11 protocol that exposes the TLS client certificate to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Wrap the app of this connection with its client certificate chain."""
        super().connection_made(transport)
        _wrap_with_client_certificate(self, transport)


class TlsHttpToolsProtocol(HttpToolsProtocol):
    """httptools protocol (faster) that exposes the TLS client certificate to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Wrap the app of this connection with its client certificate chain."""
        super().connection_made(transport)
        _wrap_with_client_certificate(self, transport)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Server certificate and key, and the authorities whose client certificates are accepted."""

    certfile: Path
    keyfile: Path
    client_ca: Path | None = None


def _config(app: Starlette, host: str, port: int, tls: TlsFiles | None) -> uvicorn.Config:
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "timeout_graceful_shutdown": 1,
        "http": "httptools",
    }
    if tls is not None:
        options.update(
            http=TlsHttpToolsProtocol,
            ssl_certfile=str(tls.certfile),
            ssl_keyfile=str(tls.keyfile),
            ssl_ca_certs=str(tls.client_ca) if tls.client_ca else None,
            ssl_cert_reqs=ssl.CERT_OPTIONAL if tls.client_ca else ssl.CERT_NONE,
        )
    return uvicorn.Config(app, **options)


class SimulatorServer:
    """The simulator served by uvicorn in a background thread (tests, benchmarks, demos)."""

    def __init__(
        self,
        *,
        personas: Path | None = None,
        behaviour: Behaviour | None = None,
        tls: TlsFiles | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        behaviour = behaviour or Behaviour()
        if tls is not None and tls.client_ca is not None:
            behaviour.require_authentication = True
        self.app = create_simulator_app(personas, behaviour)
        self.behaviour = behaviour
        self.tls = tls
        self.server = uvicorn.Server(_config(self.app, host, port, tls))
        self.thread = threading.Thread(target=self.server.run, name="insi-simulator", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint URL (…/lps)."""
        sock = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/lps"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        """Start serving and wait until the socket listens."""
        self.thread.start()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive() or waited > timeout:
                raise RuntimeError("the INSi simulator did not start")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    personas: Path | None = None,
    behaviour: Behaviour | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """Serve the simulator in the foreground (``identito insi-simulator``)."""
    behaviour = behaviour or Behaviour()
    if tls is not None and tls.client_ca is not None:
        behaviour.require_authentication = True
    app = create_simulator_app(personas, behaviour)
    server = uvicorn.Server(_config(app, host, port, tls))
    # Start-up objects (modules, personas, the app) never die: keeping them out of the collector
    # spares the ~15 ms pauses of full collections that would make a "fixed latency" wander.
    gc.collect()
    gc.freeze()
    server.run()
