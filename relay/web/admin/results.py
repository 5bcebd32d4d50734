"""Results: declared vs actual, processed or not, failed chains; and the dead letters."""

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.errors import RelayError
from relay.extensions import db
from relay.models import Document
from relay.online import outbox
from relay.results import feed, listing
from relay.results.overview import chain_failures
from relay.web.admin.base import PAGE_SIZE, audit, bp, done, failed, render, signed, uuid_arg


@bp.route("/results")
def results() -> Any:
    """Results newest first; "waiting" shows only those accounting has not processed."""
    tenant_id = signed().tenant_id
    waiting = request.args.get("show") == "waiting"
    found = listing.latest(
        tenant_id, waiting=waiting, before=uuid_arg(request.args.get("before")), limit=PAGE_SIZE
    )
    chains = chain_failures(tenant_id, [row.result.document_id for row in found.rows])
    return render(
        "admin/results/list.html",
        rows=found.rows,
        chains=chains,
        waiting=waiting,
        next=found.next,
    )


@bp.route("/results/<result_id>")
def result(result_id: str) -> Any:
    """One result: declared against actual quantities per line, undeclared goods."""
    tenant_id = signed().tenant_id
    found = feed.get(tenant_id, uuid_arg(result_id))
    document = db.session.get(Document, (tenant_id, found.document_id))
    return render(
        "admin/results/detail.html",
        result=found,
        document=document,
        chain_failure=chain_failures(tenant_id, [found.document_id]).get(found.document_id),
    )


@bp.route("/dead-letters")
def dead_letters() -> Any:
    """Deliveries that failed every attempt; their results are still in the results feed."""
    after = request.args.get("after")
    found = outbox.dead_letters(
        signed().tenant_id,
        # A cursor this list never gave out starts from the top.
        after=after if after and outbox.parse_id(after) else None,
        limit=PAGE_SIZE,
    )
    return render("admin/dead_letters/list.html", rows=found.rows, next=found.next)


@bp.route("/dead-letters/<entry_id>/replay", methods=["POST"])
def dead_letter_replay(entry_id: str) -> Any:
    """Send one dead letter again, from the first attempt, with the same webhook-id."""
    who = signed()
    try:
        with transaction():
            entry = outbox.replay(outbox.get(who.tenant_id, entry_id, for_update=True))
            audit("dead_letter.replay", entry.webhook_id)
    except RelayError as err:
        failed(err)
    else:
        done(gettext("Sent again: the worker delivers it shortly."))
    return redirect(url_for("admin.dead_letters"))


@bp.route("/dead-letters/replay-all", methods=["POST"])
def dead_letters_replay_all() -> Any:
    """Send every dead letter again."""
    who = signed()
    with transaction():
        count = outbox.replay_all(who.tenant_id)
        audit("dead_letter.replay_all", "", {"count": count})
    done(gettext("%(count)s deliveries sent again.", count=count))
    return redirect(url_for("admin.dead_letters"))
