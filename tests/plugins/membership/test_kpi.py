"""Membership's "new members signed up" reaches staff_kpi's report through `kpi_metrics`
(neither plugin imports the other), on data small enough to count by hand."""

from __future__ import annotations

from datetime import datetime

from flask_babel import force_locale

from tests.conftest import Api, enable
from tests.plugins.staff_kpi.conftest import SHANGHAI, Till, rows_by_user

METRIC = "membership.new_members"


def report(api, token, **params):
    query = "&".join(f"{k}={v}" for k, v in {"store": "SH001", **params}.items())
    r = api.get(f"/staff_kpi/report?{query}", token=token)
    assert r.status_code == 200, r.json
    return r.json


def test_new_members_are_credited_to_the_salesperson_of_the_crossing_sale_or_the_enroller(app, chain):
    enable(app, "SH001", "membership", "staff_kpi")
    api = Api(app.test_client())
    till = Till(api, chain.till)
    a, b, c, d, e = (till.customer(f"1370000000{i}") for i in range(1, 6))
    # The first tier (ordinary) is reached at ¥1,000 of spend.
    till.sell("alice", "2026-10-05 10:00", [("BEANS-1KG", 1, "1200.00")], a)  # A: member through alice
    till.sell("alice", "2026-10-08 10:00", [("BEANS-1KG", 2, "1200.00")], a)  # an upgrade, not a new member
    till.sell("alice", "2026-10-06 10:00", [("LATTE-M", 1, "28.00")], b)  # B: ¥28, not a member yet
    till.sell("manager", "2026-10-07 12:00", [("BEANS-1KG", 1, "1200.00")], b)  # B crosses with the manager
    till.sell("alice", "2026-10-31 23:30", [("BEANS-1KG", 1, "1200.00")], c)  # C: October, local time
    till.sell("alice", "2026-11-01 00:10", [("BEANS-1KG", 1, "1200.00")], d)  # D: November, local time
    till.sell(None, "2026-10-12 10:00", [("BEANS-1KG", 1, "1200.00")], e)  # E: no salesperson: nobody's
    # F: enrolled by hand by the manager today (no purchase).
    f = till.customer("13700000006")
    r = api.post(f"/membership/members/{f}/enrol", {"store": "SH001"}, token=chain.manager_token)
    assert r.status_code == 200, r.json

    october = report(api, chain.manager_token, period="month", **{"from": "2026-10-01"})
    people = rows_by_user(october)
    assert people["alice"]["metrics"][METRIC] == "2"  # A and C
    assert people["manager"]["metrics"][METRIC] == "1"  # B
    definition = next(d for d in october["metric_definitions"] if d["name"] == METRIC)
    assert (definition["format"], definition["higher_is_better"]) == ("count", True)

    today = datetime.now(SHANGHAI).date().isoformat()
    since = report(api, chain.manager_token, period="custom", **{"from": "2026-10-01", "to": today})
    people = rows_by_user(since)
    assert people["alice"]["metrics"][METRIC] == "3"  # A, C and D
    assert people["manager"]["metrics"][METRIC] == "2"  # B and F (by hand)
    # A salesperson sees only their own figure.
    mine = report(api, chain.staff_token, period="month", **{"from": "2026-10-01"})
    assert [(r["username"], r["metrics"][METRIC]) for r in mine["rows"]] == [("alice", "2")]


def test_the_metric_is_labelled_in_chinese_and_english(app):
    reg = app.extensions["storecrm.plugins"]
    [definitions] = reg.caller_for("kpi_metric_definitions", "membership")()
    [label] = [d["label"] for d in definitions if d["name"] == METRIC]
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert str(label) == "新入会会员"
        with force_locale("en"):
            assert str(label) == "New members signed up"
