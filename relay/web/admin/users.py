"""Operators and groups: create, edit, reset a password, membership."""

import re
from typing import Any

from flask import current_app, redirect, request, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.directory import users
from relay.errors import Invalid, RelayError
from relay.web.admin.base import PAGE_SIZE, audit, bp, done, failed, render, signed, uuid_arg

# The API's rules for logins, group names and passwords (relay/api/users, relay/api/groups).
LOGIN = re.compile(r"^[^\s/][^/]{0,62}[^\s/]$|^[^\s/]$")
GROUP_NAME = re.compile(r"^[^\s/][^/]{0,98}[^\s/]$|^[^\s/]$")
PASSWORD_LENGTH = (4, 200)


def _check_password(password: str) -> str:
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise Invalid("A password is 4 to 200 characters.")
    return password


def _logins(text: str) -> list[str]:
    return sorted(
        {n.strip() for n in text.replace(";", ",").replace("\n", ",").split(",") if n.strip()}
    )


@bp.route("/users")
def users_list() -> Any:
    """Operators and groups on one page, each list paged."""
    tenant_id = signed().tenant_id
    found = users.list_users(tenant_id, after=uuid_arg(request.args.get("after")), limit=PAGE_SIZE)
    groups = users.list_groups(
        tenant_id, after=uuid_arg(request.args.get("groups_after")), limit=PAGE_SIZE
    )
    members = users.members_by_group(tenant_id, [g.id for g in groups.rows])
    return render(
        "admin/users/list.html",
        rows=found.rows,
        groups=[(g, members[g.id]) for g in groups.rows],
        next=found.next,
        groups_next=groups.next,
    )


@bp.route("/users", methods=["POST"])
def user_create() -> Any:
    """Create an operator."""
    who = signed()
    login = request.form.get("login", "").strip()
    try:
        if not LOGIN.match(login):
            raise Invalid("A login is 1 to 64 characters, with no '/'.")
        with transaction():
            user = users.create_user(
                who.tenant_id,
                login=login,
                name=request.form.get("name", "").strip()[:200],
                password=_check_password(request.form.get("password", "")),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            audit("user.create", user.login)
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.users_list"))
    done(gettext("User %(login)s created.", login=user.login))
    return redirect(url_for("admin.users_list"))


@bp.route("/users/<login>")
def user(login: str) -> Any:
    """One operator: name, password, groups."""
    found = users.get_user(signed().tenant_id, login)
    return render("admin/users/detail.html", user=found, groups=users.group_names(found))


@bp.route("/users/<login>", methods=["POST"])
def user_save(login: str) -> Any:
    """Rename an operator, or set a new password (which ends their sessions)."""
    who = signed()
    password = request.form.get("password", "")
    try:
        with transaction():
            found = users.get_user(who.tenant_id, login)
            users.update_user(
                found,
                name=request.form.get("name", found.name).strip()[:200],
                password=_check_password(password) if password else None,
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            audit("user.password" if password else "user.save", login)
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.user", login=login))
    done(gettext("New password set.") if password else gettext("Saved."))
    return redirect(url_for("admin.user", login=login))


@bp.route("/users/<login>/delete", methods=["POST"])
def user_delete(login: str) -> Any:
    """Delete an operator (kept for the documents' history)."""
    who = signed()
    with transaction():
        users.delete_user(users.get_user(who.tenant_id, login))
        audit("user.delete", login)
    done(gettext("User %(login)s deleted.", login=login))
    return redirect(url_for("admin.users_list"))


@bp.route("/groups", methods=["POST"])
def group_create() -> Any:
    """Create a group with members."""
    who = signed()
    name = request.form.get("name", "").strip()
    try:
        if not GROUP_NAME.match(name):
            raise Invalid("A group name is 1 to 100 characters, with no '/'.")
        with transaction():
            members = _logins(request.form.get("members", ""))
            users.create_group(who.tenant_id, name=name, member_logins=members)
            audit("group.create", name, {"members": members})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.users_list"))
    done(gettext("Group %(name)s created.", name=name))
    return redirect(url_for("admin.users_list"))


@bp.route("/groups/<name>", methods=["POST"])
def group_save(name: str) -> Any:
    """Rename a group and set its members."""
    who = signed()
    new_name = request.form.get("name", name).strip()
    try:
        if not GROUP_NAME.match(new_name):
            raise Invalid("A group name is 1 to 100 characters, with no '/'.")
        with transaction():
            group = users.get_group(who.tenant_id, name)
            members = _logins(request.form.get("members", ""))
            users.set_members(group, members)
            users.rename_group(group, new_name)
            audit("group.save", new_name, {"members": members, "was": name})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.users_list"))
    done(gettext("Group %(name)s saved.", name=new_name))
    return redirect(url_for("admin.users_list"))


@bp.route("/groups/<name>/delete", methods=["POST"])
def group_delete(name: str) -> Any:
    """Delete a group."""
    who = signed()
    with transaction():
        users.delete_group(users.get_group(who.tenant_id, name))
        audit("group.delete", name)
    done(gettext("Group %(name)s deleted.", name=name))
    return redirect(url_for("admin.users_list"))
