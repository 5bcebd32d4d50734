"""Signing in and out, the language switch, and the console's accounts."""

from datetime import timedelta
from typing import Any, cast

from flask import Response, current_app, make_response, redirect, request, session, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.directory import console, throttle
from relay.errors import RelayError, TooManyRequests
from relay.i18n import LANGUAGE_COOKIE, LANGUAGES
from relay.web.admin.base import (
    PAGE_SIZE,
    audit,
    bp,
    done,
    failed,
    field_errors,
    render,
    signed,
    translate,
    uuid_arg,
)


def _counter() -> tuple[throttle.Counter, throttle.Limit]:
    """Failed sign-ins per client address, counted in the database like the API's limits."""
    limit = throttle.Limit.parse(str(current_app.config["RATELIMIT_CONSOLE_SIGN_IN"]))
    return throttle.Counter("console-sign-in", request.remote_addr or "-"), limit


def _throttle() -> None:
    counter, limit = _counter()
    # Checked before the attempt: refused once the failures so far reach the limit.
    seconds = throttle.blocked_for(counter, throttle.Limit(limit.failures - 1, limit.window))
    if seconds:
        raise TooManyRequests(
            "Too many failed sign-ins from this address; wait a few minutes.",
            code="rate_limited",
            retry_after=seconds,
        )


def _count_failure() -> None:
    throttle.count(*_counter())


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return url_for("admin.overview")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Sign in with a tenant, login and password, or with the admin key (first account)."""
    if request.method == "GET":
        return render("admin/sign_in.html", next=request.args.get("next", ""), form={})
    form = request.form
    config = current_app.config
    try:
        _throttle()
        with transaction():
            if form.get("admin_key"):
                opened = console.sign_in_with_admin_key(form["admin_key"])
            else:
                opened = console.sign_in(
                    form.get("tenant", ""),
                    form.get("login", ""),
                    form.get("password", ""),
                    lockout_failures=int(config["LOGIN_LOCKOUT_FAILURES"]),
                    lockout=timedelta(seconds=int(config["LOGIN_LOCKOUT_SECONDS"])),
                )
    except RelayError as err:
        if err.status in (401, 403):
            _count_failure()
        form_values = {"tenant": form.get("tenant", ""), "login": form.get("login", "")}
        return render(
            "admin/sign_in.html",
            429 if err.status == 429 else 200,
            error=translate(err.message),
            next=form.get("next", ""),
            form=form_values,
        )
    session.clear()
    session["tid"] = opened.tenant_id
    session["sid"] = str(opened.id)
    if opened.account_id is None:
        return redirect(url_for("admin.accounts"))
    return redirect(_safe_next(form.get("next")))


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the session here and on the server: the cookie no longer opens the console."""
    with transaction():
        console.sign_out(signed().tenant_id, signed().session_id)
    session.clear()
    return cast(Response, redirect(url_for("admin.sign_in")))


@bp.route("/language/<code>")
def language(code: str) -> Response:
    """Switch the console's language; the choice is kept in a cookie."""
    response = make_response(redirect(_safe_next(request.args.get("next"))))
    if code in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


# -- accounts --------------------------------------------------------------------------------


@bp.route("/accounts")
def accounts() -> Any:
    """The tenant's console accounts."""
    return render(
        "admin/accounts/list.html",
        accounts=console.list_accounts(signed().tenant_id),
        errors={},
        form={},
    )


@bp.route("/accounts", methods=["POST"])
def account_create() -> Any:
    """Create a console account (the admin key's session is then ended)."""
    who = signed()
    form = request.form
    try:
        with transaction():
            account = console.create_account(
                who.tenant_id,
                login=form.get("login", ""),
                name=form.get("name", ""),
                password=form.get("password", ""),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            audit("account.create", account.login)
            if who.account_id is None:
                console.end_sessions(who.tenant_id, account_id=None)
    except RelayError as err:
        return render(
            "admin/accounts/list.html",
            422,
            accounts=console.list_accounts(who.tenant_id),
            errors=field_errors(err),
            error=translate(err.message),
            form={"login": form.get("login", ""), "name": form.get("name", "")},
        )
    if who.account_id is None:
        session.clear()
        done(gettext("Account %(login)s created: sign in with it.", login=account.login))
        return redirect(url_for("admin.sign_in"))
    done(gettext("Account %(login)s created.", login=account.login))
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/<account_id>/password", methods=["POST"])
def account_password(account_id: str) -> Any:
    """Set a new password for an account (its sessions end)."""
    who = signed()
    try:
        with transaction():
            account = console.get_account(who.tenant_id, uuid_arg(account_id))
            console.set_password(
                account,
                request.form.get("password", ""),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            audit("account.password", account.login)
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.accounts"))
    done(gettext("New password set for %(login)s.", login=account.login))
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/<account_id>/disable", methods=["POST"])
def account_disable(account_id: str) -> Any:
    """Disable or enable an account; an admin cannot disable their own."""
    who = signed()
    disable = request.form.get("disabled") == "1"
    with transaction():
        account = console.get_account(who.tenant_id, uuid_arg(account_id))
        if account.id == who.account_id and disable:
            done(gettext("You cannot disable your own account."))
            return redirect(url_for("admin.accounts"))
        console.set_disabled(account, disable)
        audit("account.disable" if disable else "account.enable", account.login)
    return redirect(url_for("admin.accounts"))


@bp.route("/audit")
def audit_list() -> Any:
    """The audit list: who changed what, and when, newest first."""
    found = console.audit_page(
        signed().tenant_id,
        before=console.decode_audit_cursor(request.args.get("before")),
        limit=PAGE_SIZE,
    )
    return render("admin/audit/list.html", entries=found.rows, next=found.next)
