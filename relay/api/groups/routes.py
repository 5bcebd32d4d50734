"""Admins manage user groups and their members."""

from typing import Any

from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, id_cursor, identity, page_limit
from relay.api.groups.schemas import (
    GroupIn,
    GroupList,
    GroupOut,
    GroupPatch,
    GroupPickerList,
    GroupQuery,
)
from relay.db import transaction
from relay.directory import users
from relay.models import Group
from relay.timeutil import iso

blp = Blueprint(
    "admin_groups",
    __name__,
    url_prefix="/api/v1/admin/groups",
    description="User groups documents can be addressed to (admin key).",
)
picker_blp = Blueprint(
    "groups",
    __name__,
    url_prefix="/api/v1/groups",
    description="Groups a push may address, with their members (accounting key).",
)


def group_out(group: Group) -> dict[str, Any]:
    return {
        "id": str(group.id),
        "name": group.name,
        "members": [u.login for u in users.members(group)],
        "created_at": iso(group.created_at),
    }


@blp.route("")
class GroupsView(MethodView):
    @authenticated("admin")
    @blp.arguments(GroupIn)
    @blp.response(201, GroupOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a group with its members (logins)."""
        with transaction():
            group = users.create_group(
                identity().tenant_id, name=data["name"], member_logins=data["members"]
            )
        return group_out(group)

    @authenticated("admin")
    @blp.arguments(GroupQuery, location="query")
    @blp.response(200, GroupList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List groups."""
        limit = page_limit(args["limit"])
        rows = users.list_groups(identity().tenant_id, after=id_cursor(args["after"]), limit=limit)
        page = rows[:limit]
        return {
            "groups": [group_out(g) for g in page],
            "next": str(page[-1].id) if len(rows) > limit else None,
        }


@blp.route("/<name>")
class GroupView(MethodView):
    @authenticated("admin")
    @blp.response(200, GroupOut)
    def get(self, name: str) -> dict[str, Any]:
        """Read a group."""
        return group_out(users.get_group(identity().tenant_id, name))

    @authenticated("admin")
    @blp.arguments(GroupPatch)
    @blp.response(200, GroupOut)
    def patch(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Rename a group or replace its members."""
        with transaction():
            group = users.get_group(identity().tenant_id, name)
            if "name" in data:
                users.rename_group(group, data["name"])
            if "members" in data:
                users.set_members(group, data["members"])
        return group_out(group)

    @authenticated("admin")
    @blp.response(204)
    def delete(self, name: str) -> None:
        """Delete a group (its members stay)."""
        with transaction():
            users.delete_group(users.get_group(identity().tenant_id, name))


@picker_blp.route("")
class PickerView(MethodView):
    @authenticated("accounting")
    @picker_blp.arguments(GroupQuery, location="query")
    @picker_blp.response(200, GroupPickerList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List groups: name and members' logins (for the push dialog)."""
        limit = page_limit(args["limit"])
        rows = users.list_groups(identity().tenant_id, after=id_cursor(args["after"]), limit=limit)
        page = rows[:limit]
        return {
            "groups": [
                {"name": g.name, "members": [u.login for u in users.members(g)]} for g in page
            ],
            "next": str(page[-1].id) if len(rows) > limit else None,
        }
