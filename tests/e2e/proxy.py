"""A tiny TCP proxy that can cut a connection after the request, and can go away entirely.

``cut(trigger)`` arms it: the next request whose bytes contain ``trigger`` is forwarded to the
relay, the relay's answer is read, and the client's connection is closed instead of answering
(the relay applied the request; the client never heard). ``stop()`` closes the port, so the
client gets "connection refused", as a terminal does when the network is down; ``start()``
opens the same port again.
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = 0
        self.cuts_done = 0
        self.requests_seen: dict[bytes, int] = {}
        self._trigger: bytes | None = None
        self._cuts_left = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._pumps: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self, trigger: bytes, times: int = 1) -> None:
        """Drop the answer of the next ``times`` requests containing ``trigger``."""
        with self._lock:
            self._trigger = trigger
            self._cuts_left = times
            self.requests_seen[trigger] = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        """Close the port and every open connection: the network is down."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
            self._acceptor = None
        for thread in self._pumps:
            thread.join(5)
        self._pumps.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def __enter__(self) -> CuttingProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._conns.update((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()
            self._pumps.append(thread)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        cut_pending = False
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        cut_pending = self._should_cut(data) or cut_pending
                        upstream.sendall(data)
                    elif cut_pending:
                        with self._lock:
                            self.cuts_done += 1
                        return
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(client)
                self._conns.discard(upstream)
            client.close()
            upstream.close()

    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            if self._trigger is None or self._trigger not in data:
                return False
            self.requests_seen[self._trigger] += 1
            if self._cuts_left <= 0:
                return False
            self._cuts_left -= 1
            return True
