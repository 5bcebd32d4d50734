"""gunicorn's side of `relay serve`: the application and a logger in the relay's format.

Imported only where gunicorn runs (not on Windows); relay.serve names these by dotted path.
"""

from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from relay import logs
from relay.serve import access_fields


class RelayServer(BaseApplication):
    """Run ``create_app()`` in each gunicorn worker (after the fork, so no shared sockets)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        from relay import create_app

        return create_app()


class JsonGunicornLogger(glogging.Logger):
    """gunicorn's error and access logs in the relay's format, the access line with its id."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from relay.app import load_config

        fmt = load_config()["LOG_FORMAT"]
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.formatter(fmt))
                handler.addFilter(logs.RequestIdFilter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in resp.headers}
        self.access_log.info(
            "%s %s %s",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            status,
            extra=access_fields(
                environ,
                int(status),
                headers.get("x-request-id"),
                request_time.total_seconds(),
                getattr(resp, "sent", None),
            ),
        )
