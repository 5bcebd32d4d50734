"""A tiny scripted HTTP server on 127.0.0.1 for the client's unit tests.

Each (method, path) gets a queue of replies; a reply may also drop the connection after reading
the request (the server applied it, the client never heard) or answer late (a read time-out).
Every request is recorded, so a test sees exactly what the client sent and how often.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from relay.client import jsonio


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop: bool = False
    delay: float = 0.0
    answer: Callable[[Any], Any] | None = None
    """Computes the body from the request's body (e.g. to echo its submission ids)."""


def error(status: int, code: str, message: str = "No.", **details: Any) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message, "details": details}})


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a read time-out) is what some tests want: stay quiet."""


class FakeRelay:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self.replies[(method, path)].extend(replies)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        ]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self._lock:
            self.seen.append(
                Seen(
                    handler.command,
                    parts.path,
                    parse_qs(parts.query),
                    dict(handler.headers.items()),
                    jsonio.loads(raw) if raw else None,
                )
            )
            queue = self.replies.get((handler.command, parts.path))
            reply = queue.popleft() if queue else error(404, "not_found", "Not scripted.")
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            handler.close_connection = True
            return
        payload = reply.raw if reply.raw is not None else b""
        content_type = reply.headers.get("Content-Type", "text/html")
        if reply.answer is not None:
            reply.body = reply.answer(self.seen[-1].body)
        if reply.raw is None and reply.body is not None:
            payload = jsonio.dumps(reply.body).encode()
            content_type = "application/json"
        handler.send_response(reply.status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            if name != "Content-Type":
                handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self) -> FakeRelay:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
