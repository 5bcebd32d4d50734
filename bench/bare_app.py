"""The bare stack the relay is measured against: Flask + Flask-SQLAlchemy doing the least work.

Served by the same gunicorn configuration as the relay (``config/gunicorn.conf.py``), on the
same database engine with the same SQLite settings (WAL, ``synchronous=FULL``, a busy timeout,
``BEGIN IMMEDIATE`` for writes), so the difference between the two is the relay's own work:

- ``GET /hello`` — a JSON answer, no database;
- ``GET /items?target=&limit=`` — read a page of rows and return their JSON bodies;
- ``POST /items?target=`` — insert the posted JSON as one row and commit;
- ``POST /claim?target=`` — claim the oldest queued row of a target and commit: ``SELECT …
  FOR UPDATE SKIP LOCKED`` on PostgreSQL (with the index on (target, status, id) that keeps
  it fast), a plain ``SELECT`` under ``BEGIN IMMEDIATE`` on SQLite;
- ``POST /seed?target=&count=`` — bulk-insert queued rows (preparation, never timed).

``BARE_DATABASE_URL`` names the database. Create the table with :func:`init_db` before
starting the workers.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from flask import Flask, abort, has_request_context, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Index, Integer, String, Text, event, insert, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The relay's SQLite busy timeout (relay/settings.py), so both wait for the lock alike.
SQLITE_BUSY_TIMEOUT = 15


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Item(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    target: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    token: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_item_target_status_id", "target", "status", "id"),)


CLAIM_POSTGRES = text(
    "SELECT id FROM item WHERE target = :target AND status = 'queued' "
    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
)
CLAIM_SQLITE = text(
    "SELECT id FROM item WHERE target = :target AND status = 'queued' ORDER BY id LIMIT 1"
)
MARK_CLAIMED = text("UPDATE item SET status = 'claimed', token = :token WHERE id = :id")


def database_url() -> str:
    return os.environ.get("BARE_DATABASE_URL", "sqlite:///bench/out/run/bare.sqlite3")


def create_app(url: str | None = None) -> Flask:
    """The bare app on ``url`` (default: ``BARE_DATABASE_URL``)."""
    app = Flask(__name__)
    url = url or database_url()
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _sqlite_hooks(db.engine)
    claim = CLAIM_SQLITE if url.startswith("sqlite") else CLAIM_POSTGRES

    @app.get("/hello")
    def hello() -> Any:
        return jsonify(hello="world")

    @app.get("/items")
    def items() -> Any:
        target = request.args.get("target", "push")
        limit = request.args.get("limit", 10, type=int)
        rows = db.session.execute(
            db.select(Item).where(Item.target == target).order_by(Item.id).limit(limit)
        ).scalars()
        out = [{"id": r.id, "status": r.status, "body": json.loads(r.body)} for r in rows]
        return jsonify(items=out)

    @app.post("/items")
    def add_item() -> Any:
        item = Item(target=request.args.get("target", "push"), body=json.dumps(request.get_json()))
        db.session.add(item)
        db.session.flush()
        # Read the id before the commit expires it (a refresh would cost another query).
        new_id = item.id
        db.session.commit()
        return jsonify(id=new_id), 201

    @app.post("/claim")
    def claim_one() -> Any:
        target = request.args.get("target", "claim")
        row = db.session.execute(claim, {"target": target}).first()
        if row is None:
            db.session.rollback()
            abort(409)
        token = secrets.token_urlsafe(16)
        db.session.execute(MARK_CLAIMED, {"token": token, "id": row.id})
        db.session.commit()
        return jsonify(id=row.id, claim_token=token)

    @app.post("/seed")
    def seed() -> Any:
        target = request.args.get("target", "claim")
        count = request.args.get("count", 1000, type=int)
        body = json.dumps(request.get_json(silent=True) or {})
        db.session.execute(insert(Item), [{"target": target, "body": body}] * count)
        db.session.commit()
        return jsonify(seeded=count), 201

    return app


def _sqlite_hooks(engine: Any) -> None:
    """The relay's SQLite settings (relay/db.py): WAL, FULL sync, BEGIN IMMEDIATE for writes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = has_request_context() and request.method != "GET"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def init_db(url: str) -> None:
    """Create the table (and its index) on an empty database."""
    app = create_app(url)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
