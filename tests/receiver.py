"""A real webhook receiver on 127.0.0.1 that verifies every delivery with `standardwebhooks`."""

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the answer until the test opens the gate (a delivery "in hand").
    block: bool = False


@dataclass
class Delivery:
    webhook_id: str
    timestamp: str
    signature: str
    body: dict[str, Any]
    status: int
    authorization: str | None = None


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """Answers each POST by the next planned Reply (then by ``default``), recording it.

    Every request is checked against every secret in ``secrets``: a failure is kept in
    ``failures``, so a test asserts there were none.
    """

    def __init__(self, secrets: list[str] | None = None, port: int | None = None) -> None:
        self.secrets = list(secrets or [])
        self.port = port or free_port()
        self.plan: list[Reply] = []
        self.default = Reply()
        self.deliveries: list[Delivery] = []
        self.failures: list[str] = []
        self.gate = threading.Event()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/relay"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 30

            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        headers = dict(request.headers.items())
        for secret in self.secrets:
            try:
                Webhook(secret).verify(raw, headers)
            except Exception as err:
                with self._lock:
                    self.failures.append(f"{headers.get('webhook-id')}: {err!r}")
        with self._lock:
            reply = self.plan.pop(0) if self.plan else self.default
            self.deliveries.append(
                Delivery(
                    webhook_id=headers.get("webhook-id", ""),
                    timestamp=headers.get("webhook-timestamp", ""),
                    signature=headers.get("webhook-signature", ""),
                    body=json.loads(raw),
                    status=reply.status,
                    authorization=headers.get("Authorization"),
                )
            )
        self.arrived.set()
        if reply.block:
            self.gate.wait(30)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            request.send_response(reply.status)
            for name, value in reply.headers.items():
                request.send_header(name, value)
            request.send_header("Content-Length", "2")
            request.end_headers()
            request.wfile.write(b"ok")
        except OSError:
            pass  # the sender gave up (time-out, killed): that is what some tests do

    def ids(self) -> Counter[str]:
        """How many times each webhook-id arrived."""
        with self._lock:
            return Counter(d.webhook_id for d in self.deliveries)

    def accepted_ids(self) -> Counter[str]:
        """How many times each webhook-id was answered 2xx."""
        with self._lock:
            return Counter(d.webhook_id for d in self.deliveries if 200 <= d.status < 300)


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Wait until ``predicate()`` is true, or fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
