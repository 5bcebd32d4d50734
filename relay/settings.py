"""Shipped defaults; every name here can be overridden by an environment variable RELAY_<NAME>.

Values from the environment are parsed as JSON when they can be (``RELAY_PUSH_MAX_DOCUMENTS=200``
gives an int, ``RELAY_WEBHOOK_ALLOW_PRIVATE=true`` a bool) and taken as strings otherwise.
"""

# Database: an SQLite file in the instance folder unless a URL is given, e.g.
# postgresql+psycopg://relay@db.example/relay
DATABASE_URL = ""
# Seconds an SQLite connection waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 15
# PostgreSQL: how long one statement may wait for a row lock before the request gets a 409.
POSTGRES_LOCK_TIMEOUT_MS = 5000
DATABASE_POOL_SIZE = 10

# Seals webhook signing secrets at rest (a key derived by HKDF); set a long random value in
# production. To change it, list the old value in SECRET_KEY_FALLBACKS, restart, run
# `relay webhook reseal`, then drop the old value.
SECRET_KEY = "dev-only-change-me"  # noqa: S105 - overridden in production
SECRET_KEY_FALLBACKS: list[str] = []

# Request body limit in bytes (10 MB); a larger body gets 413.
MAX_CONTENT_LENGTH = 10 * 1024 * 1024
PUSH_MAX_DOCUMENTS = 500
DOCUMENT_MAX_LINES = 10_000
COMPLETION_MAX_LINES = 50_000
BATCH_MAX_COMPLETIONS = 100
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 500

# Enrollment codes: default uses and lifetime.
ENROLLMENT_CODE_USES = 1
ENROLLMENT_CODE_TTL_SECONDS = 24 * 3600
# Operator sessions on a terminal last one long shift.
SESSION_TTL_SECONDS = 14 * 3600
# How often a device's last-seen time is written (a write per poll would cost more than the poll).
LAST_SEEN_RESOLUTION_SECONDS = 60

# Failed enrollments and logins per client address; successes are never counted. Counted in
# the database, so every worker and node shares them; forgotten this long after the last one.
RATELIMIT_ENROLL = "10 per 10 minutes"
RATELIMIT_LOGIN = "20 per 10 minutes"
# Wrong passwords for one login on one terminal before it is locked there, and for how long.
LOGIN_LOCKOUT_FAILURES = 5
LOGIN_LOCKOUT_SECONDS = 15 * 60

# Password hashing (werkzeug.security): scrypt is slow on purpose.
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name

# Webhook delivery (online mode).
# Allow webhook URLs on loopback, private and link-local addresses (a LAN deployment, the 1C
# server on the shop's network). Off, such URLs are refused when set and at every connection.
WEBHOOK_ALLOW_PRIVATE = False
WEBHOOK_CONNECT_TIMEOUT = 5.0
WEBHOOK_READ_TIMEOUT = 15.0
# Seconds to wait before each retry (each jittered by ±20%, never sooner than the receiver's
# Retry-After); after the last one the result becomes a dead letter. The default spans about
# 10 hours 40 minutes: nine attempts in all.
WEBHOOK_RETRY_SCHEDULE = [5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600]
# Both the old and the new secret sign deliveries this long after a rotation.
WEBHOOK_ROTATION_GRACE_SECONDS = 24 * 3600
# A worker holds a delivery for connect + read time-out + this margin; a worker killed
# mid-delivery leaves it to be sent again (same webhook-id) when that runs out.
WEBHOOK_LEASE_MARGIN_SECONDS = 30.0
# `relay worker`: how long an idle worker sleeps, and how many deliveries it leases at once.
WORKER_POLL_SECONDS = 1.0
WORKER_BATCH_SIZE = 20

# Behind N reverse proxies (nginx, a load balancer), trust N X-Forwarded-For/-Proto hops, so
# rate limits count the terminal's address, not the proxy's. 0: no proxy.
PROXY_HOPS = 0

# `relay serve`: where gunicorn listens and how many sync workers (0 = one per core).
BIND = "127.0.0.1:8000"
WORKERS = 0

# Catalogs (reference data for terminals).
# Items per packet of an upload, and per merge or delete call.
CATALOG_PACKET_MAX_ITEMS = 5000
CATALOG_UPLOAD_MAX_PACKETS = 1000
# One item as JSON, in bytes.
CATALOG_ITEM_MAX_BYTES = 16 * 1024
# An upload not committed within this time expires (the worker drops it).
CATALOG_UPLOAD_TTL_SECONDS = 24 * 3600
# A mirror deleting more than this share of the catalog, or more than this many items, needs
# "confirm_deletions": true.
CATALOG_MIRROR_CONFIRM_FRACTION = 0.1
CATALOG_MIRROR_CONFIRM_COUNT = 100
# Tombstones of deleted items are purged after this age; a terminal that last synced before
# the purge reloads the catalog in full.
CATALOG_TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600
# How often `relay worker` purges tombstones and expired uploads.
CATALOG_MAINTENANCE_SECONDS = 60
# Items per page of a terminal's delta.
CATALOG_PAGE_SIZE_DEFAULT = 1000
CATALOG_PAGE_SIZE_MAX = 5000

# Admin console (/admin/): a session ends after this many idle minutes; failed sign-ins per
# client address (successes are never counted); the account lockout reuses LOGIN_LOCKOUT_*.
CONSOLE_IDLE_MINUTES = 30
RATELIMIT_CONSOLE_SIGN_IN = "20 per 10 minutes"
# Devices count as "seen recently" on the console's overview for this many minutes.
CONSOLE_SEEN_MINUTES = 5
# The overview counts documents up to this many per state ("10000+" above it), so it reads a
# bounded number of index entries however long the queue is.
CONSOLE_COUNT_CAP = 10_000
# The folder holding the SQLite file when RELAY_DATABASE_URL is empty. Empty: `instance/` under
# the current directory (the repository root for `make run`, WorkingDirectory= under systemd),
# never inside the virtualenv.
INSTANCE_PATH = ""
# The address terminals reach the relay at, put into enrollment QR codes, e.g.
# http://192.168.1.10:8000. Empty: the address the admin used (a warning when it is loopback).
PUBLIC_URL = ""
# `relay serve`: gunicorn, waitress, or auto (gunicorn where it can run, waitress on Windows).
SERVER = "auto"

# Logs: json (one object per line, each with the request id) or text; and the level.
LOG_FORMAT = "json"
LOG_LEVEL = "INFO"

# GET /metrics (Prometheus): with a token, clients send `Authorization: Bearer <token>`;
# without one, only clients on a loopback address may read it.
METRICS_TOKEN = ""
# Seconds each process keeps the domain gauges (one grouped query) between scrapes.
METRICS_CACHE_SECONDS = 10.0
# `relay worker`: host:port where it serves its own /metrics (e.g. 127.0.0.1:9101); empty: off.
WORKER_METRICS_BIND = ""

# Retention: the worker purges documents processed more than this many days ago, once a day.
# 0: never (run `relay purge --processed-older-than 90d` yourself, e.g. from cron).
RETENTION_DAYS = 0
