"""Every error code of api.md, always in the one shape `{"error": {"code", "message", "fields"}}`."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import ApiToken, User, utcnow
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain, enable

SALE = {"lines": [{"sku": "LATTE-M", "quantity": 2, "unit_price": "28.00"}]}


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.is_json, r.get_data(as_text=True)[:200]
    assert set(r.json) == {"error"}
    assert r.json["error"]["message"]
    if code:
        assert r.json["error"]["code"] == code
    return r.json["error"]


def test_400_malformed_json_and_schema_errors_name_dotted_fields(api, chain):
    r = api.client.post("/api/v1/sales", data="{not json", content_type="application/json",
                        headers={"Authorization": f"Bearer {chain.till}"})
    assert "_body" in assert_error(r, 400, "validation_error")["fields"]
    err = assert_error(api.post("/sales", [1, 2], token=chain.till), 400, "validation_error")
    assert err["fields"]
    err = assert_error(api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": -1},
                                                      {"sku": "", "quantity": 1, "unit_price": "abc"}]},
                                token=chain.till), 400, "validation_error")
    assert {"lines.0.quantity", "lines.1.sku", "lines.1.unit_price"} <= set(err["fields"])
    err = assert_error(api.post("/customers", {"name": "王芳", "consents": [{"channel": "fax", "granted": True}]},
                                token=chain.till), 400)
    assert "consents.0.channel" in err["fields"]
    err = assert_error(api.post("/sales", {**SALE, "surprise": 1}, token=chain.till), 400)
    assert "surprise" in err["fields"]
    err = assert_error(api.get("/customers?limit=0", token=chain.till), 400)
    assert "limit" in err["fields"]
    err = assert_error(api.post("/customers", {"name": "王芳", "phone": "12345"}, token=chain.till), 400)
    assert "phone" in err["fields"]
    err = assert_error(api.post("/customers", {"name": "王芳", "birthday": "1990-02-30"}, token=chain.till), 400)
    assert "birthday" in err["fields"]
    # an owner works in every store, so a sale must name one
    err = assert_error(api.post("/sales", SALE, token=chain.owner_token), 400)
    assert err["fields"] == {"store": ["Missing store code."]}
    assert_error(api.post("/sales", {**SALE, "store": "XX999"}, token=chain.owner_token), 404)


def test_401_without_a_token_with_an_unknown_one_and_after_revoking(app, api, chain):
    assert_error(api.get("/customers"), 401, "unauthorized")
    assert_error(api.get("/customers", headers={"Authorization": "Token abc"}), 401)
    assert_error(api.get("/customers", token="scrm_not-a-real-token"), 401)
    assert api.get("/customers", token=chain.staff_token).status_code == 200
    with app.app_context():
        alice = db.session.scalars(select(User).where(User.username == "alice")).one()
        alice.active = False
        for token in db.session.scalars(select(ApiToken).where(ApiToken.name == "till")):
            token.revoked_at = utcnow()
        db.session.commit()
    assert_error(api.get("/customers", token=chain.staff_token), 401)
    assert_error(api.post("/sales", SALE, token=chain.till), 401)
    assert api.post("/sales", SALE, token=chain.till_bj).status_code == 201


def test_403_wrong_store_or_role(api, chain):
    assert_error(api.post("/sales", {**SALE, "store": "BJ001"}, token=chain.till), 403, "forbidden")
    assert_error(api.post("/sales", {**SALE, "store": "BJ001"}, token=chain.staff_token), 403)
    assert_error(api.post("/visits", {"store": "SH001"}, token=chain.staff_bj_token), 403)
    assert_error(api.get("/stores/BJ001/plugins", token=chain.manager_token), 403)
    assert_error(api.get("/customers?store=BJ001", token=chain.staff_token), 403)
    # roles: products are the manager's, stores and modules the owner's
    assert_error(api.post("/products", {"sku": "TEA", "name": "茶", "price": "18.00"}, token=chain.staff_token), 403)
    assert_error(api.post("/products", {"sku": "TEA", "name": "茶", "price": "18.00"}, token=chain.till), 403)
    assert_error(api.post("/stores", {"code": "GZ001", "name": "广州"}, token=chain.manager_token), 403)
    assert_error(api.put("/stores/SH001/plugins/anything", {"enabled": True}, token=chain.manager_token), 403)
    assert_error(api.get("/stores/SH001/plugins/anything/settings", token=chain.staff_token), 403)
    # the owner may do all of it
    assert api.post("/sales", {**SALE, "store": "BJ001"}, token=chain.owner_token).status_code == 201


def test_404_unknown_things_and_other_stores_things_answer_json(api, chain):
    assert_error(api.get("/customers/999999", token=chain.owner_token), 404, "not_found")
    assert_error(api.get("/sales/999999", token=chain.owner_token), 404)
    assert_error(api.post("/sales/999999/refunds", {}, token=chain.owner_token), 404)
    assert_error(api.patch("/products/999999", {"name": "x"}, token=chain.owner_token), 404)
    assert_error(api.get("/no/such/endpoint", token=chain.owner_token), 404)
    assert_error(api.put("/stores/SH001/plugins/no_such_plugin", {"enabled": True}, token=chain.owner_token), 404)
    assert_error(api.get("/stores/XX999/plugins", token=chain.owner_token), 404)
    # another store's sale and customer do not exist for a Beijing till or clerk
    sale = api.post("/sales", {**SALE, "customer": {"phone": "13800138000"}}, token=chain.till).json
    assert_error(api.get(f"/sales/{sale['id']}", token=chain.till_bj), 404)
    assert_error(api.post(f"/sales/{sale['id']}/refunds", {}, token=chain.staff_bj_token), 404)
    assert_error(api.get(f"/customers/{sale['customer_id']}", token=chain.staff_bj_token), 404)
    assert_error(api.patch(f"/customers/{sale['customer_id']}", {"notes": "x"}, token=chain.till_bj), 404)
    # the sale is untouched by the refused refund
    assert api.get(f"/sales/{sale['id']}", token=chain.till).json["status"] == "completed"
    r = api.call("DELETE", "/sales", token=chain.till)
    assert_error(r, 405, "method_not_allowed")


def test_409_conflicts_name_what_exists(api, chain):
    first = api.post("/customers", {"name": "王芳", "phone": "13800138000"}, token=chain.till)
    assert first.status_code == 201
    err = assert_error(api.post("/customers", {"name": "王芳二", "phone": "+86 138 0013 8000"}, token=chain.till),
                       409, "conflict")
    assert err["existing_id"] == first.json["id"] and "phone" in err["fields"]
    other = api.post("/customers", {"name": "李雷", "phone": "13900139000"}, token=chain.till).json
    err = assert_error(api.patch(f"/customers/{other['id']}", {"phone": "13800138000"}, token=chain.till), 409)
    assert err["existing_id"] == first.json["id"]
    assert_error(api.post("/stores", {"code": "SH001", "name": "又一个上海店"}, token=chain.owner_token), 409)
    err = assert_error(api.post("/products", {"sku": "LATTE-M", "name": "拿铁", "price": "28.00"},
                                token=chain.manager_token), 409)
    assert "sku" in err["fields"]
    cake = api.get("/products?q=CAKE-CHOC", token=chain.manager_token).json["items"][0]
    assert_error(api.patch(f"/products/{cake['id']}", {"sku": "LATTE-M"}, token=chain.manager_token), 409)
    assert api.get("/products?q=CAKE-CHOC", token=chain.manager_token).json["items"][0]["sku"] == "CAKE-CHOC"


def test_422_valid_shape_impossible_request(api, chain):
    err = assert_error(api.post("/sales", {**SALE, "adjustments": [{"source": "manual", "code": "x", "amount": "-60.00"}]},
                                token=chain.till), 422, "unprocessable")
    assert err["fields"] == {"adjustments.0.source": ["manual is not a module enabled in store SH001: it cannot adjust this sale."]}
    sale = api.post("/sales", {"lines": [{"sku": "LATTE-M", "quantity": 2}, {"sku": "CAKE-CHOC", "quantity": 1}]},
                    token=chain.till).json
    err = assert_error(api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"sku": "LATTE-M", "quantity": 3}]},
                                token=chain.till), 422)
    assert err["fields"]["lines.0.quantity"] == ["Only 2 left to refund."]
    err = assert_error(api.post(f"/sales/{sale['id']}/refunds", {"lines": [{"sku": "BEANS-1KG", "quantity": 1}]},
                                token=chain.till), 422)
    assert "lines.0.sku" in err["fields"]
    assert api.post(f"/sales/{sale['id']}/refunds", {}, token=chain.till).status_code == 201
    err = assert_error(api.post(f"/sales/{sale['id']}/refunds", {}, token=chain.till), 422)
    assert api.get(f"/sales/{sale['id']}", token=chain.till).json["refunded_total"] == "91.00"


class Crashing:
    @hookimpl
    def register_blueprints(self, app):
        from core.api import plugin_blueprint

        bp = plugin_blueprint("crashing", __name__)

        @bp.get("/boom")
        def boom():
            raise RuntimeError("customer 13800138000 broke me")

        app.register_blueprint(bp)


def test_500_is_the_one_shape_without_a_trace_or_personal_data(make_app):
    app = make_app(plugins=[Manifest(name="crashing", version="1", summary="x", hooks=Crashing())])
    chain = build_chain(app)
    enable(app, "SH001", "crashing")
    r = Api(app.test_client()).get("/crashing/boom", token=chain.till)
    err = assert_error(r, 500, "internal_error")
    assert "13800138000" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert err["message"] == "Something went wrong; the error was logged."
