"""Enrollment codes, enrollment and PINs (relay/directory/devices.py)."""

import re
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import Flask

from relay.directory import auth, devices
from relay.errors import Invalid, NotFound, Unauthorized
from relay.extensions import db
from relay.ids import hash_token
from relay.models import Device
from relay.timeutil import utcnow
from tests.factories import add_devices
from tests.helpers import TenantKeys

CODE_FORMAT = re.compile(r"^ENR(-[0-9A-HJKMNP-TV-Z]{4}){7}$")
FOUR_DIGITS = re.compile(r"^[1-9]\d{3}$")
FIVE_DIGITS = re.compile(r"^[1-9]\d{4}$")
HALF_OF_FOUR_DIGITS = 4500  # 9000 four-digit PINs (1000-9999), half of them


@pytest.fixture
def sequential_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make pick_pin try 1000, 1001, 1002, ... in order: deterministic PIN choice."""
    counter = iter(range(10**6))
    monkeypatch.setattr(
        devices,
        "secrets",
        SimpleNamespace(randbelow=lambda n: next(counter) % n, choice=secrets.choice),
    )


def new_code(tenant_id: int, uses: int = 1, ttl_seconds: int = 3600) -> str:
    code, _row = devices.create_enrollment_code(tenant_id, uses=uses, ttl_seconds=ttl_seconds)
    return code


def enroll(code: str, serial: str = "", name: str = "Склад-1") -> devices.Enrolled:
    return devices.enroll(code, name=name, model="EDA50", serial=serial)


def refused_code(code: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        enroll(code)
    assert (info.value.status, info.value.code) == (401, "invalid_enrollment_code")
    return info.value


def token_works(token: str) -> bool:
    try:
        auth.authenticate(f"Bearer {token}")
    except Unauthorized:
        return False
    return True


# -- enrollment codes ------------------------------------------------------------------------


def test_code_format_has_at_least_128_random_bits() -> None:
    codes = {devices.new_enrollment_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert CODE_FORMAT.match(code), code
    body = next(iter(codes)).removeprefix("ENR-").replace("-", "")
    assert len(body) * 5 >= 128  # Crockford base-32: 5 bits a character


@pytest.mark.parametrize(
    "typed",
    [
        "ENR-7K2M-AB01",
        "enr-7k2m-ab01",
        "ENR7K2MAB01",
        " ENR 7K2M AB01 ",
        "7K2M-AB01",
        "7k2mab01",
        "ENR-7K2M-ABOI",
        "ENR-7K2M-ABol",
        "enr-7k2m-aboL",
    ],
)
def test_normalize_code_forgives_case_dashes_and_o_i_l(typed: str) -> None:
    assert devices.normalize_code(typed) == "7K2MAB01"


def test_create_enrollment_code_stores_only_a_hash(app_ctx: Flask, tenant: TenantKeys) -> None:
    code, row = devices.create_enrollment_code(tenant.id, uses=3, ttl_seconds=600)
    assert CODE_FORMAT.match(code)
    assert row.code_hash == hash_token(devices.normalize_code(code))
    assert row.uses_left == 3
    assert timedelta(seconds=590) < row.expires_at - utcnow() <= timedelta(seconds=600)


@pytest.mark.parametrize(
    ("uses", "ttl", "field"),
    [
        (0, 600, "uses"),
        (1001, 600, "uses"),
        (1, 59, "ttl_seconds"),
        (1, 30 * 86400 + 1, "ttl_seconds"),
    ],
)
def test_create_enrollment_code_bounds(
    app_ctx: Flask, tenant: TenantKeys, uses: int, ttl: int, field: str
) -> None:
    with pytest.raises(Invalid) as info:
        devices.create_enrollment_code(tenant.id, uses=uses, ttl_seconds=ttl)
    assert info.value.status == 422
    assert field in info.value.details["fields"]


@pytest.mark.parametrize(("uses", "ttl"), [(1, 60), (1000, 30 * 86400)])
def test_create_enrollment_code_limits_are_inclusive(
    app_ctx: Flask, tenant: TenantKeys, uses: int, ttl: int
) -> None:
    _code, row = devices.create_enrollment_code(tenant.id, uses=uses, ttl_seconds=ttl)
    assert row.uses_left == uses


# -- enrollment ------------------------------------------------------------------------------


def test_enroll_gives_a_device_a_pin_and_a_token(app_ctx: Flask, tenant: TenantKeys) -> None:
    enrolled = enroll(new_code(tenant.id), serial="16204B17A7")
    device = enrolled.device
    assert (device.tenant_id, device.status, device.mode) == (tenant.id, "active", "offline")
    assert (device.name, device.model, device.serial) == ("Склад-1", "EDA50", "16204B17A7")
    assert FOUR_DIGITS.match(device.pin or "")
    assert enrolled.token.startswith("relay_dev_")
    identity = auth.authenticate(f"Bearer {enrolled.token}")
    assert (identity.kind, identity.device_id, identity.device_pin) == (
        "device",
        device.id,
        device.pin,
    )
    assert devices.by_pin(tenant.id, device.pin or "").id == device.id


def test_enroll_accepts_a_mistyped_code(
    app_ctx: Flask, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        devices, "new_enrollment_code", lambda: "ENR-01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0011"
    )
    new_code(tenant.id, uses=2)
    enroll("enr 0iab cdef ghjk mnpq rstv wxyz oOIl")
    enroll("ENRO1ABCDEFGHJKMNPQRSTVWXYZOO11")
    refused_code("ENR-01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0011")  # both uses spent


def test_a_used_code_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    code = new_code(tenant.id)
    enroll(code)
    err = refused_code(code)
    assert "code" in err.message


def test_a_code_with_three_uses_enrolls_three_terminals(app_ctx: Flask, tenant: TenantKeys) -> None:
    code = new_code(tenant.id, uses=3)
    pins = {enroll(code, serial=f"S{i}").device.pin for i in range(3)}
    assert len(pins) == 3
    refused_code(code)


def test_an_expired_code_is_refused_and_keeps_its_uses(app_ctx: Flask, tenant: TenantKeys) -> None:
    code, row = devices.create_enrollment_code(tenant.id, uses=1, ttl_seconds=3600)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    refused_code(code)
    db.session.refresh(row)
    assert row.uses_left == 1


@pytest.mark.parametrize("code", ["ENR-AAAA-BBBB", "", "not a code at all"])
def test_an_unknown_code_is_refused(app_ctx: Flask, tenant: TenantKeys, code: str) -> None:
    new_code(tenant.id)
    refused_code(code)


def test_re_enrolling_a_serial_takes_the_device_back(app_ctx: Flask, tenant: TenantKeys) -> None:
    first = enroll(new_code(tenant.id), serial="16204B17A7", name="Склад-1")
    device_id, pin = first.device.id, first.device.pin
    again = enroll(new_code(tenant.id), serial="16204B17A7", name="Склад-1 (сброс)")
    assert again.device.id == device_id
    assert again.device.pin == pin
    assert again.device.name == "Склад-1 (сброс)"
    assert again.token != first.token
    assert not token_works(first.token)
    assert token_works(again.token)
    assert db.session.query(Device).filter_by(tenant_id=tenant.id).count() == 1


def test_terminals_without_a_serial_are_separate_devices(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    a = enroll(new_code(tenant.id))
    b = enroll(new_code(tenant.id))
    assert a.device.id != b.device.id
    assert a.device.pin != b.device.pin
    assert token_works(a.token)
    assert token_works(b.token)


def test_the_serial_of_a_revoked_device_makes_a_new_device(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    old = enroll(new_code(tenant.id), serial="SN-1")
    devices.revoke(old.device)
    new = enroll(new_code(tenant.id), serial="SN-1")
    assert new.device.id != old.device.id
    assert not token_works(old.token)


def test_the_same_serial_in_another_tenant_is_another_device(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    ours = enroll(new_code(tenant.id), serial="SN-1")
    theirs = enroll(new_code(other_tenant.id), serial="SN-1")
    assert theirs.device.id != ours.device.id
    assert theirs.device.tenant_id == other_tenant.id
    assert token_works(ours.token)


def test_revoking_frees_the_pin_and_kills_the_token(app_ctx: Flask, tenant: TenantKeys) -> None:
    enrolled = enroll(new_code(tenant.id))
    pin = enrolled.device.pin
    devices.revoke(enrolled.device)
    assert (enrolled.device.pin, enrolled.device.last_pin) == (None, pin)
    assert not token_works(enrolled.token)
    with pytest.raises(NotFound) as info:
        devices.by_pin(tenant.id, pin or "")
    assert info.value.message == f"Device not found by PIN {pin}. Documents were not uploaded."


def test_new_pin_retires_the_old_one(
    app_ctx: Flask, tenant: TenantKeys, sequential_pins: None
) -> None:
    enrolled = enroll(new_code(tenant.id))
    assert enrolled.device.pin == "1000"
    devices.new_pin(enrolled.device)
    assert (enrolled.device.pin, enrolled.device.last_pin) == ("1001", "1000")
    assert token_works(enrolled.token)  # a PIN is an address, not a credential
    assert devices.pick_pin(tenant.id) == "1002"


# -- pick_pin --------------------------------------------------------------------------------


def test_pins_have_four_digits_and_never_a_leading_zero(app_ctx: Flask, tenant: TenantKeys) -> None:
    for _ in range(500):
        assert FOUR_DIGITS.match(devices.pick_pin(tenant.id))


@pytest.mark.parametrize(("draw", "pin"), [(0, "1000"), (8999, "9999")])
def test_pin_range_ends(
    app_ctx: Flask, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch, draw: int, pin: str
) -> None:
    monkeypatch.setattr(devices, "secrets", SimpleNamespace(randbelow=lambda n: draw))
    assert devices.pick_pin(tenant.id) == pin


def test_a_pin_in_use_is_not_picked(
    app_ctx: Flask, tenant: TenantKeys, sequential_pins: None
) -> None:
    add_devices(tenant.id, [1000, 1001, 1003])
    assert [devices.pick_pin(tenant.id) for _ in range(2)] == ["1002", "1004"]


def test_pins_of_another_tenant_do_not_count(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys, sequential_pins: None
) -> None:
    add_devices(other_tenant.id, [1000, 1001])
    assert devices.pick_pin(tenant.id) == "1000"


def test_avoid_is_not_picked(app_ctx: Flask, tenant: TenantKeys, sequential_pins: None) -> None:
    assert devices.pick_pin(tenant.id, avoid="1000") == "1001"


def test_retired_pins_are_avoided_while_space_allows(
    app_ctx: Flask, tenant: TenantKeys, sequential_pins: None
) -> None:
    add_devices(tenant.id, [1000, 1001], retired=True)
    add_devices(tenant.id, [1002])
    assert devices.pick_pin(tenant.id) == "1003"


def test_pins_stay_at_four_digits_just_below_half(
    app_ctx: Flask, tenant: TenantKeys, sequential_pins: None
) -> None:
    add_devices(tenant.id, range(1000, 1000 + HALF_OF_FOUR_DIGITS - 1))
    assert devices.pick_pin(tenant.id) == str(1000 + HALF_OF_FOUR_DIGITS - 1)


def test_pins_grow_to_five_digits_when_half_are_in_use(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_devices(tenant.id, range(1000, 1000 + HALF_OF_FOUR_DIGITS))
    picked = {devices.pick_pin(tenant.id) for _ in range(5)}
    assert all(FIVE_DIGITS.match(pin) for pin in picked), picked


def test_an_enrollment_gets_a_five_digit_pin_when_half_are_in_use(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    add_devices(tenant.id, range(5500, 5500 + HALF_OF_FOUR_DIGITS))
    enrolled = enroll(new_code(tenant.id))
    assert FIVE_DIGITS.match(enrolled.device.pin or "")
    assert devices.by_pin(tenant.id, enrolled.device.pin or "").id == enrolled.device.id


def test_retired_pins_are_not_reused_while_other_free_pins_remain(
    app_ctx: Flask, tenant: TenantKeys, sequential_pins: None
) -> None:
    # 4500 retired PINs (1000-5499), no active device: 4500 never-used 4-digit PINs remain.
    add_devices(tenant.id, range(1000, 1000 + HALF_OF_FOUR_DIGITS), retired=True)
    pin = devices.pick_pin(tenant.id)
    assert not 1000 <= int(pin) < 1000 + HALF_OF_FOUR_DIGITS, pin
