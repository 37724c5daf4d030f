"""Products, stores and each store's modules through the API."""

from __future__ import annotations

from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain


def test_products_create_list_page_and_patch(api, chain):
    r = api.post("/products", {"sku": "TEA-G", "barcode": "6901234567892", "name": "绿茶", "category": "tea",
                               "price": "18.5", "cost": "6"}, token=chain.manager_token)
    assert r.status_code == 201, r.json
    assert (r.json["price"], r.json["cost"], r.json["active"]) == ("18.50", "6.00", True)
    r = api.patch(f"/products/{r.json['id']}", {"price": "19.00", "active": False}, token=chain.manager_token)
    assert r.status_code == 200 and (r.json["price"], r.json["active"]) == ("19.00", False)
    assert [p["sku"] for p in api.get("/products?q=6901234567892", token=chain.till).json["items"]] == ["TEA-G"]
    assert [p["sku"] for p in api.get("/products?category=tea", token=chain.till).json["items"]] == ["TEA-G"]
    page = api.get("/products?limit=3", token=chain.till).json
    rest = api.get(f"/products?limit=3&cursor={page['next_cursor']}", token=chain.till).json
    assert [p["sku"] for p in page["items"] + rest["items"]] == ["LATTE-M", "CAKE-CHOC", "BEANS-1KG", "TEA-G"]
    assert rest["next_cursor"] is None
    r = api.post("/products", {"sku": "X", "name": "x", "price": "-1"}, token=chain.manager_token)
    assert r.status_code == 400 and "price" in r.json["error"]["fields"]


def test_stores_listed_per_caller_and_opened_by_the_owner(api, chain):
    assert [s["code"] for s in api.get("/stores", token=chain.owner_token).json] == ["BJ001", "SH001"]
    assert [s["code"] for s in api.get("/stores", token=chain.staff_token).json] == ["SH001"]
    assert [s["code"] for s in api.get("/stores", token=chain.till_bj).json] == ["BJ001"]
    r = api.post("/stores", {"code": "GZ001", "name": "广州天河店", "timezone": "Asia/Shanghai"}, token=chain.owner_token)
    assert r.status_code == 201 and (r.json["code"], r.json["currency"]) == ("GZ001", "CNY")
    r = api.post("/stores", {"code": "HK001", "name": "香港", "timezone": "Mars/Olympus"}, token=chain.owner_token)
    assert r.status_code == 400 and "timezone" in r.json["error"]["fields"]
    r = api.post("/stores", {"code": "a b", "name": "x"}, token=chain.owner_token)
    assert r.status_code == 400 and "code" in r.json["error"]["fields"]


class Greeter:
    @hookimpl
    def sale_result(self, sale, ctx):
        return {"greeting": "hi"}


class Broken:
    pass


def test_plugins_listed_with_import_errors_and_switched_per_store(make_app):
    bad = Manifest(name="bad", version="1.0", summary="x", hooks="tests.no_such_module_here")
    app = make_app(plugins=[Manifest(name="greeter", version="2.1", summary="says hi", hooks=Greeter()), bad],
                   PLUGINS_STRICT=False)
    chain = build_chain(app)
    api = Api(app.test_client(), token=chain.owner_token)
    listed = {p["name"]: p for p in api.get("/plugins").json}
    assert listed["greeter"]["version"] == "2.1" and listed["greeter"]["error"] is None
    assert "No module named" in listed["bad"]["error"]
    states = {p["name"]: p["enabled"] for p in api.get("/stores/SH001/plugins").json}
    assert states["greeter"] is False and "bad" not in states
    sale = {"lines": [{"sku": "LATTE-M", "quantity": 1}]}
    assert api.post("/sales", sale, token=chain.till).json["effects"] == {}
    r = api.put("/stores/SH001/plugins/greeter", {"enabled": True})
    assert r.status_code == 200 and {p["name"]: p["enabled"] for p in r.json}["greeter"] is True
    # the next request sees it, with no restart; the other store does not
    assert api.post("/sales", sale, token=chain.till).json["effects"] == {"greeter": {"greeting": "hi"}}
    assert api.post("/sales", sale, token=chain.till_bj).json["effects"] == {}
    assert api.put("/stores/SH001/plugins/greeter", {"enabled": False}).status_code == 200
    assert api.post("/sales", sale, token=chain.till).json["effects"] == {}
    r = api.put("/stores/SH001/plugins/greeter", {"enabled": "maybe"})
    assert r.status_code == 400 and "enabled" in r.json["error"]["fields"]
    r = api.put("/stores/SH001/plugins/greeter/settings", {"anything": 1})
    assert r.status_code == 400
