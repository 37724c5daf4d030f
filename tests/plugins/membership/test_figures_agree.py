"""Each dashboard figure equals what the list behind it shows, for the owner (the chain) and for a
single-store manager (their store only): members, points liability and customers."""

from __future__ import annotations

import csv
import io
import re

from tests.conftest import enable
from tests.plugins.membership.conftest import Till, allow_sales_dated_ahead


def login(app, username: str):
    client = app.test_client()
    r = client.post("/admin/login", data={"username": username, "password": "correct horse battery"})
    assert r.status_code in (302, 303), r.data[:300]
    return client


def tile(page: str, title: str) -> str:
    found = re.search(r'tile-title">' + re.escape(title) + r'</div>\s*<div class="tile-value">(?:<a [^>]*>)?([^<]+)',
                      page)
    assert found, f"no tile {title!r}"
    return found.group(1).strip()


def exported(client, url: str) -> list[dict]:
    r = client.get(url)
    assert r.status_code == 200, r.data[:500]
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))


def test_dashboard_figures_agree_with_their_lists(shop):
    app = shop.app
    enable(app, "BJ001", "membership")
    allow_sales_dated_ahead(app, "BJ001", days=1)
    till_bj = Till(shop.api, shop.chain.till_bj)
    member_sh = shop.till.customer("13600137001", name="上海会员")
    shop.till.sell(member_sh, "1500.00")  # reaches the first tier (¥1000): a member
    spender_sh = shop.till.customer("13600137002", name="上海顾客")
    shop.till.sell(spender_sh, "200.00")  # counts spend, no tier: not a member yet
    shop.till.customer("13600137003", name="上海新客")  # no purchase at all
    member_bj = till_bj.customer("13600137004", name="北京会员")
    till_bj.sell(member_bj, "3500.00")

    expected = {"owner": {"上海会员", "北京会员"}, "manager": {"上海会员"}}
    for username, names in expected.items():
        client = login(app, username)
        assert client.post("/admin/language", data={"locale": "zh_CN"}).status_code in (302, 303)
        dashboard = client.get("/admin/").get_data(as_text=True)
        members = exported(client, "/admin/membership/members/export/csv")
        assert {row["客户"] for row in members} == names, username
        assert int(tile(dashboard, "会员").replace(",", "")) == len(members), username
        points = sum(int(row["积分"]) for row in members)
        assert tile(dashboard, "积分负债") == f"¥{points / 100:,.2f}", username
        assert f"{points:,} 积分未兑换" in dashboard or f"{points:,}" in dashboard
        customers = exported(client, "/admin/customers/export/csv")
        assert int(tile(dashboard, "客户").replace(",", "")) == len(customers), username
        # the list on screen says the same: every member, and no customer without a tier
        listed = client.get("/admin/membership/members/").get_data(as_text=True)
        assert all(name in listed for name in names) and "上海顾客" not in listed
