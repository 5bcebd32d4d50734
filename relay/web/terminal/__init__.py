"""The terminal web app at /t/: a progressive web app over the public terminal API.

The relay only serves files here: the app is plain ES modules that talk to /api/v1/terminal/
with fetch, like any third-party terminal app would. The service worker's cache name carries
a hash of the app's files, so a changed file reaches every terminal on its next start online.
"""

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Blueprint, Response, abort, send_from_directory
from flask.typing import ResponseReturnValue

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TRANSLATIONS = HERE.parent.parent / "translations"
DOMAIN = "terminal"
LANGUAGES = ("en", "ru")

# Scripts, styles, images and connections from the relay itself; nothing inline, no frames.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; media-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blp = Blueprint("terminal_app", __name__, url_prefix="/t")


@blp.after_request
def _harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@blp.get("/")
def index() -> ResponseReturnValue:
    """The app's only page."""
    return _no_store(send_from_directory(STATIC, "index.html", max_age=0))


@blp.get("/manifest.webmanifest")
def manifest() -> ResponseReturnValue:
    """The web app manifest: installable on the home screen."""
    response = send_from_directory(STATIC, "manifest.webmanifest", max_age=0)
    response.mimetype = "application/manifest+json"
    return response


@blp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The service worker (scope /t/), told the app's files and their version."""
    version, assets = shell()
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
    source = source.replace('"__VERSION__"', json.dumps(version)).replace(
        '["__ASSETS__"]', json.dumps(assets)
    )
    response = Response(source, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/t/"
    return _no_store(response)


@blp.get("/static/<path:filename>")
def static(filename: str) -> ResponseReturnValue:
    """The app's modules, stylesheet and icons."""
    return send_from_directory(STATIC, filename, max_age=0)


@blp.get("/i18n/<lang>.json")
def messages(lang: str) -> ResponseReturnValue:
    """The app's strings in one language, msgid → translation (English is the msgid)."""
    if lang not in LANGUAGES:
        abort(404)
    return Response(
        json.dumps(catalog(lang), ensure_ascii=False, sort_keys=True),
        mimetype="application/json",
    )


@cache
def catalog(lang: str) -> dict[str, str]:
    """The ``terminal`` catalog of one language (empty for English, the source)."""
    if lang == "en":
        return {}
    loaded = Translations.load(str(TRANSLATIONS), [lang], domain=DOMAIN)
    if type(loaded) is NullTranslations:
        return source_catalog(lang)
    # gettext keeps a compiled catalog in _catalog; the header entry has the empty msgid.
    entries: dict[Any, Any] = loaded._catalog
    return {k: v for k, v in entries.items() if isinstance(k, str) and k}


def source_catalog(lang: str) -> dict[str, str]:
    """The messages straight from the .po file: a checkout where `make translations` (pybabel
    compile) has not run yet serves the same strings, only read more slowly."""
    with (TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        messages = read_po(handle, locale=lang, domain=DOMAIN)
    return {
        m.id: m.string
        for m in messages
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


@cache
def shell() -> tuple[str, list[str]]:
    """The app shell's URLs and a version that changes whenever one of its files does."""
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and p.name != "sw.js")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(STATIC).as_posix().encode())
        digest.update(path.read_bytes())
    for lang in LANGUAGES:
        digest.update(json.dumps(catalog(lang), sort_keys=True).encode())
    urls = ["/t/", "/t/manifest.webmanifest"]
    urls += [
        f"/t/static/{p.relative_to(STATIC).as_posix()}"
        for p in files
        if p.name not in ("index.html", "manifest.webmanifest")
    ]
    urls += [f"/t/i18n/{lang}.json" for lang in LANGUAGES]
    return digest.hexdigest()[:16], urls


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-cache"
    return response
