"""The application factory: the one way in for wsgi, the worker, the CLI and the tests."""

import io
import os
from collections.abc import Mapping
from typing import Any

from flask import Config, Flask, request, send_from_directory
from flask.json.provider import JSONProvider
from flask.sessions import SessionInterface
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from relay import db as database
from relay import i18n, jsonutil, logs, web
from relay.config import check as checked_environment
from relay.errors import N_, BadRequest
from relay.extensions import db, migrate

MIGRATIONS_DIR = __file__.rsplit("/", 1)[0] + "/migrations"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the relay: shipped defaults, then RELAY_* environment variables, then overrides."""
    app = Flask("relay", static_folder=None)
    app.session_interface = NoCookieSessions()
    app.config.update(load_config(overrides))
    # Flask's own default for an installed package is inside the virtualenv: never there.
    app.instance_path = os.path.abspath(app.config.get("INSTANCE_PATH") or "instance")
    _configure_api(app)
    app.json = RelayJSONProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    database.configure(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    from relay.api.base import api

    api.init_app(app)
    database.install_hooks(app)

    from relay.api import errors, register_blueprints

    errors.register(app)
    register_blueprints(api)
    i18n.init_app(app)
    web.init_app(app)
    from relay.api import observe

    observe.init_app(app)
    _register_docs_assets(app)
    from relay.web import terminal as terminal_app

    app.register_blueprint(terminal_app.blp)

    @app.before_request
    def _declare_write_intent() -> None:
        database.set_write_intent(request.method not in database.READ_METHODS)

    @app.before_request
    def _refuse_nul() -> None:
        # No database stores a NUL character; refuse it before it reaches a query.
        if "\x00" in request.path or any("\x00" in v for v in request.args.values()):
            raise BadRequest(N_("The address contains a NUL character."), code="bad_request")

    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app.config)  # type: ignore[method-assign]

    @app.before_request
    def _refuse_long_chunked_body() -> None:
        if request.environ.get(ChunkedBodyLimit.OVER):
            raise RequestEntityTooLarge()

    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    if not app.debug and not app.testing:
        logs.configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    return app


class ChunkedBodyLimit:
    """Measure a chunked body (no Content-Length) before the app reads it, so over the limit
    is a 413 as it is for a body that declares its length.

    werkzeug cuts such a stream at the limit without saying so, and the truncated JSON then
    looked malformed. The body, at most one byte over the limit, is read here and handed on
    with its length; one over the limit is dropped and the request marked.
    """

    OVER = "relay.body_over_limit"

    def __init__(self, wsgi_app: Any, config: Config) -> None:
        self.wsgi_app = wsgi_app
        self.config = config

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        limit = self.config.get("MAX_CONTENT_LENGTH")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        unsized = environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH")
        if limit is not None and (chunked or unsized):
            stream = environ["wsgi.input"]
            body = bytearray()
            while len(body) <= limit:
                chunk = stream.read(min(65536, limit + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            if len(body) > limit:
                environ[self.OVER] = True
                body.clear()
            environ["wsgi.input"] = io.BytesIO(bytes(body))
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.wsgi_app(environ, start_response)


class NoCookieSessions(SessionInterface):
    """The API is stateless (bearer tokens): no cookie session is opened or signed per request."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


def load_config(overrides: Mapping[str, Any] | None = None) -> Config:
    """The configuration alone, without building an app (for gunicorn's config file).

    Raises ``relay.config.ConfigError`` naming a RELAY_* variable with an unusable value.
    """
    config = Config(os.path.dirname(__file__))
    config.from_object("relay.settings")
    config.from_prefixed_env("RELAY")
    config.update(checked_environment(config))
    if overrides:
        config.update(overrides)
    return config


def _configure_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Relay")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "/api/v1/docs/assets/")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": (
                    "Documents between an accounting system and warehouse terminals. "
                    "Every call but enrollment and the health checks takes "
                    "`Authorization: Bearer <token>`: the admin key, the accounting key, a "
                    "device token or an operator session token. Errors always have the shape "
                    '`{"error": {"code", "message", "details"}}`.'
                )
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI's files from the installed package: the docs work without internet."""
    from swagger_ui_bundle import swagger_ui_path

    def docs_asset(filename: str) -> ResponseReturnValue:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    app.add_url_rule("/api/v1/docs/assets/<path:filename>", "docs_asset", docs_asset)


class RelayJSONProvider(JSONProvider):
    """Flask's JSON provider, backed by ``relay.jsonutil``."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return jsonutil.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsonutil.loads(s, **kwargs)
