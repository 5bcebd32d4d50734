"""Cookie sessions for the admin console only; the API stays cookie-free."""

from typing import Any

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

CONSOLE_PREFIX = "/admin/"


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions under /admin/; no session (and no cookie) elsewhere.

    The cookie is HttpOnly, SameSite=Lax, scoped to /admin/, and Secure whenever the request
    came over HTTPS (directly, or through a proxy counted in RELAY_PROXY_HOPS).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(CONSOLE_PREFIX):
            return None
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if not request.path.startswith(CONSOLE_PREFIX):
            return
        super().save_session(app, session, response)

    def get_cookie_name(self, app: Flask) -> str:
        return "relay_console"

    def get_cookie_path(self, app: Flask) -> str:
        return CONSOLE_PREFIX

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure
