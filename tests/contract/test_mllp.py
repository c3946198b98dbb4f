"""MLLP over real sockets: server and client, faults, TLS and mutual TLS."""

from __future__ import annotations

import asyncio

import pytest

from app.integrations.hl7.build import OutboundFormat, build_ack, build_identity_message
from app.integrations.hl7.errors import (
    AckError,
    AckMismatch,
    AckRejected,
    MllpConnectError,
    MllpDropped,
    MllpTimeout,
)
from app.integrations.hl7.mllp import (
    MllpClient,
    MllpServer,
    Peer,
    client_ssl_context,
    frame,
    server_ssl_context,
)
from app.integrations.hl7.parse import parse_pam
from tests.contract.mllp_fakes import FakeReceiver
from tests.contract.tls_certs import make_tls_files
from tests.hl7_samples import ans_sample, envelope, outbound_identity


def run(coro):
    """Run one async scenario with an overall guard."""
    return asyncio.run(asyncio.wait_for(coro, 30))


class Recorder:
    """An inbound handler that parses the message and acknowledges it AA."""

    def __init__(self, delay: float = 0.0) -> None:
        self.parsed = []
        self.peers: list[Peer] = []
        self.delay = delay

    async def __call__(self, message: bytes, peer: Peer) -> bytes:
        parsed = parse_pam(message)
        await asyncio.sleep(self.delay)
        self.parsed.append(parsed)
        self.peers.append(peer)
        return build_ack(
            envelope("ack-" + parsed.header.control_id), parsed.event, parsed.header.control_id, "AA"
        ).encode()


def test_ans_sample_crosses_the_socket_and_is_acknowledged():
    async def scenario():
        handler = Recorder()
        async with (
            MllpServer(handler, "127.0.0.1", 0) as server,
            MllpClient("127.0.0.1", server.port) as client,
        ):
            ack = await client.deliver(ans_sample(), "3975")
        return handler, ack

    handler, ack = run(scenario())
    assert (ack.code, ack.control_id) == ("AA", "3975")
    assert handler.parsed[0].ipp.value == "000003" and handler.parsed[0].ins[0].matricule == "279035121518989"
    assert handler.peers[0].host == "127.0.0.1" and handler.peers[0].tls_subject is None


def test_many_concurrent_senders_each_get_their_own_acks():
    async def sender(port: int, sender_id: int) -> list[str]:
        async with MllpClient("127.0.0.1", port) as client:
            ids = []
            for n in range(10):
                cid = f"S{sender_id}-{n}"
                text = build_identity_message(
                    "A31", outbound_identity(ipp=f"{sender_id}{n}"), envelope(cid), OutboundFormat.INS_READY
                )
                ids.append((await client.deliver(text.encode(), cid)).control_id)
            return ids

    async def scenario():
        handler = Recorder(delay=0.001)
        async with MllpServer(handler, "127.0.0.1", 0) as server:
            results = await asyncio.gather(*(sender(server.port, s) for s in range(20)))
        return handler, results

    handler, results = run(scenario())
    assert results == [[f"S{s}-{n}" for n in range(10)] for s in range(20)]
    assert len(handler.parsed) == 200


def message(cid: str) -> bytes:
    """An outbound A31 with a given MSH-10."""
    return build_identity_message(
        "A31", outbound_identity(), envelope(cid), OutboundFormat.INS_READY
    ).encode()


def with_receiver(behaviour, body, **kwargs):
    """Run ``body(client, receiver)`` against a fake downstream application."""

    async def scenario():
        receiver = await FakeReceiver(behaviour, slow_seconds=kwargs.pop("slow", 5.0)).start()
        client = MllpClient("127.0.0.1", receiver.port, **kwargs)
        try:
            return await body(client, receiver)
        finally:
            await client.close()
            await receiver.close()

    return run(scenario())


def test_listener_down_is_a_connect_error():
    async def scenario():
        receiver = await FakeReceiver().start()
        port = receiver.port
        await receiver.close()
        async with MllpClient("127.0.0.1", port, connect_timeout_seconds=1) as client:
            await client.deliver(message("1"), "1")

    with pytest.raises(MllpConnectError):
        run(scenario())


def test_slow_listener_times_out_then_next_send_reconnects():
    async def body(client, receiver):
        with pytest.raises(MllpTimeout):
            await client.deliver(message("1"), "1")
        return await client.deliver(message("2"), "2")

    ack = with_receiver(lambda _m, i: "slow" if i == 0 else "AA", body, ack_timeout_seconds=0.3, slow=1.0)
    assert ack.code == "AA"


@pytest.mark.parametrize(("action", "error"), [("AE", AckError), ("AR", AckRejected)])
def test_negative_acks_are_typed(action, error):
    async def body(client, receiver):
        with pytest.raises(error) as raised:
            await client.deliver(message("7"), "7")
        return raised.value

    negative = with_receiver(lambda _m, _i: action, body)
    assert (negative.ack_code, negative.control_id, negative.text) == (action, "7", f"reason {action}")


@pytest.mark.parametrize("action", ["drop", "drop-mid-ack"])
def test_dropped_connection_is_reported_and_the_client_recovers(action):
    async def body(client, receiver):
        with pytest.raises(MllpDropped):
            await client.deliver(message("1"), "1")
        ack = await client.deliver(message("1"), "1")
        return ack, receiver.received

    ack, received = with_receiver(lambda _m, i: action if i == 0 else "AA", body)
    assert ack.code == "AA" and len(received) == 2 and received[0] == received[1]


def test_ack_for_another_message_is_refused():
    async def body(client, receiver):
        await client.deliver(message("1"), "1")

    with pytest.raises(AckMismatch):
        with_receiver(lambda _m, _i: "wrong-id", body)


def test_server_survives_garbage_and_oversized_frames():
    async def scenario():
        handler = Recorder()
        async with MllpServer(handler, "127.0.0.1", 0, max_message_bytes=4096) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"hello, not mllp\x1c\x0d")
            await writer.drain()
            assert await reader.read() == b""
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(frame(b"MSH|" + b"x" * 10000))
            await writer.drain()
            assert await reader.read() == b""
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"\x0bMSH|^~\\&|half a message")
            writer.close()
            async with MllpClient("127.0.0.1", server.port) as client:
                return await client.deliver(ans_sample(), "3975")

    assert run(scenario()).code == "AA"


def test_mutual_tls_identifies_the_sender_and_refuses_anonymous_clients(tmp_path):
    files = make_tls_files(tmp_path)

    async def scenario():
        handler = Recorder()
        server_tls = server_ssl_context(files.server_cert, files.server_key, files.ca)
        async with MllpServer(handler, "127.0.0.1", 0, ssl_context=server_tls) as server:
            good = client_ssl_context(files.ca, files.client_cert, files.client_key)
            async with MllpClient("127.0.0.1", server.port, ssl_context=good) as client:
                ack = await client.deliver(ans_sample(), "3975")
            anonymous = MllpClient(
                "127.0.0.1", server.port, ssl_context=client_ssl_context(files.ca), ack_timeout_seconds=2
            )
            with pytest.raises((MllpConnectError, MllpDropped)):
                await anonymous.deliver(ans_sample(), "3975")
            await anonymous.close()
        return ack, handler.peers

    ack, peers = run(scenario())
    assert ack.code == "AA" and [p.tls_subject for p in peers] == ["GAM-CHU-X"]


def test_tls_client_refuses_an_unknown_server(tmp_path):
    files = make_tls_files(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_tls_files(tmp_path / "other")

    async def scenario():
        server_tls = server_ssl_context(files.server_cert, files.server_key)
        async with MllpServer(Recorder(), "127.0.0.1", 0, ssl_context=server_tls) as server:
            client = MllpClient("127.0.0.1", server.port, ssl_context=client_ssl_context(other.ca))
            try:
                await client.deliver(ans_sample(), "3975")
            finally:
                await client.close()

    with pytest.raises(MllpConnectError):
        run(scenario())
