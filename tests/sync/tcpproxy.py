"""A TCP proxy between the centres and the district's PostgreSQL, which a test can cut.

Each client connection gets its own upstream connection and two pump threads. A test installs a
*hook* that sees every client→server chunk before it is forwarded and answers what to do:

- ``PASS``: forward it;
- ``KILL``: do not forward it, close both sides (the hook may first stop the server: then the
  server dies in the middle of whatever the client was doing);
- ``LOSE_REPLY``: forward it, swallow the server's answer, and close the client once the
  answer has arrived. With a COMMIT this is the "in doubt" case: the server committed, the
  client never heard.

When the upstream cannot be reached (server stopped), a new client is accepted and closed at
once, the way a refused connection looks through a load balancer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from enum import Enum


class Action(Enum):
    PASS = "pass"
    KILL = "kill"
    LOSE_REPLY = "lose_reply"


Hook = Callable[[bytes], Action]


class _Link:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.mute = threading.Event()
        self.reply_swallowed = threading.Event()

    def close(self) -> None:
        for s in (self.client, self.server):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.hook: Hook | None = None
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def cut(self) -> None:
        """Drop every open connection now."""
        with self._lock:
            links = list(self._links)
            self._links.clear()
        for link in links:
            link.close()

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            link = _Link(client, server)
            with self._lock:
                self._links.add(link)
            threading.Thread(target=self._up, args=(link,), daemon=True).start()
            threading.Thread(target=self._down, args=(link,), daemon=True).start()

    def _drop(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)
        link.close()

    def _up(self, link: _Link) -> None:
        try:
            while True:
                chunk = link.client.recv(65536)
                if not chunk:
                    break
                action = self.hook(chunk) if self.hook is not None else Action.PASS
                if action is Action.KILL:
                    break
                if action is Action.LOSE_REPLY:
                    link.mute.set()
                    link.server.sendall(chunk)
                    link.reply_swallowed.wait(10)
                    break
                link.server.sendall(chunk)
        except OSError:
            pass
        self._drop(link)

    def _down(self, link: _Link) -> None:
        try:
            while True:
                chunk = link.server.recv(65536)
                if not chunk:
                    break
                if link.mute.is_set():
                    link.reply_swallowed.set()
                    continue
                link.client.sendall(chunk)
        except OSError:
            pass
        self._drop(link)
