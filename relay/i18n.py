"""Languages: Flask-Babel with the catalogs in relay/translations, Russian and English.

One mechanism for every front end: the ``messages`` domain holds the admin console and the
API's error messages; other front ends add their own domain (``terminal``) beside it. The
language is the one a console user picked (a cookie), else the best match of the request's
Accept-Language, else English.
"""

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("en", "ru")
LANGUAGE_COOKIE = "relay_lang"

babel = Babel()


def select_locale() -> str:
    """The language of the current request."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES and not request.path.startswith("/api/"):
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to the app with the relay's catalogs."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=select_locale)
