"""Terminal enrollment (SPEC §4, §9, §12, Appendix A): codes, enrolling, rate limiting."""

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update
from werkzeug.test import TestResponse

from relay.directory.devices import normalize_code
from relay.extensions import db
from relay.ids import hash_token
from relay.models import EnrollmentCode
from relay.timeutil import utcnow
from tests.helpers import Client, TenantKeys, assert_error

ENROLL = "/api/v1/terminal/enroll"
CODES = "/api/v1/admin/enrollment-codes"


def enroll(api: Client, code: str, serial: str = "", addr: str | None = None) -> TestResponse:
    extra: dict[str, Any] = {}
    if addr is not None:
        extra["environ_base"] = {"REMOTE_ADDR": addr}
    return api.post(
        ENROLL, json={"code": code, "name": "Склад-1", "model": "EDA50", "serial": serial}, **extra
    )


def test_enroll_returns_device_id_pin_and_a_working_token(api: Client, tenant: TenantKeys) -> None:
    code = api.enrollment_code(tenant)
    response = enroll(api, code, serial="16204B17A7")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["device_id"]
    assert body["pin"].isdigit()
    assert len(body["pin"]) >= 4
    assert body["token"].startswith("relay_dev_")
    inbox = api.get("/api/v1/terminal/documents", body["token"])
    assert inbox.status_code == 200, inbox.json
    assert inbox.json["documents"] == []
    # The device is listed for the accounting side's picker, with the PIN it was given.
    listed = api.get("/api/v1/devices", tenant.accounting_key).json["devices"]
    assert [(d["id"], d["pin"], d["name"]) for d in listed] == [
        (body["device_id"], body["pin"], "Склад-1")
    ]


def test_two_enrollments_get_different_devices_pins_and_tokens(
    api: Client, tenant: TenantKeys
) -> None:
    first = api.enroll(tenant, serial="A1")
    second = api.enroll(tenant, serial="B2")
    assert first.device_id != second.device_id
    assert first.pin != second.pin
    assert first.token != second.token


def test_bad_used_up_and_expired_codes_get_the_same_answer(
    api: Client, tenant: TenantKeys, app_ctx: Flask
) -> None:
    used = api.enrollment_code(tenant)
    assert enroll(api, used, serial="first").status_code == 201
    expired = api.enrollment_code(tenant)
    db.session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == hash_token(normalize_code(expired)))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()

    answers = []
    for code in ("ENR-0000-0000-0000-0000-0000-0000-0000", used, expired):
        response = enroll(api, code, serial="second")
        answers.append(
            (response.status_code, assert_error(response, 401, "invalid_enrollment_code"))
        )
    assert answers[0] == answers[1] == answers[2]
    # Nothing was enrolled by the refused attempts.
    assert len(api.get("/api/v1/devices", tenant.accounting_key).json["devices"]) == 1


def test_a_code_just_before_its_expiry_still_works(
    api: Client, tenant: TenantKeys, app_ctx: Flask
) -> None:
    code = api.enrollment_code(tenant)
    db.session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == hash_token(normalize_code(code)))
        .values(expires_at=utcnow() + timedelta(seconds=30))
    )
    db.session.commit()
    assert enroll(api, code).status_code == 201


def test_a_code_with_three_uses_enrolls_exactly_three(api: Client, tenant: TenantKeys) -> None:
    response = api.post(CODES, tenant.admin_key, {"uses": 3})
    assert response.status_code == 201, response.json
    assert response.json["uses_left"] == 3
    code = response.json["code"]
    pins = set()
    for serial in ("S1", "S2", "S3"):
        enrolled = enroll(api, code, serial=serial)
        assert enrolled.status_code == 201, enrolled.json
        pins.add(enrolled.json["pin"])
    assert len(pins) == 3
    assert_error(enroll(api, code, serial="S4"), 401, "invalid_enrollment_code")
    assert len(api.get("/api/v1/devices", tenant.accounting_key).json["devices"]) == 3


def test_enrollment_code_is_single_use_and_24h_by_default(api: Client, tenant: TenantKeys) -> None:
    before = utcnow()
    response = api.post(CODES, tenant.admin_key, {})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["uses_left"] == 1
    expires = body["expires_at"]
    assert expires.endswith("Z")
    at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) <= at - before <= timedelta(hours=24, minutes=1)
    assert enroll(api, body["code"], serial="one").status_code == 201
    assert_error(enroll(api, body["code"], serial="two"), 401, "invalid_enrollment_code")


def test_enrollment_code_answer_carries_text_and_qr(api: Client, tenant: TenantKeys) -> None:
    response = api.post(CODES, tenant.admin_key, {"uses": 2, "ttl_seconds": 3600})
    assert response.status_code == 201, response.json
    body = response.json
    assert {"code", "expires_at", "uses_left", "qr_payload", "qr_svg"} <= set(body)
    assert body["uses_left"] == 2
    assert json.loads(body["qr_payload"])["code"] == body["code"]
    assert "<svg" in body["qr_svg"]
    assert body["qr_svg"].rstrip().endswith("</svg>")
    # The code shown is the one that works.
    assert enroll(api, body["code"]).status_code == 201


def test_enrollment_codes_need_the_admin_key(api: Client, tenant: TenantKeys) -> None:
    assert_error(api.post(CODES, None, {"uses": 1}), 401, "unauthorized")
    assert_error(api.post(CODES, tenant.accounting_key, {"uses": 1}), 403, "forbidden")


def test_enroll_refuses_missing_fields_with_422(api: Client, tenant: TenantKeys) -> None:
    code = api.enrollment_code(tenant)
    error = assert_error(api.post(ENROLL, json={"code": code}), 422, "validation_failed")
    assert "name" in error["details"]["fields"]
    # The refused request did not spend the code.
    assert enroll(api, code).status_code == 201


def test_repeated_failed_enrollments_are_rate_limited(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    statuses = []
    for _ in range(50):
        response = enroll(api, "ENR-WRONG-CODE", addr="10.1.1.1")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    # Exactly the configured number of failures, then the refusal.
    assert statuses == [401] * 10 + [429], statuses
    assert app.config["RATELIMIT_ENROLL"] == "10 per 10 minutes"
    error = assert_error(response, 429, "rate_limited")
    assert error["message"]
    assert 500 <= int(response.headers["Retry-After"]) <= 601
    # Refused attempts are not counted: the wait does not grow.
    again = enroll(api, "ENR-WRONG-CODE", addr="10.1.1.1")
    assert_error(again, 429, "rate_limited")
    assert int(again.headers["Retry-After"]) <= int(response.headers["Retry-After"])
    # A valid code still enrolls from the throttled address (140 random bits: not guessable) ...
    good = api.enrollment_code(tenant)
    assert enroll(api, good, addr="10.1.1.1").status_code == 201
    # ... and another address is not affected.
    assert_error(enroll(api, "ENR-WRONG-CODE", addr="10.2.2.2"), 401, "invalid_enrollment_code")


def test_thirty_successful_enrollments_in_a_row_are_not_throttled(
    api: Client, tenant: TenantKeys
) -> None:
    code = api.post(CODES, tenant.admin_key, {"uses": 40}).json["code"]
    for index in range(30):
        response = enroll(api, code, serial=f"SN-{index:03d}", addr="10.3.3.3")
        assert response.status_code == 201, (index, response.json)
    # Successes used up none of the failure budget: the next mistype is a plain 401.
    assert_error(enroll(api, "ENR-WRONG", addr="10.3.3.3"), 401, "invalid_enrollment_code")
    assert len(api.get("/api/v1/devices", tenant.accounting_key).json["devices"]) == 30


def test_codes_forgive_case_dashes_and_look_alike_letters(api: Client, tenant: TenantKeys) -> None:
    code = api.post(CODES, tenant.admin_key, {"uses": 3}).json["code"]
    assert code.startswith("ENR-")
    mistyped = code.lower().replace("0", "o").replace("1", "l")
    assert enroll(api, mistyped, serial="S1").status_code == 201
    assert enroll(api, code.replace("-", ""), serial="S2").status_code == 201
    assert enroll(api, f"  {code} ", serial="S3").status_code == 201


def test_re_enrolling_with_the_serial_of_an_active_device_takes_it_back(
    api: Client, tenant: TenantKeys
) -> None:
    first = api.enroll(tenant, serial="16204B17A7")
    api.user(tenant, "ivanov")
    session = api.login(first, "ivanov")
    again = enroll(api, api.enrollment_code(tenant), serial="16204B17A7")
    assert again.status_code == 201, again.json
    assert again.json["device_id"] == first.device_id
    assert again.json["pin"] == first.pin
    assert again.json["token"] != first.token
    assert_error(api.get("/api/v1/terminal/documents", first.token), 401, "unauthorized")
    assert_error(api.get("/api/v1/terminal/documents", session.bearer), 401, "unauthorized")
    assert api.get("/api/v1/terminal/documents", again.json["token"]).status_code == 200
    assert len(api.get("/api/v1/devices", tenant.accounting_key).json["devices"]) == 1
