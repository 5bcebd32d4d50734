"""Real concurrency (SPEC §7, §12): many terminals at the same moment, over pooled connections.

Every racing thread has its own Flask test client and its own terminal identity, so each
request runs in its own application context with its own database connection; a barrier
releases them together. The PostgreSQL-only tests need row locks to mean anything; the last
ones check that SQLite (WAL, busy timeout, BEGIN IMMEDIATE) takes concurrent writers, from
threads and from separate OS processes, without "database is locked" and without losing work.
"""

import json
import random
import subprocess
import sys
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from relay.directory import devices
from relay.extensions import db
from relay.ids import hash_token
from relay.models import (
    Device,
    Document,
    EnrollmentCode,
    Event,
    Instance,
    Result,
    Submission,
    User,
)
from tests.helpers import Client, TenantKeys, Terminal, doc
from tests.racing import race
from tests.serving import REPO_ROOT

pytestmark = pytest.mark.timeout(90)

Answer = tuple[int, Any]


def post(app: Flask, path: str, token: str | None = None, body: Any = None) -> Answer:
    """One request through a test client of its own (its own context, session, connection)."""
    response = Client(app.test_client()).post(path, token, body)
    return response.status_code, response.json


def get(app: Flask, path: str, token: str) -> Answer:
    response = Client(app.test_client()).get(path, token)
    return response.status_code, response.json


def operators(api: Client, tenant: TenantKeys, count: int) -> list[tuple[str, Terminal]]:
    """``count`` operators, each logged in on a terminal of their own, all in group "pickers"."""
    out = []
    for n in range(count):
        login = f"picker{n:02}"
        api.user(tenant, login)
        terminal = api.enroll(tenant, name=f"ТСД-{n:02}")
        out.append((login, api.login(terminal, login)))
    api.group(tenant, "pickers", [login for login, _ in out])
    return out


def order(n: int) -> dict[str, Any]:
    return doc(f"ЗаказКлиента-{n:04}")


# -- claims -------------------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_of_twenty_simultaneous_claims_exactly_one_wins(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    racers = operators(api, tenant, 20)
    pushed = api.push(
        tenant, "order-picking", [order(n) for n in range(4)], {"groups": ["pickers"]}
    )
    pushed_all = api.push(tenant, "order-picking", [order(n) for n in range(4, 8)], {"all": True})
    instance_ids = [
        d["instances"][0]["id"] for d in pushed.json["documents"] + pushed_all.json["documents"]
    ]
    assert len(instance_ids) == 8

    for instance_id in instance_ids:
        path = f"/api/v1/terminal/documents/{instance_id}/claim"
        answers = race([partial(post, app, path, t.bearer) for _, t in racers])

        statuses = Counter(status for status, _ in answers)
        assert statuses == {200: 1, 409: len(racers) - 1}, answers
        winner_index = next(i for i, (status, _) in enumerate(answers) if status == 200)
        winner_login, winner = racers[winner_index]
        token = answers[winner_index][1]["claim_token"]
        for status, body in answers:
            if status == 409:
                assert body["error"]["code"] == "already_claimed", body
                assert body["error"]["details"]["holder"]["login"] == winner_login, body
                assert body["error"]["details"]["holder"]["device_id"] == winner.device_id

        with app.app_context():
            instance = db.session.get(Instance, (tenant.id, uuid.UUID(instance_id)))
            assert instance is not None
            assert instance.state == "claimed"
            holder = db.session.get(User, (tenant.id, instance.holder_user_id))
            assert holder is not None
            assert holder.login == winner_login
            assert str(instance.holder_device_id) == winner.device_id
            assert instance.claim_token_hash == hash_token(token)
            claimed_events = db.session.scalar(
                select(func.count())
                .select_from(Event)
                .where(
                    Event.tenant_id == tenant.id,
                    Event.instance_id == instance.id,
                    Event.kind == "claimed",
                )
            )
            assert claimed_events == 1
            db.session.remove()

        # It left the others' inboxes and stays in the winner's.
        loser = racers[(winner_index + 1) % len(racers)][1]
        assert instance_id not in [d["id"] for d in api.inbox(loser)]
        assert instance_id in [d["id"] for d in api.inbox(winner) if d["claimed_by_me"]]


# -- completions --------------------------------------------------------------------------------


def claimed_receipts(api: Client, tenant: TenantKeys, count: int) -> tuple[Terminal, list[str]]:
    terminal = api.enroll(tenant)
    pushed = api.push(
        tenant,
        "purchase-receipt",
        [doc(f"ЗаказПоставщику-{n:04}") for n in range(count)],
        {"pin": terminal.pin},
    )
    ids = [d["instances"][0]["id"] for d in pushed.json["documents"]]
    for instance_id in ids:
        api.claim(terminal, instance_id)
    return terminal, ids


def completion(terminal: Terminal, instance_id: str, submission_id: str, comment: str) -> Any:
    return {
        "submission_id": submission_id,
        "claim_token": terminal.claims[instance_id],
        "header": {"comment": comment},
        "lines": [
            {"line_id": "1", "qty": 6},
            {"line_id": "1", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": 5},
        ],
    }


def stored(app: Flask, tenant: TenantKeys, instance_id: str, submission_id: str) -> list[int]:
    """How many results, submissions and "completed" events the instance has."""
    with app.app_context():
        ident = uuid.UUID(instance_id)
        counts = [
            db.session.scalar(select(func.count()).select_from(model).where(*where))
            for model, where in (
                (Result, (Result.tenant_id == tenant.id, Result.instance_id == ident)),
                (
                    Submission,
                    (
                        Submission.tenant_id == tenant.id,
                        Submission.submission_id == submission_id,
                    ),
                ),
                (
                    Event,
                    (
                        Event.tenant_id == tenant.id,
                        Event.instance_id == ident,
                        Event.kind == "completed",
                    ),
                ),
            )
        ]
        db.session.remove()
    return [int(c or 0) for c in counts]


@pytest.mark.postgres_only
def test_one_submission_sent_by_many_threads_is_applied_once(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal, ids = claimed_receipts(api, tenant, 4)
    for instance_id in ids:
        submission_id = uuid.uuid4().hex
        body = completion(terminal, instance_id, submission_id, "2 boxes damaged")
        path = f"/api/v1/terminal/documents/{instance_id}/complete"
        answers = race([partial(post, app, path, terminal.bearer, body) for _ in range(8)])

        assert answers[0][0] == 200, answers
        assert answers[0][1]["state"] == "completed"
        assert all(answer == answers[0] for answer in answers), answers
        assert stored(app, tenant, instance_id, submission_id) == [1, 1, 1]

    results = api.get("/api/v1/results", tenant.accounting_key).json["results"]
    assert sorted(r["instance_id"] for r in results) == sorted(ids)


@pytest.mark.postgres_only
def test_one_submission_id_with_two_bodies_applies_one_of_them(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal, ids = claimed_receipts(api, tenant, 3)
    for instance_id in ids:
        submission_id = uuid.uuid4().hex
        bodies = [
            completion(terminal, instance_id, submission_id, comment)
            for comment in ("first", "second")
            for _ in range(4)
        ]
        path = f"/api/v1/terminal/documents/{instance_id}/complete"
        answers = race([partial(post, app, path, terminal.bearer, body) for body in bodies])

        winners = {bodies[i]["header"]["comment"] for i, a in enumerate(answers) if a[0] == 200}
        assert len(winners) == 1, answers
        for body, (status, answer) in zip(bodies, answers, strict=True):
            if body["header"]["comment"] in winners:
                assert status == 200, answer
            else:
                assert status == 422, answer
                assert answer["error"]["code"] == "idempotency_key_reused", answer
        assert len({json.dumps(a, sort_keys=True) for a in answers if a[0] == 200}) == 1
        assert stored(app, tenant, instance_id, submission_id) == [1, 1, 1]
        result = api.get(
            f"/api/v1/results/{next(a[1]['result_id'] for a in answers if a[0] == 200)}",
            tenant.accounting_key,
        ).json
        assert result["header"] == {"comment": winners.pop()}


def instance_row(app: Flask, tenant: TenantKeys, instance_id: str) -> tuple[str, str]:
    """An instance's state and document id, read from the database."""
    with app.app_context():
        instance = db.session.get(Instance, (tenant.id, uuid.UUID(instance_id)))
        assert instance is not None
        row = (instance.state, str(instance.document_id))
        db.session.remove()
    return row


@pytest.mark.postgres_only
def test_cancel_racing_a_completion_leaves_one_of_them_whole(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    """Accounting cancels while the terminal completes: one wins, the other changes nothing."""
    terminal, ids = claimed_receipts(api, tenant, 6)
    for instance_id in ids:
        submission_id = uuid.uuid4().hex
        body = completion(terminal, instance_id, submission_id, "done")
        document_id = instance_row(app, tenant, instance_id)[1]
        done, cancelled = race(
            [
                partial(
                    post,
                    app,
                    f"/api/v1/terminal/documents/{instance_id}/complete",
                    terminal.bearer,
                    body,
                ),
                partial(
                    post, app, f"/api/v1/documents/{document_id}/cancel", tenant.accounting_key
                ),
            ]
        )
        state = instance_row(app, tenant, instance_id)[0]
        rows = stored(app, tenant, instance_id, submission_id)
        if done[0] == 200:
            assert cancelled[0] == 409, cancelled
            assert cancelled[1]["error"]["code"] == "document_completed", cancelled
            assert (state, rows) == ("completed", [1, 1, 1])
        else:
            assert done[0] == 409, done
            assert done[1]["error"]["code"] == "document_cancelled", done
            assert cancelled[0] == 200, cancelled
            assert (state, rows) == ("cancelled", [0, 0, 0])


@pytest.mark.postgres_only
def test_two_acks_of_one_result_at_once_process_it_once(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal, ids = claimed_receipts(api, tenant, 3)
    result_ids = [
        api.complete(terminal, i, completion(terminal, i, uuid.uuid4().hex, "x")["lines"]).json[
            "result_id"
        ]
        for i in ids
    ]
    answers = race(
        [
            partial(post, app, "/api/v1/results/ack", tenant.accounting_key, {"ids": result_ids})
            for _ in range(6)
        ]
    )
    assert [status for status, _ in answers] == [200] * 6, answers
    processed = [r for _, body in answers for r in body["processed"]]
    already = [r for _, body in answers for r in body["already_processed"]]
    assert sorted(processed) == sorted(result_ids)  # each result processed by one ack only
    assert len(already) == 5 * len(result_ids)
    with app.app_context():
        events = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.tenant_id == tenant.id, Event.kind == "processed")
        )
        db.session.remove()
    assert events == len(result_ids)


@pytest.mark.postgres_only
def test_simultaneous_wrong_passwords_are_all_counted(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    """Eight wrong passwords at once: five count and lock the user, the rest find it locked."""
    api.user(tenant, "ivanov")
    terminal = api.enroll(tenant)
    answers = race(
        [
            partial(
                post,
                app,
                "/api/v1/terminal/sessions",
                terminal.token,
                {"login": "ivanov", "password": f"wrong-{n}"},
            )
            for n in range(8)
        ]
    )
    assert Counter(status for status, _ in answers) == {401: 5, 429: 3}, answers
    assert {body["error"]["code"] for status, body in answers if status == 429} == {"login_locked"}
    status, body = post(
        app,
        "/api/v1/terminal/sessions",
        terminal.token,
        {"login": "ivanov", "password": "secret-1"},
    )
    assert (status, body["error"]["code"]) == (429, "login_locked")


@pytest.mark.postgres_only
def test_simultaneous_identical_pushes_store_one_document(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    """1C retrying a push whose answer is late: never a duplicate, never a 500."""
    terminal = api.enroll(tenant)
    body = {"business_process": "purchase-receipt", "target": {"pin": terminal.pin}}
    for n in range(4):
        push = {**body, "documents": [doc(f"ЗаказПоставщику-{n:04}")]}
        answers = race(
            [partial(post, app, "/api/v1/documents", tenant.accounting_key, push) for _ in range(6)]
        )
        statuses = Counter(status for status, _ in answers)
        assert statuses[201] == 1, answers
        assert set(statuses) <= {200, 201, 409}, answers
        for status, answer in answers:
            if status == 409:  # lost the race for the unique key, rolled back: "retry it"
                assert answer["error"]["code"] == "conflict", answer
    with app.app_context():
        documents = db.session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant_id == tenant.id)
        )
        instances = db.session.scalar(
            select(func.count()).select_from(Instance).where(Instance.tenant_id == tenant.id)
        )
        db.session.remove()
    assert (documents, instances) == (4, 4)
    assert len(api.inbox(terminal)) == 4


@pytest.mark.postgres_only
def test_simultaneous_identical_pushes_all_answer_with_the_document(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    body = {"business_process": "purchase-receipt", "target": {"pin": terminal.pin}}
    for n in range(4):
        push = {**body, "documents": [doc(f"ЗаказПоставщику-{n:04}")]}
        answers = race(
            [partial(post, app, "/api/v1/documents", tenant.accounting_key, push) for _ in range(6)]
        )
        assert sorted(status for status, _ in answers) == [200] * 5 + [201], answers
        assert len({a["documents"][0]["id"] for _, a in answers}) == 1
        assert (
            sorted(a["documents"][0]["status"] for _, a in answers)
            == ["created"] + ["unchanged"] * 5
        )


# -- enrollment ---------------------------------------------------------------------------------


def enroll_with(app: Flask, code: str, n: int) -> Answer:
    return post(
        app,
        "/api/v1/terminal/enroll",
        body={"code": code, "name": f"ТСД-{n:02}", "model": "EDA50", "serial": f"SN{n:04}"},
    )


def code_state(app: Flask, tenant: TenantKeys) -> tuple[list[int], list[str | None]]:
    with app.app_context():
        uses = list(
            db.session.scalars(
                select(EnrollmentCode.uses_left).where(EnrollmentCode.tenant_id == tenant.id)
            )
        )
        pins = list(db.session.scalars(select(Device.pin).where(Device.tenant_id == tenant.id)))
        db.session.remove()
    return uses, pins


@pytest.mark.postgres_only
def test_thirty_terminals_enroll_at_once_with_one_code(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    code = api.enrollment_code(tenant, uses=30)
    answers = race([partial(enroll_with, app, code, n) for n in range(30)])

    assert [status for status, _ in answers] == [201] * 30, answers
    pins = [body["pin"] for _, body in answers]
    assert len(set(pins)) == 30, pins
    assert len({body["device_id"] for _, body in answers}) == 30
    assert len({body["token"] for _, body in answers}) == 30
    uses_left, stored_pins = code_state(app, tenant)
    assert uses_left == [0]
    assert sorted(stored_pins) == sorted(pins)
    # Every token works.
    for _, body in answers[:5]:
        assert get(app, "/api/v1/terminal/documents", body["token"])[0] == 200


@pytest.mark.postgres_only
def test_a_code_for_five_raced_by_ten_enrolls_exactly_five(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    code = api.enrollment_code(tenant, uses=5)
    answers = race([partial(enroll_with, app, code, n) for n in range(10)])

    assert Counter(status for status, _ in answers) == {201: 5, 401: 5}, answers
    for status, body in answers:
        if status == 401:
            assert body["error"]["code"] == "invalid_enrollment_code", body
    uses_left, pins = code_state(app, tenant)
    assert uses_left == [0]
    assert sorted(pins) == sorted(b["pin"] for s, b in answers if s == 201)


@pytest.mark.postgres_only
def test_simultaneous_enrollments_with_separate_codes_never_share_a_pin(
    app: Flask, api: Client, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Separate codes do not queue on one code row, so PIN picks really race.

    The PIN space is shrunk to two digits (90 PINs) so that concurrent picks collide and the
    retry on the unique key is exercised.
    """
    monkeypatch.setattr(devices, "PIN_MIN_LENGTH", 2)
    codes = [api.enrollment_code(tenant) for _ in range(20)]
    answers = race([partial(enroll_with, app, code, n) for n, code in enumerate(codes)])

    assert [status for status, _ in answers] == [201] * 20, answers
    pins = [body["pin"] for _, body in answers]
    assert len(set(pins)) == 20, sorted(pins)
    uses_left, stored_pins = code_state(app, tenant)
    assert uses_left == [0] * 20
    assert sorted(stored_pins) == sorted(pins)


# -- many writers on one database (SQLite above all) -------------------------------------------


def claim_all(app: Flask, terminal: Terminal, instance_ids: list[str], seed: int) -> list[Answer]:
    order_ = list(instance_ids)
    random.Random(seed).shuffle(order_)
    answers = []
    for instance_id in order_:
        status, body = post(app, f"/api/v1/terminal/documents/{instance_id}/claim", terminal.bearer)
        answers.append((status, {"instance": instance_id, **(body or {})}))
        # Readers in between: the inbox is read while others write.
        assert get(app, "/api/v1/terminal/documents", terminal.bearer)[0] == 200
    return answers


def push_many(app: Flask, tenant: TenantKeys, prefix: str, count: int) -> list[Answer]:
    return [
        post(
            app,
            "/api/v1/documents",
            tenant.accounting_key,
            {
                "business_process": "order-picking",
                "target": {"all": True},
                "documents": [doc(f"{prefix}-{n:03}")],
            },
        )
        for n in range(count)
    ]


def test_threads_push_and_claim_at_once_and_nothing_is_lost(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    threads, per_thread = 6, 5
    racers = operators(api, tenant, threads)

    # Pushes from every thread at once (each push bumps the same tenant row: "all").
    pushes = race([partial(push_many, app, tenant, f"T{t}", per_thread) for t in range(threads)])
    flat = [answer for answers in pushes for answer in answers]
    assert [status for status, _ in flat] == [201] * threads * per_thread, flat
    instance_ids = [body["documents"][0]["instances"][0]["id"] for _, body in flat]

    # Every thread claims every instance, in its own order, reading its inbox in between,
    # while accounting pushes more.
    calls = [
        partial(claim_all, app, terminal, instance_ids, seed)
        for seed, (_, terminal) in enumerate(racers)
    ]
    answers = race([*calls, partial(push_many, app, tenant, "extra", per_thread)])
    extra = answers.pop()
    assert [status for status, _ in extra] == [201] * per_thread, extra

    winners: dict[str, str] = {}
    for (login, _), claims in zip(racers, answers, strict=True):
        for status, body in claims:
            assert status in (200, 409), body
            if status == 200:
                assert body["instance"] not in winners, body
                winners[body["instance"]] = login
            else:
                assert body["error"]["code"] == "already_claimed", body
    assert sorted(winners) == sorted(instance_ids)

    with app.app_context():
        documents = db.session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant_id == tenant.id)
        )
        assert documents == threads * per_thread + per_thread
        rows = db.session.execute(
            select(Instance.id, Instance.state, User.login)
            .outerjoin(
                User,
                (User.tenant_id == Instance.tenant_id) & (User.id == Instance.holder_user_id),
            )
            .where(Instance.tenant_id == tenant.id)
        ).all()
        db.session.remove()
    held = {str(row.id): row.login for row in rows if row.state == "claimed"}
    assert held == winners
    assert sorted(row.state for row in rows if str(row.id) not in winners) == ["queued"] * 5


def test_two_processes_write_one_database_at_once(
    app: Flask, api: Client, tenant: TenantKeys, database_url: str, tmp_path: Path
) -> None:
    """Two OS processes, each with its own app and engine, push and claim on one database."""
    per_process = 12
    racers = operators(api, tenant, 2)
    procs = []
    try:
        for n, (_, terminal) in enumerate(racers):
            job = {
                "database_url": database_url,
                "instance_path": str(tmp_path / f"instance-{n}"),
                "accounting_key": tenant.accounting_key,
                "token": terminal.bearer,
                "prefix": f"P{n}",
                "count": per_process,
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.api.concurrent_writer", json.dumps(job)],
                    cwd=REPO_ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:  # both apps are built and connected before either starts
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line == "ready\n", line + proc.communicate(timeout=10)[1]
        for proc in procs:  # the start signal, to both before waiting for either
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=45) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait(timeout=10)
    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in err, err
        reports.append(json.loads(out))

    # The two really wrote at the same time.
    assert max(r["started"] for r in reports) < min(r["ended"] for r in reports), reports
    pushed = [status for r in reports for status in r["pushed"]]
    assert pushed == [201] * 2 * per_process
    won: list[str] = []
    for report in reports:
        assert report["unexpected"] == [], report["unexpected"]
        won += report["claimed"]
    assert len(won) == len(set(won)) == 2 * per_process  # each instance claimed exactly once

    with app.app_context():
        states = Counter(
            db.session.scalars(select(Instance.state).where(Instance.tenant_id == tenant.id))
        )
        claimed_events = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.tenant_id == tenant.id, Event.kind == "claimed")
        )
        db.session.remove()
    assert states == {"claimed": 2 * per_process}
    assert claimed_events == 2 * per_process
