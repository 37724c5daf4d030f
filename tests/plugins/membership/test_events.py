"""Member events (会员品鉴会): invitations by tier through `customer_notification` (campaigns'
outbox, with consent), registration that opens for gold before silver, and a capacity that
gives the last place once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.models import utcnow
from tests.conftest import Api, enable


def _member(shop, phone: str, spend: str, name: str) -> int:
    r = shop.api.post("/customers", {"name": name, "phone": phone, "consents": [
        {"channel": "sms", "granted": True, "source": "paper_form"}]}, token=shop.chain.till)
    assert r.status_code == 201, r.json
    shop.till.sell(r.json["id"], spend)
    return r.json["id"]


def test_gold_registers_first_silver_later_ordinary_never_and_the_last_place_goes_once(shop):
    from core.extensions import db
    from plugins.campaigns.models import OutboxEntry

    enable(shop.app, "SH001", "campaigns")
    gold = _member(shop, "13900139601", "5000.00", "金一")
    gold2 = _member(shop, "13900139602", "5000.00", "金二")
    silver = _member(shop, "13900139603", "3000.00", "银一")
    ordinary = _member(shop, "13900139604", "1000.00", "普一")
    manager = Api(shop.app.test_client(), token=shop.chain.manager_token)
    now = utcnow()
    r = manager.post("/membership/events", {
        "store": "SH001", "name": "秋季新豆品鉴会", "capacity": 1, "lowest_tier": "silver", "tier_lead_days": 3,
        "starts_at": (now + timedelta(days=10)).isoformat(), "registration_opens_at": (now - timedelta(hours=1)).isoformat()})
    assert r.status_code == 201, r.json
    event = r.json
    assert [o["tier"] for o in event["opens"]] == ["gold", "silver"]  # silver opens 3 days after gold
    r = manager.post(f"/membership/events/{event['id']}/invitations", {"store": "SH001"})
    assert r.json == {"invited": 3, "notified": 3}, r.json
    assert manager.post(f"/membership/events/{event['id']}/invitations", {"store": "SH001"}).json == {
        "invited": 0, "notified": 0}  # nobody twice
    with shop.app.app_context():
        invited = {e.customer_id for e in db.session.scalars(select(OutboxEntry)) if "秋季新豆品鉴会" in e.body}
    assert invited == {gold, gold2, silver}  # the ordinary member (below silver) is not invited

    def register(cid):
        return shop.api.post(f"/membership/events/{event['id']}/registrations", {"customer_id": cid},
                             token=shop.chain.till)

    early = register(silver)
    assert early.status_code == 422 and "opens_at" in early.json["error"]  # not silver's turn yet
    assert register(ordinary).json["error"]["fields"]["customer_id"] == ["This member is not invited to this event."]
    first = register(gold)
    assert first.status_code == 201 and first.json["state"] == "registered"
    assert register(gold).status_code == 201  # once: the same registration
    full = register(gold2)
    assert full.status_code == 409 and full.json["error"]["capacity"] == 1
    r = shop.api.post(f"/membership/events/{event['id']}/registrations/{gold}/cancel", {}, token=shop.chain.till)
    assert r.status_code == 200 and r.json["state"] == "cancelled"
    assert register(gold2).status_code == 201  # the freed place
    assert manager.get(f"/membership/events/{event['id']}?store=SH001").json["registered"] == 1

    from tests.admin.conftest import login

    client = shop.app.test_client()
    assert login(client, "alice").status_code == 302
    page = client.get(f"/admin/customers/{gold2}").get_data(as_text=True)
    assert "秋季新豆品鉴会" in page and "member-events" in page
    listing = client.get("/admin/membership/events/").get_data(as_text=True)
    assert "秋季新豆品鉴会" in listing and "1 / 1" in listing and "event-new" not in listing  # staff: no planning form

    # Another branch (membership on there too) neither reads nor fills SH001's event.
    enable(shop.app, "BJ001", "membership")
    bj = Api(shop.app.test_client(), token=shop.chain.till_bj)
    assert bj.get(f"/membership/events/{event['id']}?store=BJ001").status_code == 404
    bob = shop.app.test_client()
    assert login(bob, "bob").status_code == 302
    assert "秋季新豆品鉴会" not in bob.get("/admin/membership/events/").get_data(as_text=True)
