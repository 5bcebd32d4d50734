"""Admins manage operators: create, read, rename, set a password, delete."""

from typing import Any

from flask import current_app
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity, page_limit
from relay.api.users.schemas import (
    UserIn,
    UserList,
    UserOut,
    UserPatch,
    UserPickerList,
    UserQuery,
)
from relay.db import transaction
from relay.directory import users
from relay.models import User
from relay.paging import id_after

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


@blp.route("")
class UsersView(MethodView):
    @authenticated("admin")
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    def post(self, data: dict[str, Any]) -> User:
        """Create an operator."""
        with transaction():
            return users.create_user(
                identity().tenant_id,
                login=data["login"],
                name=data["name"],
                password=data["password"],
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )

    @authenticated("admin")
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, UserList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List operators."""
        found = users.list_users(
            identity().tenant_id, after=id_after(args["after"]), limit=page_limit(args["limit"])
        )
        return {"users": found.rows, "next": found.next}


@blp.route("/<login>")
class UserView(MethodView):
    @authenticated("admin")
    @blp.response(200, UserOut)
    def get(self, login: str) -> User:
        """Read an operator."""
        return users.get_user(identity().tenant_id, login)

    @authenticated("admin")
    @blp.arguments(UserPatch)
    @blp.response(200, UserOut)
    def patch(self, data: dict[str, Any], login: str) -> User:
        """Rename an operator or set a new password (which ends their sessions)."""
        with transaction():
            user = users.get_user(identity().tenant_id, login)
            users.update_user(
                user,
                name=data.get("name"),
                password=data.get("password"),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        return user

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
        found = users.list_users(
            identity().tenant_id, after=id_after(args["after"]), limit=page_limit(args["limit"])
        )
        return {"users": found.rows, "next": found.next}
