"""The credentials of one installation, checked at start-up, and their HTTP channels.

Calls made for a person use the INSI-MANU certificate, unattended ones (campaigns) INSI-AUTO; in
card mode every call carries the card holder's signed assertion over server-auth TLS.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from lxml import etree

from app.config import InsiSettings
from app.domain.insi import CallPurpose, CredentialMode, InsiConfigurationError
from app.integrations.insi.credentials import (
    SERVER_AUTH_CHANNEL,
    Credential,
    ServerCertificate,
    client_ssl_context,
)


def http_client(verify: Any, max_connections: int) -> httpx.Client:
    """An httpx client for one TLS identity (each call sets its own timeouts within its deadline)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    # TCP_NODELAY: headers and body go out in two writes; with Nagle the body waits for the delayed
    # ACK of the headers (about 40 ms per call on Linux).
    transport = httpx.HTTPTransport(
        verify=verify,
        limits=limits,
        http2=False,
        trust_env=False,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    return httpx.Client(transport=transport, timeout=httpx.Timeout(10.0), trust_env=False)


class SimulatorCredential:
    """Development only: no credential, for the local simulator over plain HTTP on loopback."""

    mode = CredentialMode.SIMULATOR
    channel = SERVER_AUTH_CHANNEL
    emitter = "IDENTITO-SIMULATEUR"

    def assertions(self) -> list[etree._Element]:
        """Nothing to sign."""
        return []


def _local_simulator(settings: InsiSettings) -> bool:
    url = urlparse(settings.endpoint)
    return settings.simulator and url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class Credentials:
    """The server certificates and/or card of this installation."""

    server_auth: ssl.SSLContext
    auto: ServerCertificate | None = None
    manu: ServerCertificate | None = None
    card: Credential | None = None
    fallback: Credential | None = None
    tls_client_channels: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self.tls_client_channels = frozenset(c.channel for c in (self.auto, self.manu) if c is not None)

    @property
    def default_channel(self) -> str:
        """The channel zeep's own transport uses (it only loads local files)."""
        return SERVER_AUTH_CHANNEL

    def for_purpose(self, purpose: CallPurpose) -> Credential:
        """MANU for a person's call, AUTO for an unattended one; the card when configured."""
        if self.card is not None:
            return self.card
        chosen: Credential | None = self.manu if purpose is CallPurpose.ATTENDED else self.auto
        chosen = chosen or self.fallback
        if chosen is None:
            needed = "INSI-MANU" if purpose is CallPurpose.ATTENDED else "INSI-AUTO"
            raise InsiConfigurationError(detail=f"no {needed} certificate configured")
        return chosen

    def http_clients(self, max_connections: int) -> dict[str, httpx.Client]:
        """One httpx client per TLS identity, plus the server-auth one."""
        clients = {SERVER_AUTH_CHANNEL: http_client(self.server_auth, max_connections)}
        for cert in (self.auto, self.manu):
            if cert is not None:
                clients[cert.channel] = http_client(cert.context, max_connections)
        return clients


def build_credentials(
    settings: InsiSettings, now: datetime | None = None, clock: Callable[[], datetime] | None = None
) -> Credentials:
    """Load and check the configured credentials; refuse to start on any problem."""
    moment = now or datetime.now(UTC)
    credentials = Credentials(server_auth=client_ssl_context(settings.ca_bundle_path))
    pairs = (
        ("INSI-AUTO", settings.cert_auto_path, settings.cert_auto_password, settings.cert_auto_key_path),
        ("INSI-MANU", settings.cert_manu_path, settings.cert_manu_password, settings.cert_manu_key_path),
    )
    loaded: dict[str, ServerCertificate] = {}
    for cn, path, password, key_path in pairs:
        if path is not None:
            loaded[cn] = ServerCertificate.load(
                path,
                password=password,
                key_path=key_path,
                expected_cn=cn,
                ca_bundle=settings.ca_bundle_path,
                now=moment,
                max_version=settings.mtls_max_version,
            )
    credentials = Credentials(
        server_auth=credentials.server_auth,
        auto=loaded.get("INSI-AUTO"),
        manu=loaded.get("INSI-MANU"),
        fallback=SimulatorCredential() if _local_simulator(settings) and not loaded else None,
    )
    if settings.credential_mode == "card":
        credentials.card = _card(settings, clock)
    return credentials


def _card(settings: InsiSettings, clock: Callable[[], datetime] | None) -> Credential:
    from app.integrations.insi.card import CardCredential

    if not (settings.card_token_label and settings.card_pin):
        raise InsiConfigurationError(detail="card mode needs insi.card_token_label and insi.card_pin")
    return CardCredential(
        module=settings.card_module_path,
        token_label=settings.card_token_label,
        pin=settings.card_pin,
        key_label=settings.card_key_label,
        billing_id=settings.card_billing_id,
        activity_sector=settings.card_activity_sector,
        holder=settings.card_holder_id,
        validity=timedelta(seconds=settings.assertion_validity_seconds),
        renew_margin=timedelta(seconds=settings.assertion_renew_margin_seconds),
        **({"clock": clock} if clock else {}),
    )
