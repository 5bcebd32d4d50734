"""The console's document search: by external id or number, across processes, by index."""

import pytest
from flask import Flask

from relay.db import transaction
from relay.documents import browse
from relay.documents.routing import Target
from relay.extensions import db
from tests.factories import doc, enroll, identity, push_docs
from tests.helpers import TenantKeys, sql_sent


def test_search_finds_by_external_id_or_number_across_processes(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        terminal = enroll(tenant.id, "ТСД-1")
    target = {"pin": identity(terminal.token).device_pin}
    push_docs(
        tenant.accounting_key,
        "purchase-receipt",
        [doc("ЗаказПоставщику-1", number="000777"), doc("ЗаказПоставщику-2", number="000778")],
        Target.from_dict(target),
    )
    push_docs(
        tenant.accounting_key,
        "order-picking",
        [doc("ЗаказПоставщику-1", number="000779"), doc("000777", number="000780")],
        Target.from_dict(target),
    )
    by_id = browse.find(tenant.id, browse.Filters(text="ЗаказПоставщику-1"), before=None, limit=50)
    assert sorted(d.business_process for d in by_id.rows) == ["order-picking", "purchase-receipt"]
    # "000777" is one document's number and another's external id.
    both = browse.find(tenant.id, browse.Filters(text="000777"), before=None, limit=50)
    assert sorted(d.number for d in both.rows) == ["000777", "000780"]
    narrowed = browse.find(
        tenant.id,
        browse.Filters(text="000777", business_process="order-picking"),
        before=None,
        limit=50,
    )
    assert [d.external_id for d in narrowed.rows] == ["000777"]
    assert browse.find(tenant.id, browse.Filters(text="nothing"), before=None, limit=50).rows == []


def test_search_is_two_index_probes_on_sqlite(app_ctx: Flask, tenant: TenantKeys) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan of an unanalyzed SQLite file; PostgreSQL's is in bench/RESULTS.md")
    with sql_sent(app_ctx) as seen:
        browse.find(tenant.id, browse.Filters(text="000777"), before=None, limit=50)
    statement, parameters = next((s, p) for s, p in seen if "FROM documents" in s)
    plan = " | ".join(
        str(row[-1])
        for row in db.session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters
        )
    )
    assert "ix_documents_tenant_id_external_id (tenant_id=? AND external_id=?)" in plan, plan
    assert "ix_documents_tenant_id_number (tenant_id=? AND number=?)" in plan, plan
    assert "SCAN documents" not in plan, plan
