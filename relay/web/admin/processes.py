"""Business processes: the settings dialog of seed 002, copy, reset, versions and their diff."""

from typing import Any

from flask import abort, redirect, request, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.errors import RelayError
from relay.processes import history, schema, store
from relay.web.admin.base import audit, bp, done, failed, field_errors, render, signed, translate

FLAGS = (
    "enabled",
    "load_into_source_document",
    "per_user_copy",
    "collective_work",
    "keep_merged_document",
)
ON_LOAD_FLAGS = ("create_new_document", "post_after_load")
FIELD_LISTS = (
    "header_to_terminal",
    "lines_to_terminal",
    "header_from_terminal",
    "lines_from_terminal",
)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.replace(";", ",").replace("\n", ",").split(",") if n.strip()]


def definition_from_form(key: str, form: Any) -> dict[str, Any]:
    """The definition the settings form describes (validated by the domain when saved)."""
    fields: dict[str, Any] = {}
    for name in FIELD_LISTS:
        text = form.get(f"fields.{name}", "").strip()
        # An empty "to terminal" list means every field, as in the YAML files (null).
        fields[name] = None if not text and name.endswith("to_terminal") else _names(text)
    users, groups = (
        _names(form.get("assignees.users", "")),
        _names(form.get("assignees.groups", "")),
    )
    limit = form.get("claim_limit_minutes", "").strip()
    return {
        "key": key,
        "name": form.get("name", "").strip(),
        **{flag: form.get(flag) == "on" for flag in FLAGS},
        "source_document_type": form.get("source_document_type", "").strip(),
        "terminal_document_type": form.get("terminal_document_type", "").strip(),
        "result_document_type": form.get("result_document_type", "").strip(),
        "next_business_process": form.get("next_business_process") or None,
        "assign_to": form.get("assign_to", ""),
        "assignees": {"users": users, "groups": groups} if users or groups else None,
        "quantity_control": form.get("quantity_control", ""),
        "on_load": {
            **{flag: form.get(f"on_load.{flag}") == "on" for flag in ON_LOAD_FLAGS},
            "write_after_load": form.get("on_load.write_after_load", ""),
        },
        "fields": fields,
        "claim_limit_minutes": int(limit) if limit.isdigit() else (limit or None),
    }


@bp.route("/processes")
def processes() -> Any:
    """The tenant's business processes."""
    return render("admin/processes/list.html", rows=store.list_current(signed().tenant_id))


def _form_page(
    row: Any, definition: dict[str, Any], errors: dict[str, list[str]], **kw: Any
) -> Any:
    others = [r.key for r in store.list_current(signed().tenant_id) if r.key != row.key]
    return render(
        "admin/processes/form.html",
        kw.pop("status", 200),
        row=row,
        d=definition,
        errors=errors,
        others=others,
        **kw,
    )


@bp.route("/processes/<key>")
def process(key: str) -> Any:
    """The settings form of one process."""
    row = store.get(signed().tenant_id, key)
    return _form_page(row, schema.dump_definition(row.definition), {})


@bp.route("/processes/<key>", methods=["POST"])
def process_save(key: str) -> Any:
    """Save the settings form: validated, a new version; errors shown beside their fields."""
    who = signed()
    row = store.get(who.tenant_id, key)
    definition = definition_from_form(key, request.form)
    if isinstance(definition["claim_limit_minutes"], str):
        errors = {"claim_limit_minutes": [gettext("Enter whole minutes.")]}
        return _form_page(
            row, definition, errors, status=422, error=gettext("Check the fields marked below.")
        )
    try:
        with transaction():
            saved = store.save(who.tenant_id, key, definition, partial=False)
            audit("process.save", key, {"version": saved.version})
    except RelayError as err:
        errors = field_errors(err)
        summary = gettext("Check the fields marked below.") if errors else translate(err.message)
        return _form_page(row, definition, errors, status=422, error=summary)
    done(gettext("Saved: version %(version)s.", version=saved.version))
    if request.form.get("close"):
        return redirect(url_for("admin.processes"))
    return redirect(url_for("admin.process", key=key))


@bp.route("/processes/<key>/enabled", methods=["POST"])
def process_enable(key: str) -> Any:
    """Switch a process on or off (a disabled process refuses pushes)."""
    who = signed()
    enabled = request.form.get("enabled") == "1"
    with transaction():
        saved = store.save(who.tenant_id, key, {"enabled": enabled}, partial=True)
        audit("process.enable" if enabled else "process.disable", key, {"version": saved.version})
    done(gettext("Enabled.") if enabled else gettext("Disabled."))
    return redirect(url_for("admin.processes"))


@bp.route("/processes/<key>/copy", methods=["POST"])
def process_copy(key: str) -> Any:
    """Copy a process under a new key and name."""
    who = signed()
    new_key = request.form.get("new_key", "").strip()
    name = request.form.get("new_name", "").strip()
    try:
        with transaction():
            copied = history.copy(who.tenant_id, key, new_key, name)
            audit("process.copy", new_key, {"from": key})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.process", key=key))
    done(gettext("Copied to %(key)s.", key=copied.key))
    return redirect(url_for("admin.process", key=copied.key))


@bp.route("/processes/<key>/reset", methods=["POST"])
def process_reset(key: str) -> Any:
    """Restore the shipped definition as a new version."""
    who = signed()
    try:
        with transaction():
            saved = history.reset_to_shipped(who.tenant_id, key)
            audit("process.reset", key, {"version": saved.version})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.process", key=key))
    done(gettext("Restored the shipped settings: version %(version)s.", version=saved.version))
    return redirect(url_for("admin.process", key=key))


@bp.route("/processes/<key>/versions")
def process_versions(key: str) -> Any:
    """Every version of a process, with what changed from the version before."""
    rows = history.versions(signed().tenant_id, key)
    if not rows:
        abort(404)
    return render(
        "admin/processes/versions.html",
        key=key,
        name=rows[0].definition.get("name", key),
        rows=rows,
        changes=history.changes_by_version(rows),
    )
