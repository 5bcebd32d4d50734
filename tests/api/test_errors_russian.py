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


RU = {"Accept-Language": "ru-RU,ru;q=0.9"}


def test_a_domain_message_with_values_in_russian(api: Client, tenant: TenantKeys):
    body = {"business_process": "no-such-process", "documents": [doc()]}
    ru = api.post("/api/v1/documents", tenant.accounting_key, body, headers=RU)
    en = api.post("/api/v1/documents", tenant.accounting_key, body)
    assert ru.status_code == en.status_code == 404
    assert ru.json["error"]["code"] == en.json["error"]["code"]
    assert en.json["error"]["message"].startswith("There is no business process 'no-such-process'.")
    assert ru.json["error"]["message"].startswith(
        "Бизнес-процесса 'no-such-process' нет. Список бизнес-процессов организации"
    )


def test_catalog_errors_in_russian(api: Client, tenant: TenantKeys):
    missing = api.get("/api/v1/catalogs/prices/items", tenant.accounting_key, headers=RU)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "catalog_not_found"
    assert missing.json["error"]["message"] == "Справочника 'prices' нет."
    bad = api.put(
        "/api/v1/catalogs/products/items",
        tenant.accounting_key,
        {"items": [{"id": "p-1", "unit": "шт"}]},
        headers=RU,
    )
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "validation_failed"
    assert bad.json["error"]["message"] == (
        "Элемент 1 (id 'p-1') справочника products не прошёл проверку: поле «name»: "
        "Обязательное поле не заполнено. Всего элементов с ошибками: 1; ничего не изменено."
    )
    # details stay as they are: machine-readable field errors.
    assert bad.json["error"]["details"]["items"]["0"]["name"] == [
        "Missing data for required field."
    ]


def test_field_errors_of_the_request_in_russian(api: Client, tenant: TenantKeys):
    missing = api.post(
        "/api/v1/documents",
        tenant.accounting_key,
        {"business_process": "purchase-receipt", "documents": [{"number": "1"}]},
        headers=RU,
    )
    assert missing.status_code == 422
    assert missing.json["error"]["code"] == "validation_failed"
    assert missing.json["error"]["message"] == (
        "Запрос не прошёл проверку: поле «documents.0.external_id»: Обязательное поле не заполнено."
    )
    out_of_range = api.get("/api/v1/devices?limit=0", tenant.accounting_key, headers=RU)
    assert out_of_range.status_code == 422
    assert out_of_range.json["error"]["message"] == (
        "Запрос не прошёл проверку: поле «limit»: Должно быть от 1 до 500."
    )
    english = api.get("/api/v1/devices?limit=0", tenant.accounting_key)
    assert english.json["error"]["message"] == (
        "The request is not valid: field 'limit': Must be greater than or equal to 1 and less "
        "than or equal to 500."
    )


def test_a_message_built_of_translated_parts(api: Client, tenant: TenantKeys):
    terminal = api.enroll(tenant)
    response = api.get("/api/v1/devices", terminal.token, headers=RU)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert response.json["error"]["message"] == (
        "Для этого запроса нужен ключ учётной системы (или ключ администратора), "
        "а передан токен устройства."
    )


def test_a_batch_of_completions_answers_each_item_in_russian(api: Client, tenant: TenantKeys):
    terminal = api.enroll(tenant)
    unknown = "00000000-0000-4000-8000-000000000000"
    response = api.post(
        "/api/v1/terminal/completions",
        terminal.token,
        {
            "completions": [
                {"id": unknown, "submission_id": "s-1", "claim_token": "x", "lines": []},
                {"id": unknown, "submission_id": "s-2", "claim_token": "x", "lines": "x"},
            ]
        },
        headers=RU,
    )
    assert response.status_code == 200, response.json
    first, second = (r["body"]["error"] for r in response.json["results"])
    assert first["code"] == "document_not_found"
    assert first["message"] == f"Для этого ТСД документа {unknown} нет."
    assert second["code"] == "validation_failed"
    assert second["message"] == ("Завершение не прошло проверку: поле «lines»: Должен быть список.")
