"""Admins manage user groups and their members."""

from typing import Any

from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity, page_limit
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
from relay.paging import id_after

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


@blp.route("")
class GroupsView(MethodView):
    @authenticated("admin")
    @blp.arguments(GroupIn)
    @blp.response(201, GroupOut)
    def post(self, data: dict[str, Any]) -> Group:
        """Create a group with its members (logins)."""
        with transaction():
            return users.create_group(
                identity().tenant_id, name=data["name"], member_logins=data["members"]
            )

    @authenticated("admin")
    @blp.arguments(GroupQuery, location="query")
    @blp.response(200, GroupList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List groups."""
        found = users.list_groups(
            identity().tenant_id, after=id_after(args["after"]), limit=page_limit(args["limit"])
        )
        return {"groups": found.rows, "next": found.next}


@blp.route("/<name>")
class GroupView(MethodView):
    @authenticated("admin")
    @blp.response(200, GroupOut)
    def get(self, name: str) -> Group:
        """Read a group."""
        return users.get_group(identity().tenant_id, name)

    @authenticated("admin")
    @blp.arguments(GroupPatch)
    @blp.response(200, GroupOut)
    def patch(self, data: dict[str, Any], name: str) -> Group:
        """Rename a group or replace its members."""
        with transaction():
            group = users.get_group(identity().tenant_id, name)
            if "name" in data:
                users.rename_group(group, data["name"])
            if "members" in data:
                users.set_members(group, data["members"])
        return group

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
        found = users.list_groups(
            identity().tenant_id, after=id_after(args["after"]), limit=page_limit(args["limit"])
        )
        return {"groups": found.rows, "next": found.next}
