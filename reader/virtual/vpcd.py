"""Connects a virtual card to pcscd through the vsmartcard ``vpcd`` driver.

The card is a TCP *client* of pcscd (port 35963 = reader "Virtual PCD 00 00", 35964 = "... 01").
Every frame is a 2-byte big-endian length and a payload. A 1-byte payload is a control
(0 power off, 1 power on, 2 reset, 4 get ATR, answered with the ATR); anything longer is a
command APDU, answered with the response APDU. Closing the socket is how pcscd learns that the
card has gone, so a :class:`CardPulled` fault closes it at once.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Protocol

from .faults import CardPulled

DEFAULT_PORT = 35963
MAX_FRAME = 0xFFFF
CTRL_POWER_OFF, CTRL_POWER_ON, CTRL_RESET, CTRL_GET_ATR = 0, 1, 2, 4


class VpcdCard(Protocol):
    atr: bytes

    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...
    def process(self, apdu: bytes) -> bytes: ...


class VpcdConnection:
    """One card in one vpcd slot. ``error`` holds whatever ended the link abnormally."""

    def __init__(
        self,
        card: VpcdCard,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        *,
        connect_timeout: float = 5.0,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.error: BaseException | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (waiting for pcscd to listen) and serve in a daemon thread."""
        sock = self._connect()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"vpcd:{self.port}", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Connect and serve in the calling thread until pcscd or :meth:`stop` closes the link."""
        sock = self._connect()
        try:
            self._serve(sock)
        except KeyboardInterrupt:
            self._close()

    def stop(self) -> None:
        """Close the link: pcscd sees the card removed."""
        self._stopping = True
        self._close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the link is closed; ``False`` if ``timeout`` ran out first."""
        return self._closed.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._sock is not None and not self._closed.is_set()

    def __enter__(self) -> VpcdConnection:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals ---------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        self._stopping = False  # a link may be started again after a pull or a stop
        self.error = None
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError as exc:  # pcscd not listening yet, or just restarted
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"vpcd at {self.host}:{self.port} is not listening: is pcscd running "
                        "with the vpcd driver?"
                    ) from exc
                time.sleep(0.1)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._closed.clear()
        self._sock = sock
        return sock

    def _close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in the serving thread
            except OSError:
                pass
            sock.close()
        self._closed.set()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                frame = _recv_frame(sock)
                if frame is None:
                    break
                reply = self._handle(frame)
                if reply is not None:
                    if len(reply) > MAX_FRAME:
                        raise ValueError(f"response of {len(reply)} bytes does not fit a frame")
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except CardPulled:
            pass  # closing the socket below is what a pulled card looks like to pcscd
        except OSError as exc:
            if not self._stopping:
                self.error = exc
        except Exception as exc:  # never die silently in a daemon thread
            self.error = exc
        finally:
            self._close()

    def _handle(self, frame: bytes) -> bytes | None:
        if len(frame) != 1:
            return self.card.process(frame)
        control = frame[0]
        if control == CTRL_POWER_OFF:
            self.card.power_off()
        elif control == CTRL_POWER_ON:
            self.card.power_on()
        elif control == CTRL_RESET:
            self.card.reset()
        elif control == CTRL_GET_ATR:
            return self.card.atr
        return None


# The vpcd driver writes a frame's length and its payload separately. With Nagle on its side
# and delayed ACKs on ours, the payload then waits ~40 ms for our ACK of the length: every
# APDU would cost 40 ms. Linux clears quick-ACK mode after use, so it is set before each read.
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        if _QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv_frame(sock: socket.socket) -> bytes | None:
    header = _recv_exact(sock, 2)
    if header is None:
        return None
    return _recv_exact(sock, int.from_bytes(header, "big"))
