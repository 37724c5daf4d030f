"""Rows written with a Core INSERT and joined to the session as loaded (core/models/rows.py)
are forgotten by a rollback exactly as rows the unit of work inserted: a rolled-back savepoint,
a released savepoint inside a rolled-back one, and the whole transaction. Otherwise a lookup
would hold a profile whose row is gone, and on SQLite (which hands a rolled-back id out again)
the next profile could not join the session under its id."""

from __future__ import annotations

from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer
from core.services.customers import create_customer


def _new(phone):
    return create_customer(db.session, None, {"phone": phone, "name": phone})


def test_a_rolled_back_savepoint_forgets_the_profiles_it_wrote(app):
    with app.app_context():
        kept = _new("13800000001")
        savepoint = db.session.begin_nested()
        gone = _new("13800000002")
        inner = db.session.begin_nested()
        gone_inner = _new("13800000003")
        inner.commit()  # released: still undone by the rollback around it
        savepoint.rollback()
        assert gone not in db.session and gone_inner not in db.session and kept in db.session
        # the id a rolled-back profile had (SQLite gives it again) joins the session
        again = _new("13800000004")
        assert again in db.session and db.session.get(Customer, again.id) is again
        db.session.commit()
        assert kept in db.session and again in db.session
        assert sorted(db.session.scalars(select(Customer.name))) == ["13800000001", "13800000004"]


def test_a_rolled_back_transaction_forgets_them_and_a_committed_one_keeps_them(app):
    with app.app_context():
        first = _new("13800000011")
        db.session.commit()
        second = _new("13800000012")
        db.session.rollback()
        assert first in db.session and second not in db.session
        third = _new("13800000013")
        db.session.commit()
        assert third.name == "13800000013"  # loaded fresh after the commit: the row is there
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 2
