"""Inventory's records in the cross-store matrix (tests/security/scoping_records.py).

Suppliers are shared by the chain by design (one supplier list for every store; a purchase
order, which is per store, names one): their ids are chain-wide values, not BJ001's records.
The catalogue's SKUs are chain-wide too."""

from tests.conftest import enable
from tests.security.scoping_records import (
    CHAIN_PARAMS, admin_model, bj_store, body, chain_param, const, post, record, row,
)

LINES = [{"sku": "LATTE-M", "quantity": "2"}]


def _supplier(env):
    return env.value(CHAIN_PARAMS, "supplier_id")


def _stocked_bj(env):
    """BJ001 holds 10 LATTE-M (a receipt move), so it can send a transfer; the move's id."""
    if not getattr(env, "_inventory_move", None):
        r = env.api.post("/inventory/moves", {"store": "BJ001", "sku": "LATTE-M", "kind": "receipt", "quantity": "10",
                                              "reason": "matrix"}, token=env.chain.owner_token)
        assert r.status_code == 201, r.get_data(as_text=True)
        env._inventory_move = r.json["id"]
    return env._inventory_move


def _order(env):
    r = env.api.post("/inventory/purchase-orders", {"store": "BJ001", "supplier_id": _supplier(env), "lines": LINES},
                     token=env.chain.owner_token)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["id"]


def _transfer(env):
    """BJ001 → GZ001: a transfer SH001 neither sent nor receives."""
    _stocked_bj(env)
    r = env.api.post("/stores", {"code": "GZ001", "name": "广州店", "timezone": "Asia/Shanghai"},
                     token=env.chain.owner_token)
    assert r.status_code == 201, r.get_data(as_text=True)
    enable(env.app, "GZ001", "inventory")
    return post("/inventory/transfers", {"store": "BJ001", "to_store": "GZ001", "lines": LINES}, token="owner_token")(env)


# chain-wide by design: one supplier list for the chain; editing it is refused for another store's code only
chain_param("supplier_id", post("/inventory/suppliers", {"name": "云南咖啡豆", "store": "BJ001"}, token="owner_token"))
chain_param("sku", const("LATTE-M"))  # the catalogue is chain-wide; stock settings are per store (?store=)
record("order_id", _order)
record("stocktake_id", post("/inventory/stocktakes", {"store": "BJ001"}, token="owner_token"))
record("transfer_id", _transfer)
# a chain-wide supplier named while acting for BJ001: SH001's people may not order or set stock there
body("POST", "api_inventory.create_order", lambda env: {"store": "BJ001", "supplier_id": _supplier(env), "lines": LINES})
body("PUT", "api_inventory.put_stock_settings", lambda env: {"store": "BJ001", "supplier_id": _supplier(env)})
admin_model("Supplier", None)  # shared by the chain (see above)
admin_model("Move", _stocked_bj)
admin_model("Alert", row("plugins.inventory.models.Alert", store_id=bj_store, product_id=1, level=0, safety_stock=5))
