"""The till's path uses a per-process snapshot of the program, tiers and member days (issue 23);
a change made in another process — through the API or straight through the ORM as the admin's
forms do — takes effect at the very next sale there (a version, not a TTL)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tests.conftest import Api, enable
from tests.plugins.membership.conftest import Till


def test_a_change_in_another_process_takes_effect_at_the_next_sale(app, make_app, chain):
    till_app = app  # the till's process
    other = make_app()  # an admin's process on the same database, with its own cache
    enable(till_app, "SH001", "membership")
    till = Till(Api(till_app.test_client()), chain.till)
    cid = till.customer("13900139990")
    till.sell(cid, "1000.00")  # a member at 1.0: the till's process has cached the configuration
    assert till.sell(cid, "100.00")["effects"]["membership"]["points_earned"] == 100
    owner = Api(other.test_client(), token=chain.owner_token)
    ordinary = next(t for t in owner.get("/membership/tiers?store=SH001").json if t["code"] == "ordinary")
    assert owner.patch(f"/membership/tiers/{ordinary['id']}", {"store": "SH001", "points_rate": "2"}).status_code == 200
    assert till.sell(cid, "100.00")["effects"]["membership"]["points_earned"] == 200
    # the admin's forms write the row through the ORM: the same holds
    from core.extensions import db
    from plugins.membership.models import Tier

    with other.app_context():
        db.session.scalars(select(Tier).where(Tier.code == "ordinary")).one().points_rate = Decimal("3")
        db.session.commit()
    assert till.sell(cid, "100.00")["effects"]["membership"]["points_earned"] == 300
    # a change rolled back never reaches anyone's cache
    with other.app_context():
        db.session.scalars(select(Tier).where(Tier.code == "ordinary")).one().points_rate = Decimal("9")
        db.session.flush()
        db.session.rollback()
    assert till.sell(cid, "100.00")["effects"]["membership"]["points_earned"] == 300
