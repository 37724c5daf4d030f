"""The hooks that no bundled plugin in this repository's tests exercises elsewhere, each with a
tiny plugin: registration hooks, the visit/customer/disable events, and contributions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import click
from flask import g, jsonify
from sqlalchemy import select

from core.extensions import db
from core.models import Activity, Store
from core.plugins import HookContext, Manifest, hookimpl
from tests.conftest import Api, build_chain, enable


class Everything:
    """One plugin implementing the hooks under test, recording what it was given."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def register_blueprints(self, app):
        from core.api import plugin_blueprint

        bp = plugin_blueprint("everything", __name__)

        @bp.get("/ping")
        def ping():
            return jsonify({"store": g.store.code})

        app.register_blueprint(bp)

    @hookimpl
    def register_admin_views(self, admin):
        from flask_admin import expose

        from core.admin.base import StoreView

        class EverythingReport(StoreView):
            plugin = "everything"  # its menu shows only in stores that enabled the plugin

            @expose("/")
            def index(self):
                return "everything report"

        admin.add_view(EverythingReport(name="Everything", endpoint="everything_report"))

    @hookimpl
    def register_cli_commands(self, cli):
        @cli.command("everything-hello")
        @click.argument("who")
        def hello(who):
            click.echo(f"hello {who}")

    @hookimpl
    def register_message_channels(self):
        class Outbox:
            name = "test_outbox"

            def send(self, message):
                return "msg-1"

        return [Outbox()]

    @hookimpl
    def visit_recorded(self, visit, ctx):
        self.seen.append(("visit", ctx.store.code, visit.purpose))

    @hookimpl
    def customer_created(self, customer, ctx):
        self.seen.append(("created", ctx.store.code if ctx.store else None, customer.name))

    @hookimpl
    def plugin_enabled(self, store, ctx):
        # Seed defaults here, in the toggle's transaction: raising rolls the toggle back.
        from core.audit import audit

        audit("everything_seeded", target=("store", store.code), store=store, session=ctx.session)

    @hookimpl
    def plugin_disabled(self, store, ctx):
        self.seen.append(("disabled", store.code, ctx.plugin))

    @hookimpl
    def customer_export(self, customer, ctx):
        return {"greetings": 2, "name_seen": customer.name}

    @hookimpl
    def customer_erased(self, customer_id, ctx):
        self.seen.append(("erased", customer_id))

    @hookimpl
    def customer_panels(self, customer, ctx):
        from markupsafe import Markup, escape

        return [{"title": "Everything", "html": Markup("<p>{}</p>").format(escape(customer.name)), "order": 50}]

    @hookimpl
    def timeline_text(self, activities, ctx):
        return {act.id: {"title": f"Everything said {act.data['said']}", "body": "in its own words"}
                for act in activities if act.kind == "everything_note"}

    @hookimpl
    def customer_notification(self, customer, topic, data, ctx):
        if topic != "everything.ping":
            return None
        self.seen.append(("notified", customer.name, data["text"]))
        return True

    @hookimpl
    def customer_merged(self, kept, merged, ctx):
        ctx.session.add(Activity(customer_id=kept.id, kind="note", title=f"merged {merged.id} into {kept.id}"))

    @hookimpl
    def dashboard_widgets(self, store, period):
        return [{"title": f"visits in {store.code}", "value": str((period[1] - period[0]).days)}]

    @hookimpl
    def segment_filters(self):
        return [{"name": "everything_vip", "label": "VIP", "params": {},
                 "apply": lambda stmt, params, ctx: stmt}]

    @hookimpl
    def kpi_metrics(self, staff, period, ctx):
        return {"hellos": Decimal("3"), "staff": staff.username}


def make(make_app):
    plugin = Everything()
    app = make_app(plugins=[Manifest(name="everything", version="1", summary="x", hooks=plugin)])
    chain = build_chain(app)
    return app, chain, plugin


def test_register_blueprints_mounts_routes_that_answer_404_where_the_plugin_is_off(make_app):
    app, chain, _ = make(make_app)
    api = Api(app.test_client())
    r = api.get("/everything/ping", token=chain.till)
    assert r.status_code == 404 and r.json["error"]["message"] == "everything is not enabled in store SH001"
    enable(app, "SH001", "everything")
    assert api.get("/everything/ping", token=chain.till).json == {"store": "SH001"}
    assert api.get("/everything/ping", token=chain.till_bj).status_code == 404
    assert api.get("/everything/ping").status_code == 401


def test_register_cli_commands_and_message_channels(make_app):
    app, chain, _ = make(make_app)
    result = app.test_cli_runner().invoke(args=["everything-hello", "王芳"])
    assert result.exit_code == 0 and result.output == "hello 王芳\n"
    channels = [c for found in app.extensions["storecrm.plugins"].call_registration("register_message_channels")
                for c in found]
    assert [(c.name, c.send({"to": "x"})) for c in channels] == [("test_outbox", "msg-1")]


def test_visit_recorded_customer_created_and_plugin_disabled_in_the_enabled_store_only(make_app):
    app, chain, plugin = make(make_app)
    enable(app, "SH001", "everything")
    api = Api(app.test_client())
    assert api.post("/customers", {"name": "王芳"}, token=chain.till).status_code == 201
    assert api.post("/visits", {"purpose": "browse", "customer": {"phone": "13800138000"}}, token=chain.till).status_code == 201
    # BJ001 has the plugin off: its customer and visit are recorded (answers checked, so a
    # failing request cannot pass for "not called") and the plugin hears nothing of them
    made = api.post("/customers", {"name": "李雷"}, token=chain.till_bj)
    assert made.status_code == 201 and made.json["name"] == "李雷", made.json
    visit = api.post("/visits", {"purpose": "ignored", "customer": {"id": made.json["id"]}}, token=chain.till_bj)
    assert visit.status_code == 201 and (visit.json["store"], visit.json["customer_id"], visit.json["effects"]) == (
        "BJ001", made.json["id"], {}), visit.json
    assert api.put("/stores/SH001/plugins/everything", {"enabled": False}, token=chain.owner_token).status_code == 200
    assert plugin.seen == [("created", "SH001", "王芳"), ("created", "SH001", ""), ("visit", "SH001", "browse"),
                           ("disabled", "SH001", "everything")]
    with app.app_context():
        from core.models import AuditLog

        assert db.session.scalars(select(AuditLog.target_id).where(AuditLog.action == "everything_seeded")).all() == ["SH001"]


def test_contribution_hooks_return_what_their_callers_collect(make_app):
    from core.admin.dashboard import collect_widgets
    from core.services.customers import create_customer

    app, chain, _ = make(make_app)
    enable(app, "SH001", "everything")
    reg = app.extensions["storecrm.plugins"]
    with app.test_request_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        ctx = HookContext(session=db.session, store=store, registry=reg)
        widgets = collect_widgets(store, (date(2026, 11, 1), date(2026, 11, 8)), ctx)
        assert {"title": "visits in SH001", "value": "7"} in widgets
        filters = [f for found in reg.call_registration("segment_filters") for f in found]
        assert "everything_vip" in {f["name"] for f in filters}
        from core.models import User

        alice = db.session.scalars(select(User).where(User.username == "alice")).one()
        metrics = reg.collect_enabled("kpi_metrics", ctx, staff=alice, period=(date(2026, 11, 1), date(2026, 11, 30)))
        assert metrics == {"everything": {"hellos": Decimal("3"), "staff": "alice"}}
        kept = create_customer(db.session, store, {"name": "王芳"})
        merged = create_customer(db.session, store, {"name": "王芳 (dup)"})
        reg.collect("customer_merged", reg.manifests, ctx, kept=kept, merged=merged)
        db.session.commit()
        assert db.session.scalars(select(Activity.title)).all() == [f"merged {merged.id} into {kept.id}"]


def test_register_admin_views_and_the_personal_data_hooks(make_app):
    app, chain, plugin = make(make_app)
    assert "everything_report.index" in app.view_functions
    api = Api(app.test_client())
    customer = api.post("/customers", {"name": "王芳"}, token=chain.till).json
    # export and erasure reach every installed plugin, enabled in the store or not
    r = api.get(f"/customers/{customer['id']}/export", token=chain.manager_token)
    assert r.status_code == 200, r.json
    assert r.json["plugins"]["everything"] == {"greetings": 2, "name_seen": "王芳"}
    assert api.delete(f"/customers/{customer['id']}", token=chain.manager_token).status_code == 200
    assert ("erased", customer["id"]) in plugin.seen


def test_customer_panels_and_customer_notification(make_app):
    app, chain, plugin = make(make_app)
    enable(app, "SH001", "everything")
    reg = app.extensions["storecrm.plugins"]
    with app.test_request_context():
        from core.services.customers import create_customer

        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        ctx = HookContext(session=db.session, store=store, registry=reg)
        customer = create_customer(db.session, store, {"name": "<b>王芳</b>"})
        panels = reg.collect_enabled("customer_panels", ctx, customer=customer)["everything"]
        assert str(panels[0]["html"]) == "<p>&lt;b&gt;王芳&lt;/b&gt;</p>"
        answers = reg.collect_enabled("customer_notification", ctx, customer=customer, topic="everything.ping",
                                      data={"text": "hi"})
        assert answers == {"everything": True}
    assert ("notified", "<b>王芳</b>", "hi") in plugin.seen


def test_timeline_text_words_the_plugins_own_entries_enabled_or_not(make_app):
    app, chain, _plugin = make(make_app)  # not enabled in SH001: the entries are history all the same
    reg = app.extensions["storecrm.plugins"]
    with app.test_request_context():
        from core.admin.timeline import timeline
        from core.services.customers import create_customer

        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        customer = create_customer(db.session, store, {"name": "王芳"})
        for source in ("everything", "core"):  # the core's entry of the same kind is not the plugin's to word
            db.session.add(Activity(customer_id=customer.id, store_id=store.id, kind="everything_note", source=source,
                                    title=f"stored by {source}", body=None, data={"said": "hello"}))
        db.session.flush()
        ctx = HookContext(session=db.session, store=store, registry=reg)
        shown = {(e.title, e.body) for e in timeline(db.session, customer, ctx=ctx) if e.kind == "everything_note"}
        assert shown == {("Everything said hello", "in its own words"), ("stored by core", None)}
        db.session.rollback()
