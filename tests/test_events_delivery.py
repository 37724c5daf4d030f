"""Event delivery that loses nothing: savepoints per plugin, retries with backoff, dead letters,
manual retry, disabled plugins skipped, idempotent per (plugin, event), dependency order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Activity, Event, EventDelivery, Sale, utcnow
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable

SALE = {"lines": [{"sku": "LATTE-M", "quantity": 1}], "customer": {"phone": "13800138000"}}


class Flaky:
    """Writes an activity per sale, and raises while `failing` is set."""

    def __init__(self):
        self.failing = True
        self.calls = []

    @hookimpl
    def sale_recorded(self, sale, ctx):
        self.calls.append(sale.id)
        ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title=f"flaky saw sale {sale.id}"))
        ctx.session.flush()
        if self.failing:
            raise ConnectionError("points server unreachable")

    @hookimpl
    def customer_updated(self, customer, changes, ctx):
        self.calls.append(("updated", customer.id, dict(changes)))
        if self.failing:
            raise ConnectionError("still down")


class Steady:
    @hookimpl
    def sale_recorded(self, sale):  # accepts only what it uses: no ctx
        from core.models import Activity

        db.session.add(Activity(customer_id=sale.customer_id, kind="note", title="steady"))

    @hookimpl
    def sale_refunded(self, refund):
        db.session.add(Activity(customer_id=refund.sale.customer_id, kind="note", title=f"refund {refund.amount}"))


def setup(make_app, *manifests, store="SH001"):
    app = make_app(plugins=list(manifests))
    chain = build_chain(app)
    enable(app, store, *[m.name for m in manifests])
    return app, chain, Api(app.test_client(), token=chain.till)


def titles(app):
    with app.app_context():
        return sorted(db.session.scalars(select(Activity.title)))


def delivery(app, plugin="flaky"):
    with app.app_context():
        row = db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == plugin)).one()
        db.session.expunge(row)
        return row


def make_due(app):
    with app.app_context():
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_retry_job_honours_backoff_counts_attempts_and_gives_up_after_max_attempts(make_app):
    from core import events

    flaky = Flaky()
    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=flaky),
                            Manifest(name="steady", version="1", summary="x", hooks=Steady()))
    r = api.post("/sales", SALE)
    assert r.status_code == 201
    # the steady plugin's reaction stands; the flaky one's half-done write went with its savepoint
    assert titles(app) == ["steady"]
    first = delivery(app)
    assert (first.status, first.attempts) == ("failed", 1)
    assert "points server unreachable" in first.last_error
    assert timedelta(seconds=25) < first.next_attempt_at - utcnow() <= timedelta(seconds=30)
    with app.app_context():
        assert events.retry_due_deliveries() == {}  # not due yet
    assert len(flaky.calls) == 1
    make_due(app)
    with app.app_context():
        assert events.retry_due_deliveries() == {"failed": 1}
    second = delivery(app)
    assert second.attempts == 2
    assert timedelta(seconds=55) < second.next_attempt_at - utcnow() <= timedelta(seconds=60)  # doubled
    for _ in range(events.MAX_ATTEMPTS - 2):
        make_due(app)
        with app.app_context():
            events.retry_due_deliveries()
    dead = delivery(app)
    assert (dead.status, dead.attempts, dead.next_attempt_at) == ("dead", events.MAX_ATTEMPTS, None)
    make_due(app)
    with app.app_context():
        assert events.retry_due_deliveries() == {}  # a dead letter waits for a person
    assert len(flaky.calls) == events.MAX_ATTEMPTS
    # the plugin is fixed; an admin retries by hand, once
    flaky.failing = False
    with app.app_context():
        assert events.retry_delivery(dead.id) == "done"
        assert events.retry_delivery(dead.id) == "done"
    assert delivery(app).status == "done"
    assert titles(app) == [f"flaky saw sale {r.json['id']}", "steady"]
    assert len(flaky.calls) == events.MAX_ATTEMPTS + 1


def test_a_retry_runs_only_the_failed_plugin(make_app):
    from core import events

    flaky, counted = Flaky(), []

    class Counter:
        @hookimpl
        def sale_recorded(self, sale):
            counted.append(sale.id)

    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=flaky),
                            Manifest(name="counter", version="1", summary="x", hooks=Counter()))
    api.post("/sales", SALE)
    flaky.failing = False
    make_due(app)
    with app.app_context():
        assert events.retry_due_deliveries() == {"done": 1}
        statuses = dict(db.session.execute(select(EventDelivery.plugin, EventDelivery.status)).all())
    # the core's own reaction after the commit (the buyer's classes) was delivered with the sale
    assert statuses == {"flaky": "done", "counter": "done", "core.classification": "done"}
    assert len(counted) == 1


def test_a_disabled_plugins_failed_deliveries_are_not_run(make_app):
    from core import events
    from core.models import Store
    from core.services.store_plugins import disable_plugin, enable_plugin

    flaky = Flaky()
    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=flaky))
    api.post("/sales", SALE)
    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        disable_plugin(db.session, store, "flaky")
        db.session.commit()
    flaky.failing = False
    make_due(app)
    with app.app_context():
        assert events.retry_due_deliveries() == {"disabled": 1}
    assert len(flaky.calls) == 1 and delivery(app).status == "failed"
    # a later sale in the store does not reach it either
    api.post("/sales", {**SALE, "external_id": "later"})
    assert len(flaky.calls) == 1
    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        enable_plugin(db.session, store, "flaky")
        db.session.commit()
        assert events.retry_due_deliveries() == {"done": 1}


def test_the_event_row_is_written_with_the_sale_or_not_at_all(make_app):
    app, chain, api = setup(make_app, Manifest(name="steady", version="1", summary="x", hooks=Steady()))
    r = api.post("/sales", {**SALE, "adjustments": [{"source": "m", "code": "x", "amount": "-99.00"}]})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
    r = api.post("/sales", SALE)
    with app.app_context():
        event = db.session.scalars(select(Event).where(Event.name == "sale_recorded")).one()
        assert (event.subject_type, event.subject_id) == ("sale", r.json["id"])
        assert sorted((d.plugin, d.status) for d in event.deliveries) == [("core.classification", "done"),
                                                                           ("steady", "done")]
    refund = api.post(f"/sales/{r.json['id']}/refunds", {"reason": "cold"})
    assert refund.status_code == 201
    assert "refund 28.00" in titles(app)


def test_a_failed_customer_updated_is_replayed_with_its_changes(make_app):
    from core import events

    flaky = Flaky()
    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=flaky))
    customer = api.post("/customers", {"name": "王芳"}).json
    api.patch(f"/customers/{customer['id']}", {"occupation": "教师"})
    flaky.failing = False
    with app.app_context():
        failed = db.session.scalars(select(EventDelivery).where(EventDelivery.status == "failed")).one()
        assert events.retry_delivery(failed.id) == "done"
    assert flaky.calls[-1] == ("updated", customer["id"], {"occupation": (None, "教师")})


def test_plugins_are_called_after_the_plugins_they_depend_on(make_app):
    order = []

    def recorder(name):
        class R:
            @hookimpl
            def sale_recorded(self, sale):
                order.append(name)
        return R()

    # alphabetical order would be the wrong one
    app, chain, api = setup(make_app, Manifest(name="zbase", version="1", summary="x", hooks=recorder("zbase")),
                            Manifest(name="amid", version="1", summary="x", hooks=recorder("amid"), depends=("zbase",)),
                            Manifest(name="aatop", version="1", summary="x", hooks=recorder("aatop"), depends=("amid",)))
    api.post("/sales", SALE)
    assert order == ["zbase", "amid", "aatop"]


def test_two_workers_retrying_the_same_delivery_at_once_run_it_once(make_app):
    import threading
    import time

    from core import events

    class Slow(Flaky):
        @hookimpl
        def sale_recorded(self, sale, ctx):
            if not self.failing:
                time.sleep(0.5)  # both workers are inside retry_delivery at the same time
            super().sale_recorded(sale, ctx)

    slow = Slow()
    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=slow))
    r = api.post("/sales", SALE)
    delivery_id = delivery(app).id
    slow.failing = False
    barrier, results = threading.Barrier(2), []

    def worker():
        with app.app_context():
            barrier.wait()
            results.append(events.retry_delivery(delivery_id, force=False))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    make_due(app)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) in (["done", "done"], ["done", "locked"])
    assert len(slow.calls) == 2  # the failed first attempt and exactly one retry
    assert titles(app) == [f"flaky saw sale {r.json['id']}"]
    assert delivery(app).attempts == 2
