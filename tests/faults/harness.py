"""Real processes and sockets of the fault scenarios: the service's processes, the GAM, a downstream.

The service runs as the operator runs it: `identito mllp-listen` and `identito relay` (and
`identito worker --campaign N`) in their own processes, configured by IDENTITO_ variables
(`tests.campaign_processes.runner_env`). The GAM is a sender on its own thread that sends its
messages in order, one at a time, and resends a message until it gets an AA, on a new connection
after any error (what a GAM does). The downstream application is the contract tests' FakeReceiver
on its own event loop thread (`tests.integration.test_hl7_crash.ThreadedReceiver`).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.integrations.hl7.errors import MllpError
from app.integrations.hl7.mllp import MllpClient
from app.integrations.hl7.parse import parse_ack
from tests.campaign_processes import ROOT, runner_env
from tests.integration.test_hl7_inbound import pam

# Fast retries so that a scenario drains in seconds once its fault is removed.
FAST_HL7 = {
    "IDENTITO_HL7__LEASE_SECONDS": "2",
    "IDENTITO_HL7__CONNECT_TIMEOUT_SECONDS": "0.5",
    "IDENTITO_HL7__ACK_TIMEOUT_SECONDS": "0.5",
    "IDENTITO_HL7__RETRY_BASE_SECONDS": "0.05",
    "IDENTITO_HL7__RETRY_MAX_SECONDS": "0.3",
    "IDENTITO_HL7__MAX_ERROR_ATTEMPTS": "1000",
    "IDENTITO_HL7__RELAY_IDLE_SECONDS": "0.05",
    "IDENTITO_HL7__RELAY_BATCH_SIZE": "20",
    "IDENTITO_HL7__RELAY_CONNECTIONS_PER_SUBSCRIBER": "2",
}
NO_INSI = "http://127.0.0.1:9/lps"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def through(database_url: str, port: int) -> str:
    """The same database URL, reached through a proxy on 127.0.0.1:port."""
    parts = urlsplit(database_url)
    user = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``condition``; returns the seconds it took, fails with ``what`` after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


class Service:
    """One `identito ...` process, startable again after a SIGKILL."""

    def __init__(self, database_url: str, var_dir: Path, *args: str, sim_url: str = NO_INSI,
                 listen_port: int | None = None, extra: dict[str, str] | None = None,
                 **qualification: object) -> None:
        values = {**FAST_HL7, **(extra or {})}
        if listen_port is not None:
            values["IDENTITO_HL7__LISTEN_PORT"] = str(listen_port)
        self.env = runner_env(database_url, sim_url, var_dir, values, **qualification)
        self.args = args
        self.log = var_dir / "logs" / f"{args[0]}-{id(self)}.log"
        self.listen_port = listen_port
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> Service:
        # Output to a file, not a pipe: a chatty process must never block on a full pipe.
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()",
                                             *self.args], env=self.env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT)
        if self.listen_port is not None:
            wait_for(self._listening, 30, f"{self.args[0]} listening")
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.args[0]} exited: {self.output()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.listen_port or 0)) == 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None

    def output(self) -> str:
        """What the process (all its runs) printed."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def gam_messages(tag: str, identities: int, updates: int) -> list[bytes]:
    """Creations then used-name updates of ``identities`` patients, interleaved (each changes the
    identity, so each gives one outbound message per subscriber)."""
    names = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [
        pam(f"{tag}-{n}-{k}", ipp=f"{n:05d}", used=f"NOM{names[k - 1]}" if k else "")
        for k in range(updates + 1)
        for n in range(identities)
    ]


@dataclass
class Gam:
    """The sending GAM: in order, one at a time, resent until AA, on its own thread."""

    port: int
    messages: list[bytes]
    ack_timeout: float = 2.0
    acknowledged: list[bytes] = field(default_factory=list)
    attempts: int = 0
    errors: int = 0
    refusals: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    failure: BaseException | None = None

    def start(self) -> Gam:
        self._thread = threading.Thread(target=self._main, name="gam", daemon=True)
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        """Still sending (some message not acknowledged yet)."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.stop.set()
            self._thread.join(5)
            raise AssertionError(f"the GAM did not get all its ACKs within {timeout:.0f} s "
                                 f"({len(self.acknowledged)}/{len(self.messages)})")
        if self.failure is not None:
            raise self.failure

    def _main(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.failure = exc

    async def _send_all(self) -> None:
        client: MllpClient | None = None
        for message in self.messages:
            while not self.stop.is_set():
                self.attempts += 1
                try:
                    if client is None:
                        client = MllpClient("127.0.0.1", self.port, connect_timeout_seconds=0.5,
                                            ack_timeout_seconds=self.ack_timeout)
                        await client.connect()
                    ack = parse_ack(await client.send(message))
                except (MllpError, OSError):
                    self.errors += 1
                    if client is not None:
                        await client.close()
                    client = None
                    await asyncio.sleep(0.05)
                    continue
                if ack.code == "AA":
                    self.acknowledged.append(message)
                    break
                self.refusals.append(ack.code)  # AR: not stored (database down), resend later
                await asyncio.sleep(0.1)
        if client is not None:
            await client.close()
