"""API error messages follow Accept-Language (SPEC §11); the code never changes."""

from tests.helpers import Client, TenantKeys, doc


def test_unknown_pin_in_russian_and_english(api: Client, tenant: TenantKeys):
    body = {"business_process": "purchase-receipt", "documents": [doc()], "target": {"pin": "1234"}}
    ru = api.post(
        "/api/v1/documents",
        tenant.accounting_key,
        body,
        headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
    )
    en = api.post(
        "/api/v1/documents", tenant.accounting_key, body, headers={"Accept-Language": "en-US"}
    )
    assert ru.status_code == en.status_code == 404
    assert ru.json["error"]["code"] == en.json["error"]["code"] == "device_not_found"
    assert ru.json["error"]["message"] == (
        "Устройство по пин-коду 1234 не найдено. Документы не выгружены в ТСД."
    )
    assert (
        en.json["error"]["message"] == "Device not found by PIN 1234. Documents were not uploaded."
    )


def test_http_errors_in_russian(api: Client):
    missing = api.get("/api/v1/nothing", headers={"Accept-Language": "ru"})
    assert missing.json["error"]["code"] == "not_found"
    assert missing.json["error"]["message"].startswith("По адресу GET /api/v1/nothing ничего нет")
    english = api.get("/api/v1/nothing")
    assert english.json["error"]["message"].startswith("There is nothing at GET /api/v1/nothing")


def test_credentials_error_in_russian(api: Client):
    response = api.get("/api/v1/devices", headers={"Accept-Language": "ru"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.json["error"]["message"].startswith("Нет учётных данных")
    wrong = api.get("/api/v1/devices", "relay_acc_wrong", headers={"Accept-Language": "ru"})
    assert wrong.json["error"]["message"].startswith("Токен недействителен")


def test_a_message_without_translation_stays_english(api: Client, tenant: TenantKeys):
    response = api.post(
        "/api/v1/documents",
        tenant.accounting_key,
        {"business_process": "no-such-process", "documents": [doc()]},
        headers={"Accept-Language": "ru"},
    )
    assert response.status_code in (404, 422)
    assert response.json["error"]["message"]
