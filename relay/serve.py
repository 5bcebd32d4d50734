"""`relay serve`: gunicorn with the relay's defaults (sync workers, one per core)."""

import multiprocessing
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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
    }


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
