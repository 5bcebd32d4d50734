"""gunicorn settings for `gunicorn -c config/gunicorn.conf.py wsgi:app`.

The same defaults as `relay serve` (sync workers, one per core), read from the same RELAY_*
variables: RELAY_BIND, RELAY_WORKERS, RELAY_ACCESS_LOG.
"""

from relay.app import load_config
from relay.serve import gunicorn_options

_options = gunicorn_options(load_config())

bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
keepalive = _options["keepalive"]
accesslog = _options["accesslog"]
errorlog = _options["errorlog"]
proc_name = _options["proc_name"]
