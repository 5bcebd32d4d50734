"""gunicorn settings for `gunicorn -c config/gunicorn.conf.py wsgi:app`.

The same defaults as `relay serve` (sync workers, one per core, JSON logs, metrics added up
over the workers), read from the same RELAY_* variables: RELAY_BIND, RELAY_WORKERS,
RELAY_ACCESS_LOG, RELAY_LOG_FORMAT.
"""

import sys

from relay.app import load_config
from relay.config import ConfigError
from relay.serve import gunicorn_options, prepare_metrics_dir

try:
    _options = gunicorn_options(load_config())
except ConfigError as err:
    sys.exit(f"error: {err}")

bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
keepalive = _options["keepalive"]
accesslog = _options["accesslog"]
errorlog = _options["errorlog"]
proc_name = _options["proc_name"]
logger_class = _options["logger_class"]
# PROMETHEUS_MULTIPROC_DIR: set (or emptied) before the workers start; a dead worker's gauges go.
prepare_metrics_dir()
child_exit = _options["child_exit"]
