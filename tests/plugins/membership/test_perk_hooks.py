"""The two hooks membership's perks added, each with a tiny plugin: `customer_priority` (a badge
at the counter lookup) and `stock_change` (a reward's goods taken out and put back)."""

from __future__ import annotations

import pytest

from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable


class Keeper:
    """Keeps stock and names VIPs, recording what it was asked."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def stock_change(self, store, sku, quantity, reason, source_key, ctx):
        self.seen.append(("stock", store.code, sku, quantity, source_key))
        return True

    @hookimpl
    def customer_priority(self, customer_ids, purpose, ctx):
        if purpose != "counter":
            return None
        self.seen.append(("priority", purpose, sorted(customer_ids)))
        return {customer_ids[0]: 9}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # page rendering: the SQL is the same on both
def test_stock_change_and_customer_priority_reach_the_enabled_plugin(make_app):
    from tests.admin.conftest import login

    plugin = Keeper()
    app = make_app(plugins=[Manifest(name="keeper", version="1", summary="x", hooks=plugin)])
    chain = build_chain(app)
    enable(app, "SH001", "membership", "keeper")
    api = Api(app.test_client())
    owner = Api(app.test_client(), token=chain.owner_token)
    bag = owner.post("/membership/rewards", {"store": "SH001", "name": "豆子", "points": 10, "sku": "BEANS-1KG"}).json
    cid = api.post("/customers", {"name": "孙会员", "phone": "13900139401"}, token=chain.till).json["id"]
    assert api.post("/sales", {"customer": {"id": cid}, "lines": [{"sku": "LATTE-M", "quantity": 1,
                                                                    "unit_price": "1000.00"}]},
                    token=chain.till).status_code == 201
    made = api.post(f"/membership/members/{cid}/reward-redemptions", {"reward_id": bag["id"], "quantity": 2},
                    token=chain.till)
    assert made.status_code == 201 and made.json["stock_kept"] is True, made.json
    back = api.post(f"/membership/reward-redemptions/{made.json['id']}/return", {"reason": "退"},
                    token=chain.manager_token)
    assert back.status_code == 200, back.json
    rid = made.json["id"]
    assert plugin.seen == [("stock", "SH001", "BEANS-1KG", -2, f"membership:reward:{rid}"),
                           ("stock", "SH001", "BEANS-1KG", 2, f"membership:reward-return:{rid}")]

    other = api.post("/customers", {"name": "孙路人", "phone": "13900139402"}, token=chain.till).json["id"]
    client = app.test_client()
    assert login(client, "alice").status_code == 302
    page = client.get("/admin/customers/lookup?q=孙").get_data(as_text=True)
    assert plugin.seen[-1] == ("priority", "counter", sorted([cid, other]))
    assert page.count("priority-service") == 1
