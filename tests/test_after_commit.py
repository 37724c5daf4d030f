"""Reactions after the commit (architecture.md, "Events and delivery"): an unmarked reaction
runs once the sale is committed, an `@in_transaction` one inside the sale's transaction; a
failing or undelivered reaction is never lost; the buyer's class follows the sale within
seconds, in-process without Redis and through a real rq worker with it."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Activity, Event, EventDelivery, utcnow
from core.plugins import Manifest, hookimpl, in_transaction
from tests.conftest import Api, build_chain, enable
from tests.jobs.test_worker import entry_point_dir, run_worker  # noqa: F401 - a fixture, reused

SALE = {"lines": [{"sku": "LATTE-M", "quantity": 1}], "customer": {"phone": "13800138000"}}


class socket_closed:
    """A local port nothing listens on (a Redis that is down)."""

    def __enter__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc):
        return False


def committed(sale_id: int) -> bool:
    """Whether another connection sees the sale (a raw DBAPI connection: outside the app's
    SQLite writer lock and outside the sale's transaction)."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT count(*) FROM sale WHERE id = {int(sale_id)}")
        seen = cursor.fetchone()[0] == 1
        cursor.close()
        raw.rollback()
        return seen
    finally:
        raw.close()


class Watcher:
    """Notes, for each sale, whether it was already committed when the reaction ran."""

    def __init__(self):
        self.seen = []

    def note(self, sale, ctx):
        self.seen.append((sale.id, committed(sale.id), ctx.actor))
        ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title=f"{ctx.plugin} saw {sale.id}"))


class Later(Watcher):
    @hookimpl
    def sale_recorded(self, sale, ctx):
        self.note(sale, ctx)


class Now(Watcher):
    @hookimpl
    @in_transaction
    def sale_recorded(self, sale, ctx):
        self.note(sale, ctx)


def setup(make_app, *manifests, **config):
    app = make_app(plugins=list(manifests), **config)
    chain = build_chain(app)
    enable(app, "SH001", *[m.name for m in manifests])
    return app, chain, Api(app.test_client(), token=chain.till)


def deliveries(app) -> dict[str, tuple[str, int]]:
    with app.app_context():
        return {d.plugin: (d.status, d.attempts) for d in db.session.scalars(select(EventDelivery))}


def class_of(app, customer_id: int, store_code="SH001"):
    from core.classification.models import CustomerClass
    from core.models import Store

    with app.app_context():
        store_id = db.session.scalars(select(Store.id).where(Store.code == store_code)).one()
        row = db.session.get(CustomerClass, (customer_id, store_id))
        return None if row is None else (row.purchases, row.lifecycle)


def test_an_unmarked_reaction_runs_after_the_commit_and_a_marked_one_inside_the_transaction(make_app):
    later, now = Later(), Now()
    app, chain, api = setup(make_app, Manifest(name="later", version="1", summary="x", hooks=later),
                            Manifest(name="now", version="1", summary="x", hooks=now))
    r = api.post("/sales", SALE)
    assert r.status_code == 201
    sale_id = r.json["id"]
    # the immediate one ran before the commit, the other after it, both naming the till
    assert now.seen == [(sale_id, False, "till:SH001:till")]
    assert later.seen == [(sale_id, True, "till:SH001:till")]
    assert deliveries(app) == {"now": ("done", 1), "later": ("done", 1), "core.classification": ("done", 1)}
    with app.app_context():
        assert sorted(db.session.scalars(select(Activity.title))) == [f"later saw {sale_id}", f"now saw {sale_id}"]
    # the buyer's class moved with the sale, already when the till had its answer
    assert class_of(app, r.json["customer_id"]) == (1, "new")


def test_reactions_left_pending_when_redis_was_down_at_the_commit_are_delivered_by_the_sweep(make_app):
    """The commit stands and its reactions are in the outbox; nobody delivered them (here Redis
    was unreachable; a process killed right after its commit leaves the same rows). The
    periodic sweep delivers them, once."""
    from core.delivery import sweep_outbox

    later = Later()
    manifest = Manifest(name="later", version="1", summary="x", hooks=later)
    with socket_closed() as dead_port:
        app, chain, api = setup(make_app, manifest, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    r = api.post("/sales", SALE)
    assert r.status_code == 201  # the till is not held up by Redis being down
    assert later.seen == []
    assert deliveries(app) == {"later": ("pending", 0), "core.classification": ("pending", 0)}
    assert class_of(app, r.json["customer_id"]) is None
    # the same shop restarted without Redis: its in-process ticker runs the sweep
    restarted = make_app(plugins=[manifest])
    with restarted.app_context():
        assert sweep_outbox() == {}  # pending for less than 10 s: its own process may still deliver it
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=11)))
        db.session.commit()
        assert sweep_outbox() == {"done": 2}
        assert sweep_outbox() == {}
    assert [seen[:2] for seen in later.seen] == [(r.json["id"], True)]
    assert deliveries(app) == {"later": ("done", 1), "core.classification": ("done", 1)}
    assert class_of(app, r.json["customer_id"]) == (1, "new")


def test_a_failing_reaction_after_the_commit_is_retried_until_it_is_delivered(make_app):
    from core import events

    class Flaky(Later):
        failing = True

        @hookimpl
        def sale_recorded(self, sale, ctx):
            self.note(sale, ctx)
            ctx.session.flush()
            if self.failing:
                raise ConnectionError("survey server unreachable")

    flaky = Flaky()
    app, chain, api = setup(make_app, Manifest(name="flaky", version="1", summary="x", hooks=flaky))
    r = api.post("/sales", SALE)
    assert r.status_code == 201
    assert deliveries(app) == {"flaky": ("failed", 1), "core.classification": ("done", 1)}
    with app.app_context():
        # its half-done write went with its savepoint; the sale and the class stay
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert events.retry_due_deliveries() == {"failed": 1}
        flaky.failing = False
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert events.retry_due_deliveries() == {"done": 1}
        assert events.retry_due_deliveries() == {}
        assert db.session.scalars(select(Activity.title)).all() == [f"flaky saw {r.json['id']}"]
    assert deliveries(app)["flaky"] == ("done", 3)
    assert [seen[1] for seen in flaky.seen] == [True, True, True]


def test_a_batch_classifies_each_customer_once_and_delivers_a_customers_events_in_order(make_app):
    from core.delivery import deliver

    later = Later()
    manifest = Manifest(name="later", version="1", summary="x", hooks=later)
    with socket_closed() as dead_port:
        app, chain, api = setup(make_app, manifest, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    ids = [api.post("/sales", {**SALE, "external_id": f"r-{i}"}).json["id"] for i in range(3)]
    other = api.post("/sales", {**SALE, "customer": {"phone": "13900139000"}, "external_id": "o"}).json
    assert deliveries(app)["later"] == ("pending", 0)
    restarted = make_app(plugins=[manifest])
    with restarted.app_context():
        assert deliver() == {"done": 8}
    assert [seen[0] for seen in later.seen] == [*ids, other["id"]]  # oldest event first
    assert class_of(app, api.get(f"/sales/{ids[0]}").json["customer_id"]) == (3, "new")
    assert class_of(app, other["customer_id"]) == (1, "new")


def test_a_batch_classifies_a_stores_buyers_together_and_a_customer_that_fails_fails_alone(make_app, monkeypatch):
    from sqlalchemy import event as sa_event

    from core.classification import one_customer
    from core.delivery import deliver
    from core.events import CLASSIFICATION

    with socket_closed() as dead_port:
        app, chain, api = setup(make_app, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    beijing = Api(app.test_client(), token=chain.till_bj)
    phones = [f"1380013{i:04d}" for i in range(5)]
    shanghai = [api.post("/sales", {**SALE, "customer": {"phone": p}, "external_id": f"s-{i}"}).json
                for i, p in enumerate(phones)]
    bj = beijing.post("/sales", {**SALE, "customer": {"phone": "13900139000"}, "external_id": "b"}).json
    upserts = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO CUSTOMER_CLASS"):
            upserts.append(statement)

    with app.app_context():
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert deliver() == {"done": 6}
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
    assert len(upserts) == 2  # one per store, not one per buyer
    for sale in shanghai:
        assert class_of(app, sale["customer_id"]) == (1, "new")
    assert class_of(app, bj["customer_id"], "BJ001") == (1, "new")

    # A customer whose classification fails: the store's buyers are then classified one by one,
    # and only that customer's delivery is recorded as failed, to be retried.
    poisoned = shanghai[2]["customer_id"]
    real = one_customer.recompute_customers

    def failing(session, customer_ids, store_id, now=None):
        if poisoned in customer_ids:
            raise RuntimeError("cannot classify this one")
        return real(session, customer_ids, store_id, now)

    monkeypatch.setattr(one_customer, "recompute_customers", failing)
    again = [api.post("/sales", {**SALE, "customer": {"phone": p}, "external_id": f"t-{i}"}).json
             for i, p in enumerate(phones)]
    with app.app_context():
        assert deliver() == {"done": 4, "failed": 1}
        failed = db.session.execute(select(Event.subject_id, EventDelivery.attempts, EventDelivery.last_error)
                                    .join(Event, Event.id == EventDelivery.event_id)
                                    .where(EventDelivery.plugin == CLASSIFICATION,
                                           EventDelivery.status == "failed")).all()
    assert [(sale_id, attempts) for sale_id, attempts, _ in failed] == [(again[2]["id"], 1)]
    assert "cannot classify this one" in failed[0][2]
    for sale in again:
        expected = (1, "new") if sale["customer_id"] == poisoned else (2, "new")  # bought twice, today
        assert class_of(app, sale["customer_id"]) == expected, sale


def test_with_redis_a_real_rq_worker_classifies_the_buyer_within_seconds(make_app, redis_server, entry_point_dir):
    app = make_app(REDIS_URL=redis_server.url, QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    chain = build_chain(app)
    api = Api(app.test_client(), token=chain.till)
    try:
        start = time.monotonic()
        r = api.post("/sales", SALE)
        assert r.status_code == 201
        # the till's transaction only queued the work: one drain job for the outbox
        assert class_of(app, r.json["customer_id"]) is None
        assert app.extensions["storecrm.jobs"].queue().count == 1
        again = api.post("/sales", {**SALE, "external_id": "second"})
        assert app.extensions["storecrm.jobs"].queue().count == 1  # the queued drain takes both
        run_worker(app, entry_point_dir)
        assert time.monotonic() - start < 30
        assert class_of(app, r.json["customer_id"]) == (2, "new")
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(EventDelivery)
                                     .where(EventDelivery.status == "done")) == 2
        assert again.status_code == 201
    finally:
        app.extensions["storecrm.jobs"].connection().flushdb()


def test_the_rq_worker_drains_the_outbox_in_its_own_process_not_a_forked_work_horse(make_app, redis_server, tmp_path):
    """A drain follows every commit: rq's fork and a new database connection per drain cost
    the tills more than the drain (core/worker.py, INLINE_JOBS). Other jobs still fork."""
    import os
    import subprocess

    from tests.conftest import BUNDLED
    from tests.jobs import pid_plugin
    from tests.jobs.test_worker import ROOT, STORECRM

    dist = tmp_path / "site" / "storecrm_test_pidnote-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: storecrm-test-pidnote\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[storecrm.plugins]\npidnote = tests.jobs.pid_plugin:manifest\n")
    app = make_app(plugins=[pid_plugin.manifest], REDIS_URL=redis_server.url,
                   QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    chain = build_chain(app)
    enable(app, "SH001", "pidnote")
    api = Api(app.test_client(), token=chain.till)
    try:
        sold = api.post("/sales", SALE)
        assert sold.status_code == 201 and app.extensions["storecrm.jobs"].queue().count == 1
        env = {**os.environ, "STORECRM_DATABASE_URL": app.config["DATABASE_URL"],
               "STORECRM_REDIS_URL": app.config["REDIS_URL"], "STORECRM_DATA_KEY": app.config["DATA_KEY"],
               "STORECRM_SECRET_KEY": app.config["SECRET_KEY"], "STORECRM_PLUGINS": ",".join([*BUNDLED, "pidnote"]),
               "STORECRM_QUEUE": app.config["QUEUE_NAME"], "STORECRM_INSTANCE_PATH": app.config["INSTANCE_PATH"],
               "PYTHONPATH": os.pathsep.join([str(dist.parent), str(ROOT)])}
        worker = subprocess.Popen([STORECRM, "worker", "--burst"], env=env, cwd=str(tmp_path),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err[-3000:]
        with app.app_context():
            notes = db.session.scalars(select(Activity.title).where(Activity.title.like("delivered in process %"))).all()
        assert notes == [f"delivered in process {worker.pid}"]
        assert class_of(app, sold.json["customer_id"]) == (1, "new")
    finally:
        app.extensions["storecrm.jobs"].connection().flushdb()


def test_the_drain_lock_is_renewed_while_a_drain_runs_and_expires_when_its_holder_is_gone(make_app, redis_server,
                                                                                           monkeypatch, backend):
    """A drain holds the outbox's lock however long its reactions take (renewed by a thread);
    a lock whose holder was killed expires within DRAIN_LOCK_TTL, so the next drain goes on."""
    import threading

    import pytest

    from core import delivery

    if backend != "sqlite":
        pytest.skip("the lock is Redis's; once is enough")
    monkeypatch.setattr(delivery, "DRAIN_LOCK_TTL", 1.5)

    class Slow(Later):
        @hookimpl
        def sale_recorded(self, sale, ctx):
            time.sleep(2.5)  # longer than the lock's life
            self.note(sale, ctx)

    slow = Slow()
    app, chain, api = setup(make_app, Manifest(name="slow", version="1", summary="x", hooks=slow),
                            REDIS_URL=redis_server.url, QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    queue = app.extensions["storecrm.jobs"]
    redis = queue.connection()
    lock_key = delivery.DRAIN_LOCK_KEY.format(queue=queue.queue_name)
    try:
        assert api.post("/sales", SALE).status_code == 201
        seen_ttl = []
        watcher = threading.Thread(target=lambda: (time.sleep(2.2), seen_ttl.append(redis.pttl(lock_key))))
        watcher.start()
        with app.app_context():
            assert delivery.drain_outbox().get("done") == 2  # the slow reaction and the classes
        watcher.join()
        assert seen_ttl and seen_ttl[0] > 0, seen_ttl  # still held at 2.2 s, past its 1.5 s life
        assert redis.exists(lock_key) == 0  # released at the end

        # A holder killed mid-drain leaves the lock: it expires, and the next drain delivers.
        redis.set(lock_key, "a-killed-drainer", px=1500)
        assert api.post("/sales", {**SALE, "external_id": "after-the-kill"}).status_code == 201
        start = time.monotonic()
        with app.app_context():
            assert delivery.drain_outbox().get("done") == 2
        assert 1.0 < time.monotonic() - start < 10
    finally:
        redis.flushdb()


def test_a_serving_process_answers_the_till_before_its_background_thread_delivers(make_app):
    """Without Redis, `storecrm run` delivers the reactions after the commit from a thread of
    its own: the till's answer does not wait for a slow reaction, which still runs, once."""
    import threading

    from core.delivery import BackgroundDelivery

    class Slow(Later):
        def __init__(self):
            super().__init__()
            self.release = threading.Event()

        @hookimpl
        def sale_recorded(self, sale, ctx):
            assert self.release.wait(30)
            self.note(sale, ctx)

    slow = Slow()
    app, chain, api = setup(make_app, Manifest(name="slow", version="1", summary="x", hooks=slow))
    background = BackgroundDelivery.start_for(app)
    try:
        r = api.post("/sales", SALE)
        assert r.status_code == 201  # answered while the reaction waits
        assert slow.seen == []
        assert not background.wait_idle(0.2)
        slow.release.set()
        assert background.wait_idle(30)
        assert [seen[:2] for seen in slow.seen] == [(r.json["id"], True)]
        assert deliveries(app) == {"slow": ("done", 1), "core.classification": ("done", 1)}
        assert class_of(app, r.json["customer_id"]) == (1, "new")
    finally:
        slow.release.set()
        background.stop()
    assert "storecrm.outbox_background" not in app.extensions  # stopped: commits deliver in-process again


class Tally:
    """A reaction that asks for shared work once per batch (as staff_kpi's roll-up does)."""

    def __init__(self):
        self.flushes, self.failing = [], False

    def _flush(self, session, items):
        self.flushes.append(list(items))
        if self.failing:
            raise RuntimeError("roll-up table locked")

    @hookimpl
    def sale_recorded(self, sale, ctx):
        ctx.once_per_batch(("tally", sale.store_id), self._flush, ("customer", sale.customer_id), ("sale", sale.id))


def test_shared_work_runs_once_per_batch_and_a_failure_is_retried_per_reaction(make_app):
    from core import events
    from core.delivery import deliver

    tally = Tally()
    manifest = Manifest(name="tally", version="1", summary="x", hooks=tally)
    with socket_closed() as dead_port:
        app, chain, api = setup(make_app, manifest, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    sales = [api.post("/sales", {**SALE, "external_id": f"t-{i}"}).json for i in range(3)]
    customer = sales[0]["customer_id"]
    restarted = make_app(plugins=[manifest])
    with restarted.app_context():
        assert deliver() == {"done": 6}
    # one flush for the three sales, their items in order, the customer once
    assert tally.flushes == [[("customer", customer), *[("sale", s["id"]) for s in sales]]]

    # the shared work fails: each reaction that asked for it is failed, then retried alone
    tally.flushes.clear()
    tally.failing = True
    more = [api.post("/sales", {**SALE, "customer": {"phone": f"1390013900{i}"}, "external_id": f"u-{i}"}).json
            for i in range(2)]
    with restarted.app_context():
        assert deliver() == {"failed": 2, "done": 2}
        assert len(tally.flushes) == 1
        tally.failing = False
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert events.retry_due_deliveries() == {"done": 2}
    assert tally.flushes[1:] == [[("customer", m["customer_id"]), ("sale", m["id"])] for m in more]
    with app.app_context():
        assert sorted(db.session.execute(select(EventDelivery.plugin, EventDelivery.status, EventDelivery.attempts)
                                         .where(EventDelivery.plugin == "tally"))) == \
            [("tally", "done", 1)] * 3 + [("tally", "done", 2)] * 2


def test_a_failing_in_transaction_reaction_keeps_the_sale_at_the_till_and_in_a_batch(make_app):
    """In-transaction reactions run without savepoints; when one raises, the sale is written
    again with them guarded: the sale stands, that reaction's delivery is failed (and retried),
    its half-done write is gone, and the batch's other sales keep their reactions."""

    class Picky(Now):
        calls: list = []

        @hookimpl
        @in_transaction
        def sale_recorded(self, sale, ctx):
            self.calls.append(sale.external_id)
            self.note(sale, ctx)
            ctx.session.flush()
            if sale.external_id.endswith("-bad"):
                raise ValueError("stock service refused")

    picky = Picky()
    app, chain, api = setup(make_app, Manifest(name="picky", version="1", summary="x", hooks=picky))
    till = api.post("/sales", {**SALE, "external_id": "till-bad"})
    assert till.status_code == 201
    batch = api.post("/sales/batch", {"sales": [{**SALE, "external_id": name} for name in ("b-1", "b-bad", "b-3")]})
    assert batch.status_code == 200
    assert [r["status"] for r in batch.json["results"]] == [201, 201, 201]
    # each failing sale: once unguarded (rolled back), once guarded; in the batch, the sales
    # before it are written together again and it is written on its own, guarded at once
    assert picky.calls == ["till-bad", "till-bad", "b-1", "b-bad", "b-1", "b-bad", "b-3"]
    with app.app_context():
        from core.models import Sale

        outcome = dict(db.session.execute(
            select(Sale.external_id, EventDelivery.status).join(Event, Event.subject_id == Sale.id)
            .join(EventDelivery, EventDelivery.event_id == Event.id).where(EventDelivery.plugin == "picky")).all())
        assert outcome == {"till-bad": "failed", "b-1": "done", "b-bad": "failed", "b-3": "done"}
        ids = dict(db.session.execute(select(Sale.external_id, Sale.id)).all())
        assert sorted(db.session.scalars(select(Activity.title))) == sorted(
            [f"picky saw {ids['b-1']}", f"picky saw {ids['b-3']}"])


def test_a_plugin_reacting_both_ways_has_one_delivery_per_half_and_each_half_fails_and_retries_alone(make_app):
    """A plugin may split its reaction to one event: what the till's answer needs inside the
    transaction (`@in_transaction`), the rest (a notification, a timeline row) after the
    commit, as a second hook implementation named with pluggy's `specname`. Each half has its
    own delivery, runs at its own time, and fails and is retried without the other."""
    from core import events

    class Both(Watcher):
        failing = True

        @hookimpl
        @in_transaction
        def sale_recorded(self, sale, ctx):
            self.note(sale, ctx)

        @hookimpl(specname="sale_recorded")
        def follow_up(self, sale, ctx):
            self.seen.append(("follow-up", sale.id, committed(sale.id), ctx.plugin, ctx.settings()))
            ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title=f"followed up {sale.id}"))
            ctx.session.flush()
            if self.failing:
                raise ConnectionError("message server unreachable")

    both = Both()
    app, chain, api = setup(make_app, Manifest(name="both", version="1", summary="x", title="Stamp card",
                                               title_zh="集点卡", hooks=both))
    r = api.post("/sales", SALE)
    assert r.status_code == 201
    sale_id = r.json["id"]
    # the in-transaction half before the commit, the other after it, named as the plugin
    assert both.seen == [(sale_id, False, "till:SH001:till"), ("follow-up", sale_id, True, "both", {})]
    assert deliveries(app) == {"both": ("done", 1), "both.after_commit": ("failed", 1),
                               "core.classification": ("done", 1)}
    # the failed half, as a shop manager reads it: the module's name and which half, in Chinese
    from tests.admin.conftest import login, text

    manager = app.test_client()
    assert login(manager, "manager").status_code == 302
    manager.post("/admin/language", data={"locale": "zh_CN"})
    page = text(manager.get("/admin/deliveries/"))
    assert "集点卡（提交之后）" in page and "message server unreachable" in page and "both.after_commit" not in page
    with app.app_context():
        # the failed half's write went with its savepoint; the other half's stays
        assert db.session.scalars(select(Activity.title)).all() == [f"both saw {sale_id}"]
        both.failing = False
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert events.retry_due_deliveries() == {"done": 1}
        # the retry ran the follow-up alone: the in-transaction half did not run again
        assert sorted(db.session.scalars(select(Activity.title))) == [f"both saw {sale_id}", f"followed up {sale_id}"]
    assert [s[0] for s in both.seen] == [sale_id, "follow-up", "follow-up"]
    assert deliveries(app)["both.after_commit"] == ("done", 2)
