"""The vpcd link: framing against a stand-in server, then end to end through the real pcscd."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from reader.virtual.faults import Faults
from reader.virtual.vpcd import VpcdConnection

from .virtual_terminal import Terminal

SELECT_AID = bytes.fromhex("00A4040C07A0000002471001")
SELECT_MF = bytes.fromhex("00A4000C023F00")


class FakeVpcd:
    """pcscd's side of the vpcd socket, reduced to sending frames and reading replies."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.listener.settimeout(5)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(5)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(len(payload).to_bytes(2, "big") + payload)

    def recv(self) -> bytes | None:
        assert self.conn is not None
        header = self._exact(2)
        if header is None:
            return None
        return self._exact(int.from_bytes(header, "big"))

    def _exact(self, n: int) -> bytes | None:
        assert self.conn is not None
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def fake() -> Iterator[FakeVpcd]:
    server = FakeVpcd()
    yield server
    server.close()


def test_controls_and_apdus_are_framed(make_card, fake: FakeVpcd) -> None:
    card = make_card()
    with VpcdConnection(card, "127.0.0.1", fake.port) as link:
        fake.accept()
        fake.send(b"\x04")
        assert fake.recv() == card.atr
        fake.send(b"\x01")  # power on: no answer
        fake.send(SELECT_AID)
        assert fake.recv() == b"\x90\x00"
        fake.send(SELECT_MF)
        assert fake.recv() == b"\x6d\x00"
        fake.send(b"\x02")  # reset
        fake.send(b"\x00")  # power off
        fake.send(bytes.fromhex("00A4020C02011C"))
        assert fake.recv() == b"\x90\x00"
        assert link.connected
    assert fake.recv() is None  # stop() closed the socket: pcscd sees the card removed
    assert link.error is None and link.wait_closed(0)


def test_a_pulled_card_closes_the_socket_at_once(make_card, fake: FakeVpcd) -> None:
    link = VpcdConnection(make_card(faults=Faults(pull_out_at_apdu=2)), "127.0.0.1", fake.port)
    link.start()
    fake.accept()
    fake.send(SELECT_AID)
    assert fake.recv() == b"\x90\x00"
    fake.send(SELECT_AID)
    assert fake.recv() is None
    assert link.wait_closed(5) and link.error is None


def test_a_crashing_card_is_recorded_not_silent(fake: FakeVpcd) -> None:
    class Broken:
        atr = b"\x3b\x00"

        def power_on(self) -> None: ...
        def power_off(self) -> None: ...
        def reset(self) -> None: ...

        def process(self, apdu: bytes) -> bytes:
            raise RuntimeError("boom")

    link = VpcdConnection(Broken(), "127.0.0.1", fake.port)
    link.start()
    fake.accept()
    fake.send(SELECT_AID)
    assert fake.recv() is None
    assert link.wait_closed(5)
    assert isinstance(link.error, RuntimeError)


def test_start_waits_for_a_late_listener(make_card) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # the port is free: nobody listens yet
    server: list[FakeVpcd] = []

    def listen_later() -> None:
        time.sleep(0.3)
        s = FakeVpcd.__new__(FakeVpcd)
        s.listener = socket.create_server(("127.0.0.1", port))
        s.port, s.conn = port, None
        server.append(s)
        s.accept()

    thread = threading.Thread(target=listen_later)
    thread.start()
    link = VpcdConnection(make_card(), "127.0.0.1", port, connect_timeout=5)
    link.start()
    thread.join()
    server[0].send(b"\x04")
    assert server[0].recv() == link.card.atr
    link.stop()
    server[0].close()


def test_nobody_listening_is_a_clear_error(make_card) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionError, match="pcscd"):
        VpcdConnection(make_card(), "127.0.0.1", port, connect_timeout=0.3).start()


# --- end to end through pcscd -------------------------------------------------------------

READER = "Virtual PCD 00 00"


class PcscCard:
    """Lets the test terminal talk through pyscard instead of calling the card directly."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def process(self, raw: bytes) -> bytes:
        data, sw1, sw2 = self.connection.transmit(list(raw))
        return bytes(data) + bytes([sw1, sw2])


def _reader_state(name: str) -> int:
    from smartcard import scard

    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        _, states = scard.SCardGetStatusChange(context, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        return states[0][1]
    finally:
        scard.SCardReleaseContext(context)


def _wait_for(flag: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _reader_state(READER) & flag:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.pcsc
def test_end_to_end_through_pcscd(pcscd, make_card) -> None:
    from smartcard import scard
    from smartcard.System import readers

    assert _wait_for(scard.SCARD_STATE_EMPTY), f"another card already occupies {READER!r}"
    card = make_card("tran-thi-bich-ngoc")
    link = VpcdConnection(card, port=35963)
    link.start()
    try:
        assert _wait_for(scard.SCARD_STATE_PRESENT), "pcscd did not see the virtual card"
        reader = next(r for r in readers() if str(r) == READER)
        connection = reader.createConnection()
        connection.connect()
        assert bytes(connection.getATR()) == card.atr
        data, sw1, sw2 = connection.transmit(list(SELECT_AID))
        assert (data, sw1, sw2) == ([], 0x90, 0x00)
        data, sw1, sw2 = connection.transmit(list(SELECT_MF))
        assert (sw1, sw2) == (0x6D, 0x00)
        # BAC, then all of DG2 (> 32767 bytes) in one protected extended-length answer.
        terminal = Terminal(PcscCard(connection))
        terminal.bac(card.access_data()["mrz_information"])
        assert terminal.select(0x0102).sw == 0x9000
        answer = terminal.sm(0xB0, 0, 0, le=0, extended=True)
        assert answer.sw == 0x6282 and answer.data == card.files["DG2"]
        connection.disconnect()
    finally:
        link.stop()
    assert _wait_for(scard.SCARD_STATE_EMPTY), "pcscd still sees a card after stop()"
    assert link.error is None
