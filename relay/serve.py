"""`relay serve`: gunicorn with the relay's defaults (sync workers, one per core), or waitress.

gunicorn needs a POSIX system; where it cannot run (Windows) `relay serve` uses waitress, a
pure-Python threaded server (`--server waitress` picks it anywhere).
"""

import atexit
import glob
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask

SERVERS = ("auto", "gunicorn", "waitress")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
access_log = logging.getLogger("relay.access")


def choose_server(requested: str) -> str:
    """The server to run: gunicorn where it can be imported, else waitress (for "auto")."""
    if requested != "auto":
        return requested
    try:
        import gunicorn.app.base  # noqa: F401 - imports fcntl, absent on Windows
    except ImportError:
        return "waitress"
    return "gunicorn"


def gunicorn_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Gunicorn settings from the relay's configuration (shared with config/gunicorn.conf.py).

    Sync workers, one per core: measured best on a 2-core box; a threaded worker let every
    keep-alive connection land on one process.
    """
    workers = int(config.get("WORKERS") or 0) or multiprocessing.cpu_count()
    return {
        "bind": config.get("BIND") or "127.0.0.1:8000",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": os.environ.get("RELAY_ACCESS_LOG", "-"),
        "errorlog": "-",
        "proc_name": "relay",
        # A dotted name: this module is imported where gunicorn cannot be (Windows).
        "logger_class": "relay.gunicorn_app.JsonGunicornLogger",
        "child_exit": child_exit,
    }


def prepare_metrics_dir() -> str:
    """Set up PROMETHEUS_MULTIPROC_DIR for gunicorn's workers, emptied of a previous run's files.

    An existing setting is kept (its ``*.db`` files removed); otherwise a fresh temporary
    folder is made and removed when this process exits.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="relay-metrics-")
        os.environ[MULTIPROC_ENV] = path
        atexit.register(_remove_folder, path, os.getpid())
    return path


def _remove_folder(path: str, owner: int) -> None:
    # gunicorn's workers are forks that leave through sys.exit and so run atexit handlers too:
    # only the process that made the folder (the master) removes it.
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def child_exit(_server: Any, worker: Any) -> None:
    """Let a dead worker's gauges go; its counters keep counting in the sum (gunicorn hook)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def access_fields(
    environ: Mapping[str, Any],
    status: int,
    request_id: str | None,
    seconds: float,
    sent: int | None,
) -> dict[str, Any]:
    """One access line's fields: no query string, no headers but the user agent (no tokens)."""
    return {
        "request_id": request_id,
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "bytes": sent,
        "remote_addr": environ.get("REMOTE_ADDR"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }


def split_bind(bind: str) -> tuple[str, int]:
    """Split host:port (IPv6 hosts in brackets)."""
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":8000" means every address


def serve_waitress(bind: str, threads: int) -> None:
    """Serve with waitress in this process: one process, ``threads`` threads."""
    from waitress import serve

    from relay.app import create_app

    app = create_app()
    host, port = split_bind(bind)
    serve(AccessLog(app), host=host, port=port, threads=threads)


class AccessLog:
    """WSGI middleware writing the access line gunicorn would (waitress writes none)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, Any] = {}

        def recording_start_response(
            status: str, headers: list[tuple[str, str]], *args: Any
        ) -> Any:
            seen["status"] = int(status.split(None, 1)[0])
            seen["request_id"] = next(
                (value for name, value in headers if name.lower() == "x-request-id"), None
            )
            return start_response(status, headers, *args)

        body = self.app(environ, recording_start_response)
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            status = seen.get("status", 500)
            access_log.info(
                "%s %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                status,
                extra=access_fields(
                    environ, status, seen.get("request_id"), time.perf_counter() - started, None
                ),
            )
