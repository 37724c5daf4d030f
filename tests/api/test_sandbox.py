"""A sandbox (test) store: its data stays out of the chain's figures and of live stores'
campaigns, shows normally in the store itself, goes to its own webhook subscriptions only,
and an owner can reset it without touching another store's rows (docs/api.md, "Sandbox")."""

from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.plugins import Manifest, hookimpl
from tests.admin.conftest import login
from tests.conftest import Api, build_chain, enable
from tests.test_cli import storecrm  # noqa: F401 - the fixture running `storecrm` in-process

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class SandboxNotes:
    """A third-party plugin: its rows of a store are its own to delete on a reset."""

    def __init__(self):
        self.reset = []

    @hookimpl
    def sandbox_reset(self, store, customer_ids, ctx):
        self.reset.append(store.code)
        return {"sandbox_notes": 2}


def _shop(app, *, sandbox: str = "BJ001", modules=()):
    """The two stores of `build_chain` (with `modules` on in both), `sandbox` flagged as a test
    store by the owner (API); in each store one customer (home store there) with one sale and
    one visit."""
    chain = build_chain(app)
    for code in ("SH001", "BJ001"):
        enable(app, code, *modules)
    api = Api(app.test_client())
    r = api.patch(f"/stores/{sandbox}", {"sandbox": True}, token=chain.owner_token)
    assert (r.status_code, r.json["sandbox"]) == (200, True), r.json
    assert {s["code"]: s["sandbox"] for s in api.get("/stores", token=chain.owner_token).json} == {
        "SH001": sandbox == "SH001", "BJ001": sandbox == "BJ001"}
    people = {}
    for till, sku, phone in ((chain.till, "LATTE-M", "138 0013 8000"), (chain.till_bj, "BEANS-1KG", "138 0013 9000")):
        customer = api.post("/customers", {"name": "顾客", "phone": phone}, token=till).json["id"]
        r = api.post("/sales", {"customer": {"id": customer}, "lines": [{"sku": sku, "quantity": 1}]}, token=till)
        assert r.status_code == 201, r.json
        assert api.post("/visits", {"customer": {"id": customer}, "purpose": "试喝"}, token=till).status_code == 201
        people[till] = customer
    return chain, api, people[chain.till], people[chain.till_bj]


@SQLITE
def test_a_sandbox_stays_out_of_chain_figures_and_live_campaigns_but_shows_in_itself(app):
    from core.access import link_customer
    from core.admin import stats
    from core.analytics.stats import stores_for
    from core.classification.compute import recompute_all
    from core.classification.models import ClassificationRun
    from core.extensions import db
    from core.models import Customer, Store
    from core.services.customer_figures import purchase_figures
    from plugins.campaigns.services.segments import audience_query

    chain, api, sh_customer, bj_customer = _shop(app)
    tz = ZoneInfo("Asia/Shanghai")
    with app.app_context():
        session = db.session
        sh, bj = session.get(Store, chain.ids["sh"]), session.get(Store, chain.ids["bj"])
        chain_tiles, bj_tiles = stats.tiles(session, None, tz, 7), stats.tiles(session, [bj.id], tz, 7)
        assert (chain_tiles["period_amount"], chain_tiles["period_count"], chain_tiles["customers"],
                chain_tiles["visits"]) == (Decimal("28.00"), 1, 1, 1)
        assert (bj_tiles["period_amount"], bj_tiles["customers"], bj_tiles["visits"]) == (Decimal("1200.00"), 1, 1)
        assert stats.top_products(session, None, tz, 7)[0][0] == "拿铁 中杯"
        assert set(purchase_figures(session, [sh_customer, bj_customer], None)) == {sh_customer}
        assert purchase_figures(session, [bj_customer], [bj.id])[bj_customer]["spend"] == Decimal("1200.00")
        assert [s.code for s in stores_for(session, None)] == ["SH001"]
        assert [s.code for s in stores_for(session, [bj.id])] == ["BJ001"]

        # The chain's classification counts the live store's buyer only; the sandbox its own.
        recompute_all(session)
        runs = {r.scope_id: r.buyers for r in session.scalars(select(ClassificationRun))}
        assert (runs[0], runs[bj.id], runs[sh.id]) == (1, 1, 1)

        # The sandbox's customer shows their phone at SH001's counter: SH001 sees them, yet
        # its campaigns never reach them; the sandbox's own campaigns do.
        link_customer(session, session.get(Customer, bj_customer), sh, via="phone")
        session.commit()
        reached = lambda store: set(session.scalars(audience_query(session, store, {})))  # noqa: E731
        assert reached(sh) == {sh_customer}
        assert reached(bj) == {bj_customer}


def test_a_reset_deletes_the_sandboxs_data_and_leaves_another_stores_identical_data(make_app):
    from core.extensions import db
    from core.models import AuditLog, Customer, Event, Sale, Visit
    from plugins.feedback.models import Complaint

    notes = SandboxNotes()
    app = make_app(plugins=[Manifest(name="sandbox_notes", version="1", summary="x", hooks=notes)])
    chain, api, sh_customer, bj_customer = _shop(app, modules=["feedback"])
    for till, customer in ((chain.till, sh_customer), (chain.till_bj, bj_customer)):
        r = api.post("/feedback/complaints", {"category": "other", "description": "太慢", "customer_id": customer},
                     token=till)
        assert r.status_code == 201, r.json

    def rows(store_id):
        with app.app_context():
            s = db.session
            return (s.scalar(select(func.count(Customer.id)).where(Customer.home_store_id == store_id)),
                    s.scalar(select(func.count(Sale.id)).where(Sale.store_id == store_id)),
                    s.scalar(select(func.count(Visit.id)).where(Visit.store_id == store_id)),
                    s.scalar(select(func.count(Event.id)).where(Event.store_id == store_id)) > 0,
                    s.scalar(select(func.count(Complaint.id)).where(Complaint.store_id == store_id)))

    before = rows(chain.ids["sh"])
    assert before == rows(chain.ids["bj"]) == (1, 1, 1, True, 1)

    r = api.post("/stores/BJ001/sandbox/reset", token=chain.owner_token)
    assert r.status_code == 200, r.json
    assert r.json["store"] == "BJ001"
    assert {k: r.json["deleted"][k] for k in ("customer", "sale", "visit", "feedback_complaint", "sandbox_notes")} == {
        "customer": 1, "sale": 1, "visit": 1, "feedback_complaint": 1, "sandbox_notes": 2}
    assert notes.reset == ["BJ001"]
    assert rows(chain.ids["bj"]) == (0, 0, 0, False, 0)
    assert rows(chain.ids["sh"]) == before
    assert api.get(f"/customers/{sh_customer}", token=chain.owner_token).status_code == 200
    assert {s["code"] for s in api.get("/stores", token=chain.owner_token).json} == {"SH001", "BJ001"}
    with app.app_context():
        entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "sandbox_reset")).one()
        assert entry.details["deleted"]["sandbox_notes"] == 2
    # The till of the reset store works on: a new sale there is the store's only one.
    assert api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=chain.till_bj).status_code == 201


@SQLITE
def test_a_live_store_is_never_reset(app, storecrm):
    from core.extensions import db
    from core.models import Sale

    chain, api, sh_customer, _ = _shop(app)
    r = api.post("/stores/SH001/sandbox/reset", token=chain.owner_token)
    assert r.status_code == 409
    assert r.json["error"]["message"] == "Store SH001 is not a test store (sandbox): only a sandbox can be reset."
    assert api.post("/stores/BJ001/sandbox/reset", token=chain.manager_token).status_code == 403
    code, output = storecrm("stores", "reset-sandbox", "SH001", "--yes")
    assert (code, "store SH001 is not a sandbox (test) store" in output) == (1, True), output
    with app.app_context():
        assert db.session.scalar(select(func.count(Sale.id)).where(Sale.store_id == chain.ids["sh"])) == 1
    # In Chinese for the owner in the admin.
    client = app.test_client()
    assert login(client, "owner").status_code == 302
    with client.session_transaction() as s:
        s["storecrm_locale"] = "zh_CN"
    page = client.get(f"/admin/stores/sandbox-reset/{chain.ids['sh']}")
    assert page.status_code == 409
    assert "门店 SH001 不是测试门店" in page.get_data(as_text=True)
    assert storecrm("stores", "create", "TEST01", "测试门店", "--sandbox") == (0, "sandbox (test) store TEST01 created\n")
    assert storecrm("stores", "list")[1].splitlines()[-1].endswith("\tsandbox")


@SQLITE
def test_a_sandboxs_events_go_to_its_own_subscriptions_only_and_say_so(make_app):
    from tests.webhooks.receiver import Receiver
    from tests.webhooks.test_delivery import ALLOW, subscribe

    app = make_app(**ALLOW)
    chain, api, *_ = _shop(app)
    with Receiver() as everywhere, Receiver() as test_store:
        subscribe(api, chain, everywhere.url, ["sale.recorded"])
        subscribe(api, chain, test_store.url, ["sale.recorded"], store="BJ001")
        for till in (chain.till, chain.till_bj):
            api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}]}, token=till)
        assert [(r["body"]["store"], r["body"]["sandbox"]) for r in everywhere.requests] == [("SH001", False)]
        assert [(r["body"]["store"], r["body"]["sandbox"]) for r in test_store.requests] == [("BJ001", True)]


@SQLITE
def test_an_owner_resets_a_sandbox_from_the_admin_in_chinese_after_typing_its_code(app):
    from core.extensions import db
    from core.models import Sale

    chain, api, sh_customer, bj_customer = _shop(app)
    page_url = f"/admin/stores/sandbox-reset/{chain.ids['bj']}"
    manager = app.test_client()
    assert login(manager, "manager").status_code == 302
    assert manager.get(page_url).status_code == 403
    owner = app.test_client()
    assert login(owner, "owner").status_code == 302
    with owner.session_transaction() as s:
        s["storecrm_locale"] = "zh_CN"
    page = owner.get(page_url).get_data(as_text=True)
    assert "重置测试数据" in page and "BJ001" in page
    counts = re.search(r'id="sandbox-reset-counts">(.*?)</ul>', page, flags=re.S).group(1)
    assert re.findall(r"<li>(\S+): (\d+)</li>", counts) == [("客户", "1"), ("销售", "1"), ("到店记录", "1")]

    def bj_sales():
        with app.app_context():
            return db.session.scalar(select(func.count(Sale.id)).where(Sale.store_id == chain.ids["bj"]))

    wrong = owner.post(page_url, data={"confirm_code": "SH001", "csrf_token": csrf(page)})
    assert wrong.status_code == 400 and "请输入门店编码 BJ001 以确认。" in wrong.get_data(as_text=True)
    assert bj_sales() == 1  # nothing deleted
    done = owner.post(page_url, data={"confirm_code": "BJ001", "csrf_token": csrf(page)})
    assert done.status_code == 302
    assert bj_sales() == 0
    assert api.get(f"/customers/{bj_customer}", token=chain.owner_token).status_code == 404
    assert api.get(f"/customers/{sh_customer}", token=chain.owner_token).status_code == 200


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
