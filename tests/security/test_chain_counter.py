"""A customer belongs to the chain; a store sees them once linked (domain.md, "Privacy and
access"). Store BJ001's customer at store SH001's counter: no id opens anything, the full
phone or card finds them masked, "serve here" links them (audited), and then SH001 serves
them like its own."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.api.test_sales_batch import small_chunks  # noqa: F401 - a fixture: three sales per chunk
from tests.conftest import Api
from tests.security.conftest import BJ_PERSON


def _audit(app, action):
    from core.extensions import db
    from core.models import AuditLog

    with app.app_context():
        return [(r.actor, r.target_id, r.store_id, r.details) for r in
                db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))]


def _links(app):
    from core.extensions import db

    with app.app_context():
        return [tuple(r) for r in db.session.execute(sa.text(
            "SELECT customer_id, store_id, via, linked_by FROM customer_store_link ORDER BY id"))]


def test_an_id_is_no_capability_at_another_branch(app, chain, bj):
    """The reproduction of issue 11: store SH001 naming BJ001's customer by id gets 404."""
    api = Api(app.test_client())
    line = [{"sku": "LATTE-M", "quantity": 1}]
    for token in (chain.till, chain.manager_token):
        r = api.post("/sales", {"customer": {"id": bj.customer_id}, "lines": line, "store": "SH001"}, token=token)
        assert r.status_code == 404 and r.json["error"]["fields"] == {"customer.id": [f"No customer {bj.customer_id}."]}
        r = api.post("/visits", {"customer": {"id": bj.customer_id}, "store": "SH001"}, token=token)
        assert r.status_code == 404
        r = api.post("/sales/quote", {"customer": {"id": bj.customer_id}, "lines": line, "store": "SH001"}, token=token)
        assert r.status_code == 404
        batch = api.post("/sales/batch", {"store": "SH001", "sales": [{"customer": {"id": bj.customer_id},
                                                                       "lines": line}]}, token=token).json
        assert [x["status"] for x in batch["results"]] == [404]
    assert api.get(f"/customers/{bj.customer_id}", token=chain.manager_token).status_code == 404
    # the helpers plugins load their records with: a store's record, a record leading to a customer
    from core.access import customer_or_404, record_or_404
    from core.errors import NotFound
    from core.extensions import db
    from core.models import Customer, Sale, Visit

    with app.app_context():
        sh, bj_store = [chain.ids["sh"]], [chain.ids["bj"]]
        visit_id = db.session.scalar(sa.select(Visit.id).where(Visit.customer_id == bj.customer_id))
        assert record_or_404(Sale, bj.sale_id, store_ids=bj_store).id == bj.sale_id
        assert record_or_404(Visit, visit_id, store_ids=None).customer_id == bj.customer_id
        for model, record_id in ((Sale, bj.sale_id), (Visit, visit_id), (Sale, "x"), (Customer, bj.customer_id)):
            with pytest.raises(NotFound):
                if model is Customer:
                    customer_or_404(record_id, store_ids=sh)
                else:
                    record_or_404(model, record_id, store_ids=sh)
        with pytest.raises(NotFound):
            customer_or_404(2**70, store_ids=None)
    # BJ001 still owns and reads its customer; SH001 wrote nothing
    assert api.get(f"/customers/{bj.customer_id}", token=chain.till_bj).json["name"] == BJ_PERSON["name"]
    assert _links(app) == []


def test_a_chain_phone_at_the_counter_409_without_who_lookup_masked_serve_here(app, chain, bj):
    api = Api(app.test_client())
    r = api.post("/customers", {"name": "冒名", "phone": "136 9876 5432"}, token=chain.manager_token)
    assert r.status_code == 409
    # the whole answer: no id, no name, only the way to serve them here
    assert r.json == {"error": {
        "code": "conflict", "message": "this person is already a customer of the chain: serve them here",
        "fields": {"phone": ["Already a customer of the chain: serve them here."]}, "already_in_chain": True,
        "serve_here": {"method": "POST", "path": "/api/v1/customers/serve-here", "body": ["phone", "store"]}}}
    # BJ001, which sees the profile, is told which one it is
    r = api.post("/customers", {"name": "重复", "phone": BJ_PERSON["phone"]}, token=chain.till_bj)
    assert r.status_code == 409 and r.json["error"]["existing_id"] == bj.customer_id
    # and a phone taken by PATCH is answered the same way
    mine = api.post("/customers", {"name": "孙上海", "phone": "13598761111"}, token=chain.till).json["id"]
    r = api.patch(f"/customers/{mine}", {"phone": BJ_PERSON["phone"]}, token=chain.manager_token)
    assert r.status_code == 409 and "existing_id" not in r.json["error"]
    # the counter: a full phone (any spelling) or card finds the chain's customer, masked
    api.patch(f"/customers/{bj.customer_id}", {"code": "M-BJ-0001"}, token=chain.till_bj)
    for query in ("phone=%2B86%20136-9876-5432", "phone=13698765432", "code=M-BJ-0001"):
        items = api.get(f"/customers?{query}&reveal=true", token=chain.manager_token).json["items"]
        assert items == [{"id": bj.customer_id, "code": "M-BJ-0001", "name": BJ_PERSON["name"], "phone": "136****5432",
                          "email": "z***@example.com", "address": None, "hobbies": [], "preferences": {}, "tags": [],
                          "consents": [], "home_store": "BJ001", "linked": False}], query
    for query in ("q=" + BJ_PERSON["name"][:1], "q=5432", "tag=vip"):
        assert api.get(f"/customers?{query}", token=chain.till).json["items"] == [], query
    # nothing unmasked for a customer the store does not see, even with reveal=true
    assert all(bj.customer_id not in (a[3].get("ids") or []) for a in _audit(app, "unmask"))
    # serve here: linked (who, where, how), audited, once
    r = api.post("/customers/serve-here", {"phone": "136-9876-5432"}, token=chain.till)
    assert r.status_code == 200 and r.json["id"] == bj.customer_id and r.json["linked"] is True
    assert r.json["phone"] == "136****5432"  # a till is staff level
    assert _links(app) == [(bj.customer_id, chain.ids["sh"], "serve_here", "till:SH001:till")]
    assert [(a[0], a[1], a[2], a[3]["via"]) for a in _audit(app, "customer_linked")] == [
        ("till:SH001:till", str(bj.customer_id), chain.ids["sh"], "serve_here")]
    # again: nothing new
    assert api.post("/customers/serve-here", {"phone": BJ_PERSON["phone"]}, token=chain.till).status_code == 200
    assert len(_links(app)) == 1
    # SH001 now serves them by id, staff masked, manager in full
    r = api.post("/sales", {"customer": {"id": bj.customer_id}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                 token=chain.till)
    assert r.status_code == 201
    assert api.get(f"/customers/{bj.customer_id}", token=chain.staff_token).json["phone"] == "136****5432"
    assert api.get(f"/customers/{bj.customer_id}", token=chain.manager_token).json["phone"] == "+8613698765432"
    assert api.get(f"/customers?q={BJ_PERSON['name']}", token=chain.till).json["items"][0]["id"] == bj.customer_id
    # an unknown phone or card: 404, nothing linked
    assert api.post("/customers/serve-here", {"phone": "13712345678"}, token=chain.till).status_code == 404
    assert api.post("/customers/serve-here", {"code": "NOPE"}, token=chain.till).status_code == 404
    assert api.post("/customers/serve-here", {}, token=chain.till).status_code == 400
    assert api.post("/customers/serve-here", {"phone": BJ_PERSON["phone"], "store": "BJ001"},
                    token=chain.till).status_code == 403


def test_a_sale_by_phone_at_another_branch_links_writes_stay_home_a_merge_keeps_links(app, chain, bj):
    api = Api(app.test_client())
    r = api.post("/sales", {"customer": {"phone": "+86 13698765432"}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                 token=chain.till)
    assert r.status_code == 201 and r.json["customer_id"] == bj.customer_id
    assert _links(app) == [(bj.customer_id, chain.ids["sh"], "sale", "till:SH001:till")]
    assert [a[3]["via"] for a in _audit(app, "customer_linked")] == ["sale"]
    assert api.get(f"/customers/{bj.customer_id}", token=chain.till).status_code == 200
    # the customer's own store is never "linked": nothing more written for BJ001's sales
    api.post("/sales", {"customer": {"phone": BJ_PERSON["phone"]}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
             token=chain.till_bj)
    assert len(_links(app)) == 1
    # writes stay in the caller's stores
    r = api.post("/customers", {"name": "外店", "home_store": "BJ001", "store": "SH001"}, token=chain.manager_token)
    assert r.status_code == 403 and r.json["error"]["fields"] == {"home_store": ["Not your store: BJ001."]}
    mine = api.post("/customers", {"name": "本店", "home_store": "SH001"}, token=chain.manager_token)
    assert mine.status_code == 201
    r = api.patch(f"/customers/{mine.json['id']}", {"home_store": "BJ001"}, token=chain.manager_token)
    assert r.status_code == 403
    assert api.patch(f"/customers/{mine.json['id']}", {"home_store": "SH001", "name": "本店2"},
                     token=chain.manager_token).status_code == 200
    sale = {"store": "BJ001", "lines": [{"sku": "LATTE-M", "quantity": 1}]}
    assert api.post("/sales", sale, token=chain.till).status_code == 403
    assert api.post("/visits", {"store": "BJ001"}, token=chain.manager_token).status_code == 403
    # the owner works in every store
    assert api.post("/customers", {"name": "x", "home_store": "BJ001", "store": "SH001"},
                    token=chain.owner_token).status_code == 201
    # a merge keeps the stores that saw either profile
    dup = api.post("/customers", {"name": "赵北京", "email": "zhao2@example.com"}, token=chain.till_bj).json["id"]
    r = api.post(f"/customers/{dup}/merge", {"merge_id": bj.customer_id}, token=chain.owner_token)
    assert r.status_code == 200 and r.json["moved"]["customer_store_link"] == 1
    assert _links(app) == [(dup, chain.ids["sh"], "sale", "till:SH001:till")]
    assert api.get(f"/customers/{dup}", token=chain.till).status_code == 200


def test_a_store_that_sees_a_customer_through_a_visit_writes_no_link_at_a_sale(app, chain, bj):
    """The link's INSERT asks the visibility rule in the same statement: a store that sees the
    customer already (here through a visit recorded there, with no link row) links nobody."""
    from core.extensions import db
    from core.models import Visit

    with app.app_context():
        db.session.add(Visit(store_id=chain.ids["sh"], customer_id=bj.customer_id))
        db.session.commit()
    api = Api(app.test_client())
    r = api.post("/sales", {"customer": {"phone": BJ_PERSON["phone"]}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                 token=chain.till)
    assert r.status_code == 201 and r.json["customer_id"] == bj.customer_id
    assert _links(app) == [] and _audit(app, "customer_linked") == []


def test_an_offline_batch_links_a_chain_customer_once_and_a_seen_one_never(app, chain, bj, small_chunks):
    """A batch asks which of its customers the store sees once per chunk; what it writes is what
    the sales one by one would: one link and one audit entry for BJ001's customer, however many
    of their sales the batch has (also across chunks), none for SH001's own."""
    api = Api(app.test_client())
    own = api.post("/customers", {"name": "本店客", "phone": "13711112222"}, token=chain.till).json["id"]
    line = [{"sku": "LATTE-M", "quantity": 1}]
    sales = [{"external_id": f"off-{i}", "lines": line,
              "customer": {"phone": BJ_PERSON["phone"] if i % 2 else "137 1111 2222"}} for i in range(8)]
    r = api.post("/sales/batch", {"sales": sales}, token=chain.till)
    assert [x["status"] for x in r.json["results"]] == [201] * 8
    assert {api.get(f"/sales/{x['id']}", token=chain.till).json["customer_id"] for x in r.json["results"]} == {
        own, bj.customer_id}
    assert _links(app) == [(bj.customer_id, chain.ids["sh"], "sale", "till:SH001:till")]
    assert [(a[1], a[3]["via"]) for a in _audit(app, "customer_linked")] == [(str(bj.customer_id), "sale")]
    assert api.get(f"/customers/{bj.customer_id}", token=chain.till).status_code == 200


def test_a_gold_member_of_one_branch_earns_gold_and_gets_the_birthday_perk_at_another(app, chain):
    """Membership follows the member: SH001's gold member buys at BJ001 (membership on there)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.conftest import enable

    enable(app, "SH001", "membership")
    enable(app, "BJ001", "membership")
    api = Api(app.test_client())
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    member = api.post("/customers", {"name": "金卡会员", "phone": "13911112222",
                                     "birthday": f"--{today.month:02d}-{today.day:02d}"}, token=chain.till).json["id"]
    r = api.post("/sales", {"customer": {"id": member}, "occurred_at": "2020-01-01T10:00:00+08:00",
                            "lines": [{"sku": "BEANS-1KG", "quantity": 1, "unit_price": "5000.00"}]}, token=chain.till)
    assert r.json["effects"]["membership"]["tier"] == "gold"
    cart = [{"sku": "LATTE-M", "quantity": 2}]
    # at BJ001's counter the member gives their phone: the quote already knows the gold tier
    quote = api.post("/sales/quote", {"customer": {"phone": "139 1111 2222"}, "lines": cart}, token=chain.till_bj).json
    assert quote["adjustments"] == [{"source": "membership", "code": "birthday", "label": "Birthday discount / 生日优惠",
                                     "amount": "-22.40", "data": {"percent": "40.00", "tier": "gold"}}]
    sale = api.post("/sales", {"customer": {"phone": "13911112222"}, "lines": cart,
                               "adjustments": quote["adjustments"]}, token=chain.till_bj).json
    assert sale["customer_id"] == member and sale["total"] == "33.60"
    effects = sale["effects"]["membership"]
    assert (effects["tier"], effects["points_earned"]) == ("gold", 100)  # 33.60 × 1.5 (gold) × 2 (birthday)
    # BJ001 now sees the member; its staff masked, SH001's staff too
    assert api.get(f"/customers/{member}", token=chain.staff_bj_token).json["phone"] == "139****2222"
    assert api.get(f"/customers/{member}", token=chain.staff_token).json["phone"] == "139****2222"
    assert api.get(f"/membership/members/{member}", token=chain.till_bj).json["tier"]["code"] == "gold"


def test_a_batch_mixing_another_branchs_customer_and_hostile_sales_writes_only_the_good_ones(
        app, chain, bj, small_chunks):
    """An offline batch writes a chunk's sales together; a bad one among them is written on its
    own. BJ001's customer named by id in the middle of good sales gets its 404 and nothing of it
    is written (no sale, no link), and hostile values get their own errors, while the good sales
    around them (a new phone's profile among them) are written once each."""
    from core.extensions import db
    from core.models import Customer, Sale

    api = Api(app.test_client())
    line = [{"sku": "LATTE-M", "quantity": 1}]
    sales = [
        {"external_id": "mix-0", "lines": line, "customer": {"phone": "13900001111"}},  # a new profile
        {"external_id": "mix-1", "lines": line, "customer": {"id": bj.customer_id}},  # another branch's, by id
        {"external_id": "mix-2", "lines": line, "customer": {"phone": "13900001111"}},  # the new profile again
        {"external_id": "mix-3", "lines": line, "customer": {"phone": "<script>alert(1)</script>"}},
        {"external_id": "mix-4", "lines": [{"sku": "NO-SUCH'; DROP TABLE sale;--", "quantity": 1}]},
        {"external_id": "mix-5", "lines": [{"sku": "LATTE-M", "quantity": 10 ** 12}]},
        {"external_id": "mix-6", "lines": line, "customer": {"code": "' OR 1=1 --"}},
        {"external_id": "mix-7", "lines": line},  # a walk-in
    ]
    # A NUL byte is refused for the whole request (no database stores it), naming its sale.
    nul = [*sales, {"external_id": "mix-8", "lines": line, "customer": {"phone": "1390000\x001111"}}]
    r = api.post("/sales/batch", {"sales": nul}, token=chain.till)
    assert r.status_code == 400 and list(r.json["error"]["fields"]) == ["sales.8.customer.phone"]
    r = api.post("/sales/batch", {"sales": sales}, token=chain.till)
    assert r.status_code == 200, r.json
    statuses = {x["external_id"] if "external_id" in x else sales[x["index"]]["external_id"]: x["status"]
                for x in r.json["results"]}
    assert statuses["mix-0"] == statuses["mix-2"] == statuses["mix-7"] == 201
    assert statuses["mix-1"] == 404
    assert all(400 <= statuses[k] < 500 for k in ("mix-3", "mix-4", "mix-5", "mix-6")), statuses
    with app.app_context():
        written = db.session.execute(sa.select(Sale.external_id, Sale.customer_id)
                                     .where(Sale.store_id == chain.ids["sh"]).order_by(Sale.external_id)).all()
        profiles = db.session.scalars(sa.select(Customer.id).where(Customer.home_store_id == chain.ids["sh"])).all()
        db.session.rollback()
    assert len(profiles) == 1  # the new phone's profile, once, though its first run was rolled back
    assert written == [("mix-0", profiles[0]), ("mix-2", profiles[0]), ("mix-7", None)]
    assert _links(app) == [] and _audit(app, "customer_linked") == []
    assert api.get(f"/customers/{bj.customer_id}", token=chain.till).status_code == 404
