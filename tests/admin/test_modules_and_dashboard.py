"""Modules page, plugin pages that vanish where the plugin is off, settings errors, failed
deliveries with retry, the dashboard and the customer page's panels."""

from __future__ import annotations

import json
import re
from html import unescape as html_unescape

from sqlalchemy import select

from tests.admin.conftest import make_customer, text
from tests.conftest import enable


def owner_in(signed_in, store_id):
    """The owner, with the navbar's store set to `store_id` (modules are switched per store)."""
    owner = signed_in("owner")
    assert owner.post("/admin/switch-store", data={"store": str(store_id)}).status_code == 302
    return owner


def test_a_plugins_menu_and_pages_exist_only_in_stores_that_switched_it_on(admin_env, signed_in):
    manager = signed_in("manager")  # works in SH001
    owner = owner_in(signed_in, admin_env.chain.ids["sh"])  # switching modules is the owner's (api.md)
    assert "Stamp cards" not in text(manager.get("/admin/"))
    assert manager.get("/admin/stamps/").status_code == 404
    page = text(manager.get("/admin/modules/"))
    assert "stamps v0.3.0" in page and "Stamp cards" in page
    assert "Switch on" not in page  # a manager sees the modules, not the switches
    assert manager.post("/admin/modules/toggle", data={"plugin": "stamps", "enabled": "1"}).status_code == 403
    response = owner.post("/admin/modules/toggle", data={"plugin": "stamps", "enabled": "1"}, follow_redirects=True)
    assert "stamps is on in 上海南京路店" in text(response)
    assert "Stamp cards" in text(manager.get("/admin/"))
    assert manager.get("/admin/stamps/").status_code == 200
    # Another store has not switched it on: bob in BJ001 sees nothing of it.
    bob = signed_in("bob")
    assert bob.get("/admin/stamps/").status_code == 404
    owner.post("/admin/modules/toggle", data={"plugin": "stamps", "enabled": "0"})
    assert "Stamp cards" not in text(manager.get("/admin/"))
    assert manager.get("/admin/stamps/").status_code == 404


def test_switching_off_a_plugin_another_needs_is_refused_readably(make_app):
    from core.plugins import Manifest
    from tests.admin.conftest import login, stamps_plugin
    from tests.conftest import build_chain

    base, _hooks = stamps_plugin()
    addon = Manifest(name="stamp_rewards", version="1.0", summary="Rewards for full stamp cards", hooks=object(),
                     depends=("stamps",))
    app = make_app(plugins=[base, addon])
    build_chain(app)
    client = app.test_client()
    login(client, "owner")
    client.post("/admin/switch-store", data={"store": "1"})
    on = text(client.post("/admin/modules/toggle", data={"plugin": "stamp_rewards", "enabled": "1"}, follow_redirects=True))
    assert "Also switched on, because it needs them: stamps" in on
    off = text(client.post("/admin/modules/toggle", data={"plugin": "stamps", "enabled": "0"}, follow_redirects=True))
    assert "stamps cannot be switched off: stamp_rewards need it" in off
    assert "Stamp cards" in text(client.get("/admin/"))


def test_settings_form_shows_a_bad_value_next_to_its_field_and_stores_nothing(admin_env, signed_in):
    from core.extensions import db
    from core.models import StorePlugin

    enable(admin_env.app, "SH001", "stamps")
    assert signed_in("manager").post("/admin/modules/stamps/settings", data={"stamps_per_coffee": "2"}).status_code == 403
    manager = owner_in(signed_in, admin_env.chain.ids["sh"])  # settings are the owner's, as in the API
    page = manager.get("/admin/modules/")
    assert 'name="stamps_per_coffee" value="1"' in page.get_data(as_text=True)
    bad = manager.post("/admin/modules/stamps/settings", data={"stamps_per_coffee": "50", "card_name": "Latte card"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'data-field="stamps_per_coffee">Must be greater than or equal to 1 and less than or equal to 10.' in html
    assert 'value="Latte card"' in html  # what was typed stays in the form
    with admin_env.app.app_context():
        assert db.session.get(StorePlugin, (admin_env.chain.ids["sh"], "stamps")).settings == {}
    good = manager.post("/admin/modules/stamps/settings", data={"stamps_per_coffee": "2", "card_name": "Latte card"},
                        follow_redirects=True)
    assert "Settings of stamps saved." in text(good)
    with admin_env.app.app_context():
        stored = db.session.get(StorePlugin, (admin_env.chain.ids["sh"], "stamps")).settings
        assert stored == {"stamps_per_coffee": 2, "card_name": "Latte card", "active": False}


def test_failed_deliveries_show_their_error_and_succeed_on_retry(admin_env, signed_in):
    from core.extensions import db
    from core.models import EventDelivery

    enable(admin_env.app, "SH001", "stamps")
    admin_env.hooks.fail_sales = True
    client = admin_env.app.test_client()
    answer = client.post("/api/v1/sales", json={"external_id": "r-1", "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                         headers={"Authorization": f"Bearer {admin_env.chain.till}"})
    assert answer.status_code == 201
    manager = signed_in("manager")
    listing = text(manager.get("/admin/deliveries/"))
    assert "stamp printer jammed" in listing and "sale_recorded" in listing
    assert "Failed module reactions 1" in text(manager.get("/admin/"))
    with admin_env.app.app_context():
        delivery_id = db.session.scalars(select(EventDelivery.id).where(EventDelivery.plugin == "stamps")).one()
    still = manager.post(f"/admin/deliveries/retry/{delivery_id}", follow_redirects=True)
    assert "Still failing (failed)" in text(still)
    admin_env.hooks.fail_sales = False
    done = manager.post(f"/admin/deliveries/retry/{delivery_id}", follow_redirects=True)
    assert "Delivered." in text(done) and "stamp printer jammed" not in text(done)
    # Bob works in BJ001: the SH001 delivery is not his to see or retry.
    assert signed_in("bob").post(f"/admin/deliveries/retry/{delivery_id}").status_code in (403, 404)


def test_customer_page_shows_core_and_plugin_panels_in_order_and_survives_a_broken_one(admin_env, signed_in):
    from markupsafe import Markup

    def loyalty(customer, ctx):
        return {"title": "Core panel", "html": Markup("<p>core first</p>"), "order": 1}

    def broken(customer, ctx):
        raise ValueError("boom")

    admin_env.app.extensions["storecrm.core_panels"][:0] = [loyalty, broken]
    customer_id = make_customer(admin_env.app, "SH001", "张伟", "13800138000")
    alice = signed_in("alice")
    assert "2 stamps" not in text(alice.get(f"/admin/customers/{customer_id}"))
    enable(admin_env.app, "SH001", "stamps")
    page = text(alice.get(f"/admin/customers/{customer_id}"))
    assert page.index("Core panel") < page.index("2 stamps") < page.index("Timeline")
    assert "2 stamps" in page and "This section could not be shown" in page


def test_dashboard_counts_the_stores_sales_and_renders_charts(admin_env, signed_in):
    chain = admin_env.chain
    client = admin_env.app.test_client()
    for token, ext, sku in ((chain.till, "a", "BEANS-1KG"), (chain.till, "b", "LATTE-M"), (chain.till_bj, "c", "CAKE-CHOC")):
        client.post("/api/v1/sales", json={"external_id": ext, "lines": [{"sku": sku, "quantity": 1}],
                                           "customer": {"phone": "13800138000"}},
                    headers={"Authorization": f"Bearer {token}"})
    calls = []
    admin_env.app.extensions["storecrm.core_widgets"].append(
        lambda store, period, ctx: calls.append((store, period)) or [
            {"title": "By class", "chart": {"type": "bar", "labels": ["key"], "series": [{"name": "n", "data": [3]}]}}])
    manager = signed_in("manager")
    html = manager.get("/admin/").get_data(as_text=True)
    page = text(manager.get("/admin/"))
    assert "Sales today ¥1,228.00 2 receipts" in page
    assert "chart.umd.min.js" in html and html.count('class="storecrm-chart"') >= 4
    specs = [json.loads(html_unescape(spec)) for spec in re.findall(r"data-chart='([^']*)'", html)]
    assert {"type": "bar", "labels": ["key"], "datasets": [{"label": "n", "data": [3]}]} in specs  # series → datasets
    assert calls[0][0].code == "SH001"
    owner = signed_in("owner")
    assert "Sales today ¥1,263.00 3 receipts" in text(owner.get("/admin/"))  # the chain view
    assert owner.get("/static/storecrm/vendor/chart.umd.min.js").status_code == 200


def test_language_follows_the_user(admin_env, signed_in):
    from core.extensions import db
    from core.models import User

    alice = signed_in("alice")
    assert "Customers" in text(alice.get("/admin/"))
    alice.post("/admin/language", data={"locale": "zh_CN"})
    page = text(alice.get("/admin/customers/"))
    assert "客户" in page and "退出" in page
    assert "列表" in page  # Flask-Admin's own strings are translated too
    with admin_env.app.app_context():
        assert db.session.scalars(select(User.locale).where(User.username == "alice")).one() == "zh_CN"
    # A fresh session on another device keeps her language.
    assert "客户" in text(signed_in("alice").get("/admin/customers/"))
    assert "Customers" in text(signed_in("manager").get("/admin/customers/"))
