"""`demo_seed`: a past campaign with sends, a control group never messaged and redemptions tied to
the demo's sales; a second run adds nothing; its report reads like a real one."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import func, select

from core.extensions import db
from core.models import Store
from core.plugins import HookContext


def test_demo_seed_adds_one_believable_past_campaign(shop):
    from plugins.campaigns.models import Campaign, Message, Recipient, Redemption
    from plugins.campaigns.services.effect import report

    people = [shop.customer(f"老客{i}") for i in range(20)]
    for cid in people:
        shop.sell(cid, "60.00", days_ago=60)
        shop.sell(cid, "150.00", days_ago=20)

    def seed():
        with shop.app.app_context():
            reg = shop.app.extensions["storecrm.plugins"]
            store = db.session.get(Store, shop.chain.ids["sh"])
            ctx = HookContext(session=db.session, store=store, actor="demo", registry=reg, plugin="campaigns")
            reg.caller_for("demo_seed", "campaigns")(store=store, rng=random.Random(5), today=date.today(), ctx=ctx)
            db.session.commit()

    seed()
    seed()
    with shop.app.app_context():
        campaigns = db.session.scalars(select(Campaign)).all()
        assert len(campaigns) == 1
        camp = campaigns[0]
        control = set(db.session.scalars(select(Recipient.customer_id).where(Recipient.is_control.is_(True))))
        messaged = set(db.session.scalars(select(Message.customer_id).where(Message.campaign_id == camp.id)))
        used = db.session.scalar(select(func.count()).select_from(Redemption))
        assert len(control) == 2 and messaged == set(people) - control
        assert 0 < used <= 18
        doc = report(db.session, camp)
    assert doc["sends"]["sent"] == 18 and doc["redemption"]["redeemed"] == used
    assert doc["groups"]["control"]["customers"] == 2 and doc["groups"]["window"]["complete"] is True
