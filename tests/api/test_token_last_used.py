"""A token's `last_used_at`: written on authentication, at most once per LAST_USED_EVERY, so
a till calling many times a minute costs no write on most requests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bench.measure import count_statements
from core.api.http import LAST_USED_EVERY
from core.extensions import db
from core.models import ApiToken, utcnow


def last_used(app, raw: str):
    with app.app_context():
        return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.token_hash == ApiToken.hash(raw)))


def set_last_used(app, raw: str, value) -> None:
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.token_hash == ApiToken.hash(raw)).values(last_used_at=value))
        db.session.commit()


def token_writes(app, call) -> list[str]:
    with app.app_context():
        engine = db.engine
    with count_statements(engine) as box:
        response = call()
    assert response.status_code == 200, response.json
    return [s for s in box["statements"] if s.lstrip().upper().startswith("UPDATE API_TOKEN")]


def test_first_use_is_recorded_then_not_rewritten_within_the_window(app, api, chain):
    assert last_used(app, chain.till) is None
    before = utcnow()
    assert len(token_writes(app, lambda: api.get("/customers", token=chain.till))) == 1
    first = last_used(app, chain.till)
    assert first is not None and before - timedelta(seconds=1) <= first <= utcnow()
    # the next requests inside the window send no UPDATE and leave the time as it was
    for _ in range(3):
        assert token_writes(app, lambda: api.get("/customers", token=chain.till)) == []
    assert last_used(app, chain.till) == first
    # other tokens are their own: the owner's was never used
    assert last_used(app, chain.owner_token) is None


def test_a_use_after_the_window_updates_it_again(app, api, chain):
    stale = utcnow() - LAST_USED_EVERY - timedelta(minutes=1)
    set_last_used(app, chain.staff_token, stale)
    assert len(token_writes(app, lambda: api.get("/customers", token=chain.staff_token))) == 1
    assert last_used(app, chain.staff_token) > utcnow() - timedelta(minutes=1)


def test_the_request_still_does_its_own_work_after_the_token_is_touched(app, api, chain):
    # the touch commits first; the sale that follows in the same request is written and answered
    r = api.post("/sales", {"external_id": "first-use", "lines": [{"sku": "LATTE-M", "quantity": 1}], "payments": []},
                 token=chain.till_bj)
    assert r.status_code == 201, r.json
    assert r.json["store"] == "BJ001" and r.json["total"] == "28.00"
    assert last_used(app, chain.till_bj) is not None


def test_a_refused_token_is_not_marked_as_used(app, api, chain):
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.token_hash == ApiToken.hash(chain.till_bj))
                           .values(revoked_at=utcnow()))
        db.session.commit()
    assert api.get("/customers", token=chain.till_bj).status_code == 401
    assert last_used(app, chain.till_bj) is None
