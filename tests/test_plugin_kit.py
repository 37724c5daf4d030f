"""The plugin developer kit's guards: a plugin installed without its migrations cannot break the
business, a plugin endpoint that forgets to commit still stores, templates are on the loader,
and merges count plugin rows."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from core.cli import cli
from core.extensions import db
from core.migrate import alembic_config, pending_migrations
from core.models import Customer


def without_membership_tables(app):
    """As if the membership plugin were installed after the last `storecrm db upgrade`."""
    command.downgrade(alembic_config(app), "membership@base")
    app.extensions.pop("storecrm.migration_script", None)


def test_a_plugin_without_its_tables_is_refused_named_and_holds_no_data(app, chain, api):
    without_membership_tables(app)
    assert {m.owner for m in pending_migrations(app)} == {"membership"}
    runner = app.test_cli_runner()
    listed = runner.invoke(cli, ["plugins", "list"])
    assert "membership 1.0.0" in listed.output and "migrations pending: membership_0001" in listed.output
    enable = runner.invoke(cli, ["plugins", "enable", "membership", "--store", "SH001"])
    assert enable.exit_code == 1
    assert "the tables of membership are not in the database yet: run `storecrm db upgrade`" in enable.output
    for server in (["run"],):  # the worker checks the same way, once Redis is configured
        refused = runner.invoke(cli, server)
        assert refused.exit_code == 1, refused.output
        assert "migrations of membership (5 migrations, membership_0001 to membership_0005_no_cfg_version)" in refused.output
        assert "run `storecrm db upgrade` first (or pass --allow-pending" in refused.output
    # Export and erasure pass the table-less plugin by, for every customer.
    sale = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 1}], "customer": {"phone": "13800000077"}},
                    token=chain.till)
    assert sale.status_code == 201, sale.get_json()
    customer_id = sale.get_json()["customer_id"]
    exported = api.get(f"/customers/{customer_id}/export", token=chain.manager_token)
    assert exported.status_code == 200 and "membership" not in exported.get_json()["plugins"]
    erased = api.delete(f"/customers/{customer_id}", token=chain.manager_token)
    assert erased.status_code == 200, erased.get_json()


def test_a_current_schema_has_nothing_pending(app):
    assert pending_migrations(app) == []


def test_a_merge_counts_the_plugins_rows(app, chain, api):
    from tests.conftest import enable

    enable(app, "SH001", "membership")
    ids = []
    for phone in ("13800000081", "13800000082"):
        sale = api.post("/sales", {"lines": [{"sku": "BEANS-1KG", "quantity": 1}], "customer": {"phone": phone}},
                        token=chain.till)
        ids.append(sale.get_json()["customer_id"])
    merged = api.post(f"/customers/{ids[0]}/merge", {"merge_id": ids[1]}, token=chain.manager_token)
    assert merged.status_code == 200, merged.get_json()
    moved = merged.get_json()["moved"]
    assert moved["membership_points_entry"] == 1 and moved["membership_member"] == 1 and moved["sale"] == 1


def test_plugin_templates_are_on_the_loader_under_the_plugins_name(app):
    with app.app_context():
        assert app.jinja_env.get_template("membership/panel.html") is not None


def test_a_plugin_endpoint_that_forgets_to_commit_still_stores(database_url, tmp_path):
    """A tiny plugin whose write endpoint never calls commit(): the unit of work commits it."""
    from core.api import plugin_blueprint
    from core.api.http import endpoint
    from core.app import create_app
    from core.migrate import upgrade
    from core.plugins import Manifest, hookimpl
    from core.services.store_plugins import enable_plugin
    from tests.conftest import base_config, build_chain

    bp = plugin_blueprint("forgetful", __name__)

    @endpoint(bp, "/notes/<int:customer_id>", "POST", summary="Add a note (forgets to commit)")
    def add_note(customer_id):
        from core.access import customer_or_404

        customer = customer_or_404(customer_id)
        customer.notes = "noted by a plugin"
        return {"ok": True}, 201

    @endpoint(bp, "/fail/<int:customer_id>", "POST", summary="Write, then refuse")
    def fail_note(customer_id):
        from core.access import customer_or_404
        from core.errors import Unprocessable

        customer_or_404(customer_id).notes = "must not stay"
        raise Unprocessable("refused")

    class Hooks:
        @hookimpl
        def register_blueprints(self, app):
            app.register_blueprint(bp)

    app = create_app(base_config(tmp_path, database_url),
                     plugins=[Manifest(name="forgetful", version="0", summary="test", hooks=Hooks())])
    upgrade(app)
    chain = build_chain(app)
    with app.app_context():
        from core.models import Store

        enable_plugin(db.session, db.session.get(Store, chain.ids["sh"]), "forgetful", actor="test")
        who = Customer(name="甲", home_store_id=chain.ids["sh"], hobbies=[], preferences={})
        db.session.add(who)
        db.session.commit()
        customer_id = who.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {chain.manager_token}"}
    assert client.post(f"/api/v1/forgetful/notes/{customer_id}?store=SH001", headers=headers).status_code == 201
    assert client.post(f"/api/v1/forgetful/fail/{customer_id}?store=SH001", headers=headers).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Customer.notes).where(Customer.id == customer_id)) == "noted by a plugin"
