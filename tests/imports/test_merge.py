"""Merging duplicate profiles: everything moves, every installed plugin is told, audited."""

from __future__ import annotations

from sqlalchemy import select

from core.cli import cli
from core.extensions import db
from core.models import Activity, AuditLog, Consent, Customer, Sale, Visit
from core.plugins import Manifest, hookimpl
from tests.conftest import Api, build_chain


class MergeRecorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def customer_merged(self, kept, merged, ctx):
        self.calls.append((kept.id, merged.id))


def _two_profiles(api, chain):
    a = api.post("/customers", {"name": "陈静", "code": "VIP9", "phone": "13800001234", "birthday": "1992-05-20",
                                "tags": ["常客"], "preferences": {"咖啡": "热"},
                                "consents": [{"channel": "sms", "granted": True}]}, token=chain.till).json["id"]
    b = api.post("/customers", {"name": "陈静", "birthday": "1992-05-20", "email": "chen@example.cn", "tags": ["会员"],
                                "hobbies": ["瑜伽"], "preferences": {"咖啡": "冰", "尺码": "S"}},
                 token=chain.till).json["id"]
    assert api.post("/sales", {"customer": {"id": a}, "lines": [{"sku": "LATTE-M", "quantity": 1}]},
                    token=chain.till).status_code == 201
    assert api.post("/sales", {"customer": {"id": b}, "lines": [{"sku": "CAKE-CHOC", "quantity": 1}]},
                    token=chain.till).status_code == 201
    assert api.post("/visits", {"customer": {"id": b}, "purpose": "试衣"}, token=chain.till).status_code == 201
    return a, b


def test_duplicates_are_found_and_merged_with_everything_moving(make_app):
    recorder = MergeRecorder()
    # Installed but switched on nowhere: a plugin holding a person's data must still merge it.
    app = make_app(plugins=[Manifest(name="merge_recorder", version="1.0", summary="records", hooks=recorder)])
    chain = build_chain(app)
    api = Api(app.test_client())
    a, b = _two_profiles(api, chain)
    dupes = api.get("/customers/duplicates", token=chain.manager_token)
    assert dupes.status_code == 200 and dupes.json == [{"ids": [a, b], "reasons": ["same name and birthday"]}]
    assert api.post(f"/customers/{a}/merge", {"merge_id": b}, token=chain.staff_token).status_code == 403
    res = api.post(f"/customers/{a}/merge", {"merge_id": b}, token=chain.manager_token)
    assert res.status_code == 200, res.json
    assert res.json["moved"]["sale"] == 1 and res.json["moved"]["visit"] == 1
    kept = res.json["kept"]
    assert kept["email"] == "chen@example.cn" and kept["phone"] == "+8613800001234" and kept["code"] == "VIP9"
    assert kept["tags"] == ["会员", "常客"] and kept["hobbies"] == ["瑜伽"]
    assert kept["preferences"] == {"咖啡": "热", "尺码": "S"}  # the kept profile's own answer wins
    assert recorder.calls == [(a, b)]
    assert api.get(f"/customers/{b}", token=chain.manager_token).status_code == 404
    with app.app_context():
        assert db.session.get(Customer, b) is None
        assert {s.customer_id for s in db.session.scalars(select(Sale))} == {a}
        assert db.session.scalars(select(Visit.customer_id)).all() == [a]
        assert db.session.scalars(select(Consent.customer_id)).all() == [a]
        log = db.session.scalars(select(AuditLog).where(AuditLog.action == "customer_merge")).one()
        assert log.target_id == str(a) and log.details["merged"]["id"] == b and log.actor == "manager"
        assert db.session.scalars(select(Activity.title).where(Activity.customer_id == a, Activity.kind == "merge")
                                  ).all() == [f"merged with profile #{b} 陈静"]
    cls = api.get(f"/customers/{a}/classification", token=chain.manager_token).json
    assert cls["chain"]["purchases"] == 2 and cls["chain"]["amount"] == "63.00"
    assert api.get("/customers/duplicates", token=chain.manager_token).json == []


def test_a_profile_cannot_be_merged_into_itself_or_across_stores(app, chain, api):
    a, _ = _two_profiles(api, chain)
    bj = api.post("/customers", {"name": "北京客"}, token=chain.till_bj).json["id"]
    assert api.post(f"/customers/{a}/merge", {"merge_id": a}, token=chain.manager_token).status_code == 400
    assert api.post(f"/customers/{a}/merge", {"merge_id": bj}, token=chain.manager_token).status_code == 404


def test_cli_lists_and_merges(app, chain, api):
    a, b = _two_profiles(api, chain)
    runner = app.test_cli_runner()
    listed = runner.invoke(cli, ["customers", "duplicates"], catch_exceptions=False)
    assert "same name and birthday" in listed.output and "1 likely duplicate pairs" in listed.output
    merged = runner.invoke(cli, ["customers", "merge", str(a), str(b), "--yes"], catch_exceptions=False)
    assert merged.exit_code == 0 and f"merged #{b} into #{a}" in merged.output and "1 sale" in merged.output
    with app.app_context():
        assert db.session.get(Customer, b) is None
