"""The overview: documents by state, today's completions, devices seen, deliveries, failures."""

from datetime import timedelta
from typing import Any

from flask import current_app, redirect, url_for

from relay.results import overview as figures
from relay.web.admin.base import bp, render, signed


@bp.route("/")
def overview() -> Any:
    """The tenant at a glance."""
    seen = timedelta(minutes=float(current_app.config["CONSOLE_SEEN_MINUTES"]))
    return render(
        "admin/overview/index.html",
        o=figures.overview(
            signed().tenant_id, seen_within=seen, cap=int(current_app.config["CONSOLE_COUNT_CAP"])
        ),
        cap=int(current_app.config["CONSOLE_COUNT_CAP"]),
        seen_minutes=current_app.config["CONSOLE_SEEN_MINUTES"],
    )


@bp.route("")
def root() -> Any:
    return redirect(url_for("admin.overview"))
