"""Complaint tickets through the API: the counter's flow end to end, every transition legal and
illegal, the history, resolution with a coupon through the hook, visibility."""

from __future__ import annotations

from decimal import Decimal

from plugins.feedback.models import STATES, TRANSITIONS
from tests.plugins.feedback.conftest import complain, customer, login, move, sale

# How to bring a fresh ticket to each state (resolving needs what was done).
DONE = {"resolution": {"apology": True}}
PATHS = {"new": [], "acknowledged": ["acknowledged"], "in_progress": ["acknowledged", "in_progress"],
         "resolved": ["acknowledged", "resolved"], "closed": ["acknowledged", "resolved", "closed"]}


def drive(shop, complaint_id, state):
    for step in PATHS[state]:
        move(shop, complaint_id, step, **(DONE if step == "resolved" else {}))


def test_a_counter_complaint_is_acknowledged_queued_with_its_clock_and_counts_for_the_staff_member(shop):
    from datetime import date, timedelta

    from core.extensions import db
    from core.models import User

    messenger = shop.with_messenger()
    cid = customer(shop)
    sold = sale(shop, cid, "s-1", staff="alice")
    made = complain(shop, cid, sale_id=sold["id"], description="拿铁是冷的")
    # acknowledged automatically through the channel owner, with the deadline in store time
    assert made["acknowledgement"] == "notification"
    (to, topic, data), = [m for m in messenger.customer_messages if m[1] == "feedback.complaint_acknowledged"]
    assert (to, data["complaint_id"]) == (cid, made["id"])
    from datetime import datetime
    from zoneinfo import ZoneInfo

    due = datetime.fromisoformat(made["first_response_due_at"])
    assert due - datetime.fromisoformat(made["created_at"]) == timedelta(hours=24)
    assert data["respond_by_local"] == due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert made["staff_id"] == shop.chain.ids["alice"]  # about who served the sale
    assert made["state"] == "new" and made["sla_state"] == "on_track"
    assert [h["to_state"] for h in made["history"]] == ["new"]
    # in the queue with its SLA clock
    page = login(shop.app, "manager").get("/admin/feedback/complaints/").get_data(as_text=True)
    assert f'data-id="{made["id"]}"' in page and "On track" in page
    # handled: acknowledged, then resolved by the manager with an apology
    move(shop, made["id"], "acknowledged", note="已电话联系")
    done = move(shop, made["id"], "resolved", resolution={"apology": True, "replacement": "重做一杯热拿铁"})
    assert done["sla_state"] == "met" and done["resolution"]["replacement"] == "重做一杯热拿铁"
    # the service figures: alice's complaint, the manager's handling, both on time
    reg = shop.app.extensions["storecrm.plugins"]
    with shop.app.app_context():
        from core.models import Store
        from core.plugins import HookContext

        store = db.session.get(Store, shop.chain.ids["sh"])
        ctx = HookContext(session=db.session, store=store, registry=reg)
        today = date.today()
        period = (today - timedelta(days=1), today + timedelta(days=1))
        manager = db.session.get(User, shop.chain.ids["manager"])
        alice = db.session.get(User, shop.chain.ids["alice"])
        handled = reg.collect_enabled("kpi_metrics", ctx, staff=manager, period=period)["feedback"]
        about = reg.collect_enabled("kpi_metrics", ctx, staff=alice, period=period)["feedback"]
    assert handled["feedback.complaints_handled"] == 1
    assert handled["feedback.resolution_on_time_rate"] == 1 and handled["feedback.first_response_on_time_rate"] == 1
    assert about["feedback.complaints_about"] == 1 and about["feedback.complaints_handled"] == 0


def test_every_transition_legal_and_illegal(shop):
    """From each state, every target: the legal ones move (and are written in the history with
    actor and time), the others are a 422 naming the allowed ones, and change nothing."""
    cid = customer(shop)
    for start in STATES:
        for target in STATES:
            ticket = complain(shop, cid)
            drive(shop, ticket["id"], start)
            before = shop.api.get(f"/feedback/complaints/{ticket['id']}", token=shop.chain.manager_token).json
            assert before["state"] == start and before["allowed_transitions"] == list(TRANSITIONS[start])
            r = shop.api.post(f"/feedback/complaints/{ticket['id']}/transitions",
                              {"to": target, "note": f"{start}->{target}", **(DONE if target == "resolved" else {})},
                              token=shop.chain.manager_token)
            if target in TRANSITIONS[start]:
                assert r.status_code == 200, (start, target, r.json)
                assert r.json["state"] == target
                last = r.json["history"][-1]
                assert (last["from_state"], last["to_state"], last["note"], last["actor"]) == (
                    start, target, f"{start}->{target}", "manager")
                assert last["at"]
                if target == "in_progress" and start in ("resolved", "closed"):
                    assert r.json["reopened_count"] == 1 and r.json["resolved_at"] is None
            else:
                assert r.status_code == 422, (start, target, r.json)
                error = r.json["error"]
                assert error["allowed"] == list(TRANSITIONS[start])
                for allowed in TRANSITIONS[start]:
                    assert allowed in error["message"]
                after = shop.api.get(f"/feedback/complaints/{ticket['id']}", token=shop.chain.manager_token).json
                assert after["state"] == start and len(after["history"]) == len(before["history"])
    # the admin says the same in words
    ticket = complain(shop, cid)
    manager = login(shop.app, "manager")
    r = manager.post(f"/admin/feedback/complaints/{ticket['id']}/move", data={"to": "closed"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "cannot move to Closed; it can move to: Acknowledged (acknowledged), In progress (in_progress), Resolved" in page
    r = manager.post(f"/admin/feedback/complaints/{ticket['id']}/move", data={"to": "acknowledged", "note": "收到"},
                     follow_redirects=True)
    assert "The complaint is now Acknowledged." in r.get_data(as_text=True)
    page = manager.get(f"/admin/feedback/complaints/{ticket['id']}").get_data(as_text=True)
    assert "收到" in page and 'data-to="resolved"' in page and 'data-to="closed"' not in page


def test_without_a_channel_the_acknowledgement_is_on_the_timeline_and_a_coupon_needs_its_owner(shop):
    cid = customer(shop)
    ticket = complain(shop, cid)
    assert ticket["acknowledgement"] == "timeline"
    timeline = login(shop.app, "manager").get(f"/admin/customers/{cid}").get_data(as_text=True)
    assert f"Complaint #{ticket['id']} received (Service attitude)" in timeline
    # resolving needs what was done
    r = shop.api.post(f"/feedback/complaints/{ticket['id']}/transitions", {"to": "resolved"},
                      token=shop.chain.manager_token)
    assert r.status_code == 422 and "resolution" in r.json["error"]["fields"]
    # a coupon without a coupon owner enabled: refused, nothing written
    r = shop.api.post(f"/feedback/complaints/{ticket['id']}/transitions",
                      {"to": "resolved", "resolution": {"coupon": {"kind": "amount", "value": "20.00"}}},
                      token=shop.chain.manager_token)
    assert r.status_code == 422 and "resolution.coupon" in r.json["error"]["fields"]
    assert shop.api.get(f"/feedback/complaints/{ticket['id']}", token=shop.chain.manager_token).json["state"] == "new"
    messenger = shop.with_messenger()
    done = move(shop, ticket["id"], "resolved", resolution={"apology": True, "compensation": "赠饮一杯",
                                                            "coupon": {"kind": "amount", "value": "20.00"}})
    assert done["resolution"]["coupon"]["code"] == "SORRY001"
    (who, spec), = messenger.coupons
    assert who == cid and spec["value"] == Decimal("20.00") and spec["kind"] == "amount"
    assert spec["reason"] == f"feedback.compensation:complaint:{ticket['id']}"


def test_ids_are_not_capabilities(shop):
    """Another store's complaint, or one about a customer the caller does not see: 404."""
    from tests.conftest import enable

    enable(shop.app, "BJ001", "feedback")
    cid = customer(shop)
    ticket = complain(shop, cid)
    # BJ001's till and staff: not their store's ticket
    assert shop.api.get(f"/feedback/complaints/{ticket['id']}", token=shop.chain.till_bj).status_code == 404
    assert shop.api.post(f"/feedback/complaints/{ticket['id']}/transitions", {"to": "acknowledged"},
                         token=shop.chain.staff_bj_token).status_code == 404
    # a BJ001 customer that SH001 never saw cannot be named in an SH001 complaint
    bj_customer = customer(shop, "13900139009", token=shop.chain.till_bj)
    r = shop.api.post("/feedback/complaints", {"customer_id": bj_customer, "category": "price", "description": "贵"},
                      token=shop.chain.till)
    assert r.status_code == 404
    # a complaint the BJ001 till filed about its own customer is invisible to SH001 too
    bj_ticket = shop.api.post("/feedback/complaints", {"customer_id": bj_customer, "category": "price", "description": "贵"},
                              token=shop.chain.till_bj).json
    assert shop.api.get(f"/feedback/complaints/{bj_ticket['id']}", token=shop.chain.till).status_code == 404
    ids = [c["id"] for c in shop.api.get("/feedback/complaints", token=shop.chain.till).json["items"]]
    assert ids == [ticket["id"]]
    # a sale of another store cannot be linked
    r = shop.api.post("/feedback/complaints", {"customer_id": cid, "category": "price", "description": "x",
                                               "sale_id": 999999}, token=shop.chain.till)
    assert r.status_code == 422 and "sale_id" in r.json["error"]["fields"]
    # switched off in BJ001: no API, no pages (its data is kept); every operation is in the OpenAPI document
    from core.extensions import db
    from core.models import Store
    from core.services.store_plugins import disable_plugin

    with shop.app.app_context():
        disable_plugin(db.session, db.session.get(Store, shop.chain.ids["bj"]), "feedback", actor="test")
        db.session.commit()
    assert shop.api.get("/feedback/complaints", token=shop.chain.till_bj).status_code == 404
    assert login(shop.app, "bob").get("/admin/feedback/complaints/").status_code == 404
    spec = shop.api.get("/openapi.json").json
    for path, method in [("/api/v1/feedback/feedback", "post"), ("/api/v1/feedback/feedback", "get"),
                         ("/api/v1/feedback/complaints", "post"), ("/api/v1/feedback/complaints", "get"),
                         ("/api/v1/feedback/complaints/{complaint_id}", "get"),
                         ("/api/v1/feedback/complaints/{complaint_id}/transitions", "post")]:
        assert method in spec["paths"][path], (path, method)
    # bad bodies: a 400 naming the field
    for body, field in [({"category": "nope", "description": "x"}, "category"), ({"category": "price"}, "description"),
                        ({"category": "price", "description": "x", "customer_id": "12"}, "customer_id")]:
        r = shop.api.post("/feedback/complaints", body, token=shop.chain.till)
        assert r.status_code == 400 and field in r.json["error"]["fields"], r.json
