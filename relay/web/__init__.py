"""Web front ends served by the relay (the admin console at /admin/), beside the JSON API."""

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from relay.web.sessions import ConsoleSessions

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Register the admin console: its cookie sessions, CSRF protection and pages."""
    # CSRF is checked by the console's own views only: the API takes bearer tokens, no cookies.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # The token lives as long as the console session (which has its own idle time-out).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.session_interface = ConsoleSessions()
    from relay.web.admin import bp

    app.register_blueprint(bp)
