"""The classification as API users see it: reasons in numbers, filters, settings, access."""

from __future__ import annotations

from core.extensions import db
from tests.classification.helpers import bulk_sale, buy, customer, recompute


def _key_customer(app):
    """One key customer (14 purchases, top spender of SH001) among ten buyers."""
    with app.app_context():
        vip = customer("王大客")
        for i in range(14):
            buy(vip, 380, days_ago=3 + 7 * i)
        others = [customer(f"客人{i}") for i in range(9)]
        for i, who in enumerate(others):
            bulk_sale(who, 50 + i, days_ago=20)
        db.session.commit()
        recompute()
        return vip.id, others[0].id


def test_classification_endpoint_says_why_in_numbers(app, chain, api):
    vip, small = _key_customer(app)
    res = api.get(f"/customers/{vip}/classification?store=SH001", token=chain.manager_token)
    assert res.status_code == 200, res.json
    sh = res.json["stores"][0]
    assert (sh["store"], sh["final_class"], sh["amount_class"], sh["frequency_class"]) == ("SH001", "key", "high", "frequent")
    assert sh["amount"] == "5320.00" and sh["purchases"] == 14 and sh["rank"] == 1 and sh["buyers"] == 10
    assert sh["summary"] == ("¥5,320.00 in the last 365 days, top 20% of this store; "
                             "14 purchases in the last 365 days: frequent → key customer")
    assert "rank 1 of 10 buying customers" in sh["reasons"]["amount_class"]
    assert "top 20% = the first 2" in sh["reasons"]["amount_class"]
    assert "frequent from 12" in sh["reasons"]["frequency_class"]
    assert "days since the last purchase" in sh["reasons"]["lifecycle"]
    assert sh["thresholds"]["frequent_min"] == 12
    assert res.json["chain"]["final_class"] == "key"
    zh = api.get(f"/customers/{vip}/classification?store=SH001&lang=zh", token=chain.manager_token).json
    assert zh["stores"][0]["summary"].startswith("近365天消费¥5,320.00") and "大客户" in zh["stores"][0]["summary"]


def test_a_customer_who_never_bought_is_a_prospect(app, chain, api):
    created = api.post("/customers", {"name": "新人", "phone": "13900001111"}, token=chain.till)
    res = api.get(f"/customers/{created.json['id']}/classification", token=chain.till)
    assert res.status_code == 200
    assert res.json["stores"][0]["final_class"] == "prospect"
    assert res.json["stores"][0]["lifecycle"] == "prospect"
    assert res.json["chain"]["rfm_segment"] == "prospects"


def test_another_stores_staff_cannot_read_the_classification(app, chain, api):
    vip, _ = _key_customer(app)
    assert api.get(f"/customers/{vip}/classification", token=chain.staff_bj_token).status_code == 404
    assert api.get(f"/customers/{vip}/classification", token=chain.till_bj).status_code == 404
    assert api.get(f"/customers/{vip}/classification?store=BJ001", token=chain.staff_token).status_code == 403


def test_customers_filter_by_every_class(app, chain, api):
    vip, small = _key_customer(app)
    prospect = api.post("/customers", {"name": "未消费", "phone": "13900002222"}, token=chain.till).json["id"]

    def ids(query):
        res = api.get(f"/customers?{query}", token=chain.manager_token)
        assert res.status_code == 200, res.json
        return {c["id"] for c in res.json["items"]}

    assert ids("final_class=key") == {vip}
    high = ids("amount_class=high")
    assert vip in high and len(high) == 2  # ten buyers: the top 20% are two
    assert vip in ids("frequency_class=frequent") and small not in ids("frequency_class=frequent")
    assert small in ids("final_class=occasional")
    assert ids("final_class=prospect") == {prospect}
    assert prospect in ids("rfm_segment=prospects") and vip not in ids("rfm_segment=prospects")
    assert vip in ids("lifecycle=active")
    bad = api.get("/customers?final_class=vip", token=chain.manager_token)
    assert bad.status_code == 400 and "final_class" in bad.json["error"]["fields"]


def test_settings_are_validated_and_change_the_classes(app, chain, api):
    vip, _ = _key_customer(app)
    bad = api.put("/classification/settings?store=SH001", {"frequent_min": 2, "occasional_min": 3},
                  token=chain.manager_token)
    assert bad.status_code == 400 and "occasional_min" in bad.json["error"]["fields"]
    bad = api.put("/classification/settings?store=SH001", {"amount_mode": "absolute"}, token=chain.manager_token)
    assert bad.status_code == 400 and "high_min_amount" in bad.json["error"]["fields"]
    assert api.put("/classification/settings", {"window_days": 30}, token=chain.manager_token).status_code == 403
    ok = api.put("/classification/settings?store=SH001", {"frequent_min": 20}, token=chain.manager_token)
    assert ok.status_code == 200 and ok.json["effective"]["frequent_min"] == 20 and ok.json["stored"] == {"frequent_min": 20}
    assert api.post("/classification/recompute", token=chain.manager_token).status_code == 200
    res = api.get(f"/customers/{vip}/classification?store=SH001", token=chain.manager_token).json["stores"][0]
    assert res["frequency_class"] == "occasional" and res["final_class"] == "potential"
    assert "frequent from 20" in res["reasons"]["frequency_class"]
