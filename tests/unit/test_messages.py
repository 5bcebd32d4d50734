"""Every message the API can send has a Russian translation (SPEC §11).

- The domain writes every error message with ``relay.errors.N_`` (a template and its values),
  never an f-string or a concatenation that no catalog could hold.
- ``pybabel extract`` (the command of docs/admin-console.md) finds every template, and the
  Russian catalog translates each one, with the same placeholders.
- marshmallow's own field errors, which the domain does not write, are translated too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import marshmallow as ma
import pytest
from babel.messages.pofile import read_po
from flask import Flask
from marshmallow import fields, validate

from relay.errors import N_, Text, first_field_error
from relay.i18n import say

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "relay" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
ERRORS = {
    "RelayError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Invalid",
    "TooManyRequests",
    "Unavailable",
    "Gone",
    "SealError",
    # Helpers that wrap an error around the message they are given.
    "_not_allowed",
    "invalid",
}
# Functions that return an N_ template (their own N_ is checked like any other).
BUILDERS = {"_refused_message"}
# The console's own forms: their sentences are listed in relay/web/admin/base.py.
CONSOLE = ROOT / "relay" / "web"


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _is_template(node: ast.expr) -> bool:
    """``N_("a literal", ...)``, a choice between such calls, or a name bound to one."""
    if isinstance(node, ast.Call) and _callee(node) == "N_":
        return bool(node.args) and isinstance(node.args[0], ast.Constant)
    if isinstance(node, ast.Call) and _callee(node) in BUILDERS:
        return True
    if isinstance(node, ast.IfExp):
        return _is_template(node.body) and _is_template(node.orelse)
    return isinstance(node, ast.Name)


def test_errors_are_raised_with_message_templates():
    wrong = []
    for path in sorted((ROOT / "relay").rglob("*.py")):
        if "client" in path.parts or path.is_relative_to(CONSOLE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if name == "N_" and not (node.args and isinstance(node.args[0], ast.Constant)):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} N_ of a non-literal")
            elif name in ERRORS and node.args and not _is_template(node.args[0]):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(…) without N_")
    assert not wrong, "\n".join(wrong)


def test_every_extracted_message_is_translated_to_russian(tmp_path: Path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "lazy_pgettext:1c,2",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        extracted = read_po(f)
    with PO.open("rb") as f:
        russian = read_po(f, locale="ru")
    missing = []
    for message in extracted:
        if not message.id:
            continue
        found = russian.get(message.id, context=message.context)
        if found is None or not found.string or found.fuzzy:
            missing.append(message.id)
    assert not missing, f"{len(missing)} messages lack a Russian translation: {missing[:10]}"
    # The translations keep their templates' placeholders.
    problems = [(m.id, errors) for m, errors in russian.check()]
    assert not problems, problems


def _marshmallow_messages() -> list[str]:
    """marshmallow's field errors as a client meets them (values filled in)."""
    found = set()
    for value in vars(fields).values():
        if isinstance(value, type) and issubclass(value, fields.Field):
            for klass in value.__mro__:
                for text in getattr(klass, "default_error_messages", {}).values():
                    if "{" not in text:
                        found.add(text)
    found |= {"Unknown field.", "Invalid input type."}
    examples = [
        (validate.Range(1, 500), 0),
        (validate.Range(min=1), 0),
        (validate.Range(max=10), 11),
        (validate.Range(min=0, min_inclusive=False), 0),
        (validate.Range(0, 1, min_inclusive=False, max_inclusive=False), 1),
        (validate.Length(1, 200), ""),
        (validate.Length(max=64), "x" * 65),
        (validate.Length(min=4), "x"),
        (validate.Length(equal=3), "x"),
        (validate.OneOf(["users", "device"]), "all"),
    ]
    for check, value in examples:
        with pytest.raises(ma.ValidationError) as err:
            check(value)
        found.update(err.value.messages)
    return sorted(found)


@pytest.mark.parametrize("english", _marshmallow_messages())
def test_marshmallow_field_errors_are_translated(app: Flask, english: str):
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        russian = say(english)
    assert russian != english


def test_a_template_is_said_again_with_its_values(app: Flask):
    message = N_("There is no catalog %(name)r.", name="prices")
    assert message == "There is no catalog 'prices'."
    assert isinstance(message, Text)
    field = first_field_error({"lines": {"0": {"qty": ["Not a valid number."]}}})
    assert field == "field 'lines.0.qty': Not a valid number."
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert say(message) == "Справочника 'prices' нет."
        assert say(field) == "поле «lines.0.qty»: Должно быть число."
        # A sentence no catalog has stays English.
        assert say(N_("Nothing like this %(x)s.", x=1)) == "Nothing like this 1."
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert say(message) == "There is no catalog 'prices'."
