"""Admins manage operators: create, read, rename, set a password, delete."""

from typing import Any

from flask import current_app
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, id_cursor, identity, page_limit
from relay.api.users.schemas import (
    UserIn,
    UserList,
    UserOut,
    UserPatch,
    UserPickerList,
    UserQuery,
)
from relay.db import transaction
from relay.directory import throttle, users
from relay.models import User
from relay.timeutil import iso

blp = Blueprint(
    "admin_users",
    __name__,
    url_prefix="/api/v1/admin/users",
    description="Operators who log in on terminals (admin key).",
)
picker_blp = Blueprint(
    "users",
    __name__,
    url_prefix="/api/v1/users",
    description="Operators a push may address, by login (accounting key).",
)


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "login": user.login,
        "name": user.name,
        "groups": users.group_names(user),
        "created_at": iso(user.created_at),
        "locked_until": iso(
            throttle.locked_until(
                user.tenant_id, user.login, int(current_app.config["LOGIN_LOCKOUT_FAILURES"])
            )
        ),
    }


@blp.route("")
class UsersView(MethodView):
    @authenticated("admin")
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create an operator."""
        with transaction():
            user = users.create_user(
                identity().tenant_id,
                login=data["login"],
                name=data["name"],
                password=data["password"],
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        return user_out(user)

    @authenticated("admin")
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, UserList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List operators."""
        limit = page_limit(args["limit"])
        rows = users.list_users(identity().tenant_id, after=id_cursor(args["after"]), limit=limit)
        page = rows[:limit]
        return {
            "users": [user_out(u) for u in page],
            "next": str(page[-1].id) if len(rows) > limit else None,
        }


@blp.route("/<login>")
class UserView(MethodView):
    @authenticated("admin")
    @blp.response(200, UserOut)
    def get(self, login: str) -> dict[str, Any]:
        """Read an operator."""
        return user_out(users.get_user(identity().tenant_id, login))

    @authenticated("admin")
    @blp.arguments(UserPatch)
    @blp.response(200, UserOut)
    def patch(self, data: dict[str, Any], login: str) -> dict[str, Any]:
        """Rename an operator or set a new password (which ends their sessions)."""
        with transaction():
            user = users.get_user(identity().tenant_id, login)
            users.update_user(
                user,
                name=data.get("name"),
                password=data.get("password"),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        return user_out(user)

    @authenticated("admin")
    @blp.response(204)
    def delete(self, login: str) -> None:
        """Delete an operator: sessions end, group memberships go."""
        with transaction():
            users.delete_user(users.get_user(identity().tenant_id, login))


@picker_blp.route("")
class PickerView(MethodView):
    @authenticated("accounting")
    @picker_blp.arguments(UserQuery, location="query")
    @picker_blp.response(200, UserPickerList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List operators: login and name (for the push dialog)."""
        limit = page_limit(args["limit"])
        rows = users.list_users(identity().tenant_id, after=id_cursor(args["after"]), limit=limit)
        page = rows[:limit]
        return {
            "users": [{"login": u.login, "name": u.name} for u in page],
            "next": str(page[-1].id) if len(rows) > limit else None,
        }
