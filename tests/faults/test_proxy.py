"""The fault proxy itself, against an echo server on a real socket."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    received = bytearray()  # everything the upstream got, over all connections

    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                _Echo.received += data
                self.request.sendall(data)
        except OSError:
            return


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    _Echo.received.clear()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = FaultProxy("127.0.0.1", server.server_address[1]).start()
    yield started
    started.stop()
    server.shutdown()
    server.server_close()


def _connect(proxy: FaultProxy, timeout: float = 3.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_pass_and_latency(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"hello")
        assert _read(sock, 5) == b"hello" and time.monotonic() - started < 0.2
        proxy.set("latency", latency=0.3)  # switched on an open connection
        started = time.monotonic()
        sock.sendall(b"again")
        assert _read(sock, 5) == b"again" and time.monotonic() - started >= 0.6  # both ways


def test_bandwidth_limit(proxy: FaultProxy) -> None:
    proxy.set("bandwidth", bandwidth=20_000)
    with _connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"x" * 10_000)
        assert _read(sock, 10_000) == b"x" * 10_000
        assert time.monotonic() - started >= 0.45  # 10 kB at 20 kB/s, each way (pipelined)


def test_cut_after_n_bytes_mid_message(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"warm")
        assert _read(sock, 4) == b"warm"
        proxy.set("cut", cut_after=7)
        sock.sendall(b"0123456789")
        assert _read(sock, 10) == b""  # the connection is closed...
    deadline = time.monotonic() + 2
    while len(_Echo.received) < 11 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bytes(_Echo.received) == b"warm0123456"  # ...after seven bytes reached the upstream
    assert proxy.stats["cut"] == 1


def test_blackhole_holds_then_delivers_after_heal(proxy: FaultProxy) -> None:
    proxy.set("blackhole")
    with _connect(proxy, timeout=0.5) as sock:  # accepted
        sock.sendall(b"ping")
        with pytest.raises(TimeoutError):
            sock.recv(4)
        proxy.heal()
        sock.settimeout(3)
        assert _read(sock, 4) == b"ping"


def test_reset_sends_rst_to_open_and_new_connections(proxy: FaultProxy) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"a")
        assert _read(sock, 1) == b"a"
        proxy.set("reset")
        time.sleep(0.1)
        with pytest.raises(ConnectionResetError):
            sock.sendall(b"b")
            sock.recv(1)
        with _connect(proxy) as other, pytest.raises(ConnectionResetError):
            other.recv(1)
    proxy.heal()
    with _connect(proxy) as sock:
        sock.sendall(b"c")
        assert _read(sock, 1) == b"c"


def test_bad_parameters_are_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError):
        proxy.set("latency")
    with pytest.raises(ValueError):
        proxy.set("bandwidth", bandwidth=0)
