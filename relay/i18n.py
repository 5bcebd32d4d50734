"""Languages: Flask-Babel with the catalogs in relay/translations, Russian and English.

One mechanism for every front end: the ``messages`` domain holds the admin console and the
API's error messages; other front ends add their own domain (``terminal``) beside it. The
language is the one a console user picked (a cookie), else the best match of the request's
Accept-Language, else English.

``say()`` puts a message into the request's language: a domain error's ``Text`` (written with
``relay.errors.N_``) by its template and values, any other sentence (a field error of
marshmallow or of a schema) looked up whole, then by marshmallow's templates. The API and the
console both use it.
"""

import logging
import re
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext

from relay.errors import Text

log = logging.getLogger(__name__)

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


# marshmallow's own field errors (and those of Relay's schemas), looked up whole: listed here so
# the catalog has them (pybabel extracts these).
FIELD_SENTENCES = (
    lazy_gettext("Missing data for required field."),
    lazy_gettext("Field may not be null."),
    lazy_gettext("Unknown field."),
    lazy_gettext("Invalid input type."),
    lazy_gettext("Invalid input."),
    lazy_gettext("Invalid type."),
    lazy_gettext("Invalid value."),
    lazy_gettext("Not a valid string."),
    lazy_gettext("Not a valid utf-8 string."),
    lazy_gettext("Not a valid integer."),
    lazy_gettext("Not a valid number."),
    lazy_gettext("Number too large."),
    lazy_gettext("Special numeric values (nan or infinity) are not permitted."),
    lazy_gettext("Not a valid boolean."),
    lazy_gettext("Not a valid list."),
    lazy_gettext("Not a valid tuple."),
    lazy_gettext("Not a valid mapping type."),
    lazy_gettext("Not a valid UUID."),
    lazy_gettext("Not a valid date."),
    lazy_gettext("Not a valid datetime."),
    lazy_gettext("Not a valid URL."),
    lazy_gettext("Not a valid email address."),
    lazy_gettext("Not a valid period of time."),
    lazy_gettext("Not a valid IP address."),
    lazy_gettext("Not a valid IPv4 address."),
    lazy_gettext("Not a valid IPv6 address."),
    lazy_gettext("Not a valid IP interface."),
    lazy_gettext("Not a valid IPv4 interface."),
    lazy_gettext("Not a valid IPv6 interface."),
    lazy_gettext("String does not match expected pattern."),
    lazy_gettext("Read-only: the relay sets this field; do not send it."),
    lazy_gettext("Not a cursor this list gives out."),
    lazy_gettext("Unknown cursor."),
    lazy_gettext("1 to 64 characters, no '/' and no spaces at the ends."),
    lazy_gettext("1 to 100 characters, no '/' and no spaces at the ends."),
    lazy_gettext("A password is 4 to 200 characters."),
    lazy_gettext("A PIN is digits only."),
    lazy_gettext("A PIN is digits."),
    lazy_gettext("Must be a JSON number, e.g. 10 or 0.001 (not a string)."),
    lazy_gettext("Must be an ISO 8601 date, e.g. 2026-11-20."),
    lazy_gettext("Not a real date."),
    lazy_gettext("Must be between -10^20 and 10^20."),
    lazy_gettext("Must be a string or an integer."),
    lazy_gettext("Extra line fields must be text, numbers, booleans or null."),
)

# marshmallow's field errors that carry values, recognised by their English form and said again
# from the catalog: (the English as a pattern, the template).
FIELD_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (
            r"Must be greater than or equal to (?P<min>\S+) and less than or equal to "
            r"(?P<max>\S+)\.",
            lazy_gettext(
                "Must be greater than or equal to %(min)s and less than or equal to %(max)s."
            ),
        ),
        (
            r"Must be greater than (?P<min>\S+) and less than (?P<max>\S+)\.",
            lazy_gettext("Must be greater than %(min)s and less than %(max)s."),
        ),
        (
            r"Must be greater than or equal to (?P<min>\S+)\.",
            lazy_gettext("Must be greater than or equal to %(min)s."),
        ),
        (r"Must be greater than (?P<min>\S+)\.", lazy_gettext("Must be greater than %(min)s.")),
        (
            r"Must be less than or equal to (?P<max>\S+)\.",
            lazy_gettext("Must be less than or equal to %(max)s."),
        ),
        (r"Must be less than (?P<max>\S+)\.", lazy_gettext("Must be less than %(max)s.")),
        (
            r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.",
            lazy_gettext("Length must be between %(min)s and %(max)s."),
        ),
        (r"Length must be (?P<equal>\d+)\.", lazy_gettext("Length must be %(equal)s.")),
        (
            r"Shorter than minimum length (?P<min>\d+)\.",
            lazy_gettext("Shorter than minimum length %(min)s."),
        ),
        (
            r"Longer than maximum length (?P<max>\d+)\.",
            lazy_gettext("Longer than maximum length %(max)s."),
        ),
        (r"Must be one of: (?P<choices>.*)\.", lazy_gettext("Must be one of: %(choices)s.")),
        (r"Must be equal to (?P<other>.*)\.", lazy_gettext("Must be equal to %(other)s.")),
        (
            r"Must be 1 to (?P<max>\d+) characters\.",
            lazy_gettext("Must be 1 to %(max)s characters."),
        ),
        (
            r"A target is one of: a PIN, a device_id, users and/or groups, or all: got "
            r"(?P<kinds>.*)\.",
            lazy_gettext(
                "A target is one of: a PIN, a device_id, users and/or groups, or all: got "
                "%(kinds)s."
            ),
        ),
        (
            r'"(?P<input>.*)" cannot be formatted as a date\.',
            lazy_gettext('"%(input)s" cannot be formatted as a date.'),
        ),
        (
            r"At most (?P<count>\d+) decimal places\.",
            lazy_gettext("At most %(count)s decimal places."),
        ),
        (
            r"At most (?P<count>\d+) digits before the point\.",
            lazy_gettext("At most %(count)s digits before the point."),
        ),
    )
)


def _english() -> bool:
    return str(get_locale() or "en") == "en"


def say(message: str) -> str:
    """A message in the request's language: its template from the catalog, its values again.

    A ``Text`` (the domain's ``N_``) is translated by its template; a plain sentence (a field
    error of marshmallow or of a schema) is looked up whole, then by marshmallow's templates.
    What the catalog lacks stays English.
    """
    if _english():
        return str(message)
    if isinstance(message, Text):
        if not message.values:
            return _sentence(message.template)
        values = {k: say(v) if isinstance(v, Text) else v for k, v in message.values.items()}
        try:
            return gettext(message.template) % values
        except (KeyError, TypeError, ValueError):
            log.warning("translation of %r does not fit its values", message.template)
            return str(message)
    return _sentence(message)


def _sentence(text: str) -> str:
    translated = gettext(text)
    if translated != text:
        return translated
    for pattern, template in FIELD_PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return str(template) % found.groupdict()
    return text
