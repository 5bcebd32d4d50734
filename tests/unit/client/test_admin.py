"""The admin client's calls: users, groups, devices, processes, webhook, dead letters."""

from relay.client import AdminClient
from tests.unit.client.fake_relay import FakeRelay, Reply


def test_a_list_named_otherwise_is_still_read(fake: FakeRelay) -> None:
    fake.script("GET", "/api/v1/admin/dead-letters", Reply(body={"items": [{"id": "d"}]}))
    with AdminClient(fake.url, "k") as client:
        assert list(client.dead_letters()) == [{"id": "d"}]


def test_the_admin_calls(fake: FakeRelay) -> None:
    admin = "/api/v1/admin"
    calls = [
        ("POST", f"{admin}/enrollment-codes"),
        ("POST", f"{admin}/users"),
        ("GET", f"{admin}/users/%D0%B8%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2"),
        ("PATCH", f"{admin}/users/ivanov"),
        ("DELETE", f"{admin}/users/ivanov"),
        ("POST", f"{admin}/groups"),
        ("GET", f"{admin}/groups"),
        ("GET", f"{admin}/groups/%D0%9E%D0%B1%D1%89%D0%B0%D1%8F%20%2F%201"),
        ("PATCH", f"{admin}/groups/g"),
        ("DELETE", f"{admin}/groups/g"),
        ("GET", f"{admin}/devices"),
        ("GET", f"{admin}/devices/d"),
        ("PATCH", f"{admin}/devices/d"),
        ("POST", f"{admin}/devices/d/revoke"),
        ("POST", f"{admin}/devices/d/new-pin"),
        ("POST", "/api/v1/documents/x/release"),
        ("GET", f"{admin}/business-processes"),
        ("GET", f"{admin}/business-processes/price-check"),
        ("PUT", f"{admin}/business-processes/price-check"),
        ("PATCH", f"{admin}/business-processes/price-check"),
        ("PUT", f"{admin}/webhook"),
        ("POST", f"{admin}/webhook/rotate-secret"),
        ("POST", f"{admin}/webhook/test"),
        ("GET", f"{admin}/dead-letters"),
        ("POST", f"{admin}/dead-letters/dl/replay"),
    ]
    for method, path in calls:
        fake.script(method, path, Reply(204) if method == "DELETE" else Reply(body={"ok": True}))
    with AdminClient(fake.url, "relay_adm_x") as client:
        client.create_enrollment_code(uses=30)
        client.create_user("ivanov", "secret", name="Иванов")
        client.user("иванов")
        client.update_user("ivanov", password="new-secret")
        client.delete_user("ivanov")
        client.create_group("g", ["ivanov"])
        list(client.groups())
        client.group("Общая / 1")
        client.update_group("g", new_name="h", members=[])
        client.delete_group("g")
        list(client.admin_devices(status="revoked"))
        client.device("d")
        client.update_device("d", mode="online")
        client.revoke_device("d")
        client.new_pin("d")
        client.release_document("x", instance_id="i")
        list(client.business_processes())
        client.business_process("price-check")
        client.put_business_process("price-check", {"enabled": True})
        client.patch_business_process("price-check", {"enabled": False})
        assert client.set_webhook("https://1c.example/relay") == {"ok": True}
        client.rotate_webhook_secret()
        client.test_webhook()
        list(client.dead_letters())
        client.replay_dead_letter("dl")
    seen = fake.calls()
    assert [(s.method, s.path) for s in seen] == calls
    assert seen[0].body == {"uses": 30}
    assert seen[3].body == {"password": "new-secret"}
    assert seen[8].body == {"name": "h", "members": []}
    assert seen[10].query == {"status": ["revoked"]}
    assert seen[12].body == {"mode": "online"}
    assert seen[20].body == {"url": "https://1c.example/relay", "enabled": True}
