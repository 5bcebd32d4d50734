"""The terminal app's files as the relay serves them: headers, the service worker, messages."""

import json
import re
from pathlib import Path

from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from relay.web import terminal

STATIC = Path(terminal.__file__).parent / "static"
PO = terminal.TRANSLATIONS / "ru" / "LC_MESSAGES" / "terminal.po"
PLACEHOLDER = re.compile(r"\{\w+\}")


def message_ids() -> set[str]:
    """Every string the app shows: t("…") and N_("…") in the modules, data-t* in the page."""
    found: set[str] = set()
    for path in STATIC.rglob("*.js"):
        for match in re.finditer(r'\b(?:t|N_)\(\s*"((?:[^"\\]|\\.)*)"', path.read_text()):
            found.add(json.loads(f'"{match.group(1)}"'))
    page = (STATIC / "index.html").read_text()
    found.update(re.findall(r'data-t(?:-placeholder|-label)?="([^"]*)"', page))
    return found


def test_every_string_of_the_app_has_a_russian_translation() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    missing = sorted(message_ids() - set(translated))
    assert missing == []
    for msgid, text in translated.items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), msgid
    unused = sorted(set(translated) - message_ids())
    assert unused == []


def test_the_page_has_a_strict_policy_and_no_inline_code(client: FlaskClient) -> None:
    with client.get("/t/") as answer:
        assert answer.status_code == 200
        policy = answer.headers["Content-Security-Policy"]
        page = answer.get_data(as_text=True)
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "<style" not in page
    assert " style=" not in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="module" src="/t/static/js/app.js">'
    ]
    assert not re.search(r"\son[a-z]+=", page)


def test_the_service_worker_knows_the_shell_and_its_version(client: FlaskClient) -> None:
    answer = client.get("/t/sw.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    source = answer.get_data(as_text=True)
    version, assets = terminal.shell()
    assert f'const VERSION = "{version}";' in source
    assert "__ASSETS__" not in source
    assert "__VERSION__" not in source
    assert "/t/static/js/app.js" in assets
    assert "/t/i18n/ru.json" in assets
    for url in assets:
        with client.get(url) as asset:
            assert asset.status_code == 200, url


def test_messages_are_served_per_language(client: FlaskClient) -> None:
    russian = client.get("/t/i18n/ru.json").get_json()
    assert russian["Update now"] == "Обновить"
    assert client.get("/t/i18n/en.json").get_json() == {}
    missing = client.get("/t/i18n/de.json")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"


def test_the_manifest_makes_the_app_installable(client: FlaskClient) -> None:
    with client.get("/t/manifest.webmanifest") as answer:
        assert answer.mimetype == "application/manifest+json"
        manifest = json.loads(answer.get_data())
    assert manifest["start_url"] == "/t/"
    assert manifest["scope"] == "/t/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as image:
            assert image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_files_outside_the_app_are_not_served(client: FlaskClient) -> None:
    assert client.get("/t/static/../__init__.py").status_code == 404
    assert client.get("/t/static/%2e%2e/__init__.py").status_code == 404


def test_the_compiled_messages_are_the_source_messages() -> None:
    terminal.catalog.cache_clear()
    assert terminal.catalog("ru") == terminal.source_catalog("ru")
