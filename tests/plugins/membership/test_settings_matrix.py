"""Every per-store membership setting × every path a sale takes (issue 21): a setting switched
off has no effect anywhere — not in the quote, the sale, the offline batch, an import with
events, nor a refund — and switched on (the control) it visibly acts on each of them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.cli import cli
from tests.conftest import Api

SETTINGS = ("redemption_enabled", "birthday_discount_enabled", "birthday_points_enabled", "member_days_enabled",
            "member_price_enabled")
CART = [{"sku": "LATTE-M", "quantity": 2}]  # ¥56 at list price: full-price goods
# What each setting lets through when on: an adjustment code, or the bonus behind the points.
SIGNATURE = {"redemption_enabled": ("adjustment", "points"), "birthday_discount_enabled": ("adjustment", "birthday"),
             "birthday_points_enabled": ("bonus", "birthday"), "member_days_enabled": ("both", "member_day"),
             "member_price_enabled": ("adjustment", "member_price")}


def _bonus(app, sale_id: int) -> list[str]:
    from core.extensions import db
    from plugins.membership.models import PointsEntry

    with app.app_context():
        entry = db.session.scalars(select(PointsEntry).where(PointsEntry.source_key == f"earn:sale:{sale_id}")).one()
        return [b.split(":")[0] for b in entry.data.get("bonus", [])]


def _codes(sale_or_quote: dict) -> list[str]:
    return [a["code"] for a in sale_or_quote["adjustments"]]


def test_each_setting_off_has_no_effect_on_any_path_and_on_it_acts(shop, tmp_path):
    app, till = shop.app, shop.till
    owner = Api(app.test_client(), token=shop.chain.owner_token)
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert owner.post("/membership/member-days", {"store": "SH001", "name": "会员日", "weekday": today.weekday(),
                                                  "discount_percent": "10", "points_multiplier": "3"}).status_code == 201
    ordinary = next(t for t in owner.get("/membership/tiers?store=SH001").json if t["code"] == "ordinary")
    r = owner.patch(f"/membership/tiers/{ordinary['id']}", {"store": "SH001", "full_price_discount_percent": "5"})
    assert r.status_code == 200, r.json
    phone = "13900139777"
    cid = till.customer(phone, birthday=f"--{today.month:02d}-{today.day:02d}")
    till.sell(cid, "1000.00")  # a member, with points to spend
    n = iter(range(1000))

    def observe(setting: str) -> dict[str, tuple[list[str], list[str]]]:
        """(adjustment codes, points bonus) per path, with only `setting` possibly on."""
        options = {"redeem_points": 100} if setting == "redemption_enabled" else {}
        seen = {}
        r = till.api.post("/sales/quote", {"customer": {"id": cid}, "lines": CART, "options": options}, token=till.token)
        seen["quote"] = (_codes(r.json), []) if r.status_code == 200 else ([f"refused {r.status_code}"], [])
        r = till.api.post("/sales", {"external_id": f"m-{next(n)}", "customer": {"id": cid}, "lines": CART,
                                     "options": options}, token=till.token)
        seen["sale"] = ((_codes(r.json), _bonus(app, r.json["id"])) if r.status_code == 201
                        else ([f"refused {r.status_code}"], []))
        r = till.api.post("/sales/batch", {"sales": [{"external_id": f"m-{next(n)}", "customer": {"id": cid},
                                                      "lines": CART, "options": options}]}, token=till.token)
        result = r.json["results"][0]
        if result["status"] == 201:
            sale = till.api.get(f"/sales/{result['id']}", token=till.token).json
            seen["batch"] = (_codes(sale), _bonus(app, sale["id"]))
        else:
            seen["batch"] = ([f"refused {result['status']}"], [])
        receipt = f"I{next(n)}"
        path = tmp_path / f"{receipt}.csv"
        path.write_text(f"store,receipt,date,phone,amount\nSH001,{receipt},{today:%Y-%m-%d %H:%M},{phone},20\n",
                        encoding="utf-8")
        out = app.test_cli_runner().invoke(cli, ["import", "sales", str(path), "--with-events"], catch_exceptions=False)
        assert "1 created" in out.output, out.output
        seen["import"] = ([], _bonus(app, _last_sale(app, receipt)))
        return seen

    for setting in SETTINGS:
        kind, code = SIGNATURE[setting]
        for on in (True, False):
            values = {name: (on and name == setting) for name in SETTINGS}
            r = owner.put("/stores/SH001/plugins/membership/settings", values)
            assert r.status_code == 200, r.json
            seen = observe(setting)
            found = {path: code in codes or code in bonus for path, (codes, bonus) in seen.items()}
            if not on:
                assert not any(found.values()), (setting, seen)
                if setting == "redemption_enabled":  # asking for points where none are taken is refused
                    assert [seen[p][0] for p in ("quote", "sale", "batch")] == [["refused 422"]] * 3, seen
                continue
            # the control: on, it acts on every path that can carry it
            paths = {"adjustment": ("quote", "sale", "batch"), "bonus": ("sale", "batch", "import"),
                     "both": ("quote", "sale", "batch", "import")}[kind]
            if setting == "birthday_discount_enabled":  # once per birthday: the sale used it, the batch cannot
                paths = ("quote", "sale")
                assert not found["batch"], seen
            assert all(found[p] for p in paths), (setting, seen)


def _last_sale(app, receipt: str) -> int:
    from core.extensions import db
    from core.models import Sale

    with app.app_context():
        return db.session.scalars(select(Sale.id).where(Sale.external_id == receipt)).one()


def test_a_refund_takes_back_what_the_sale_earned_whatever_the_settings_are_now(shop):
    """Switching member days off after a member-day sale neither keeps nor over-takes its points."""
    till = shop.till
    owner = Api(shop.app.test_client(), token=shop.chain.owner_token)
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    owner.post("/membership/member-days", {"store": "SH001", "name": "会员日", "weekday": today.weekday(),
                                           "points_multiplier": "3"})
    cid = till.customer("13900139778")
    till.sell(cid, "1000.00")  # 3,000 points (a member day)
    sale = till.sell(cid, "100.00")
    assert sale["effects"]["membership"]["points_earned"] == 300
    owner.put("/stores/SH001/plugins/membership/settings", {"member_days_enabled": False})
    assert till.sell(cid, "100.00")["effects"]["membership"]["points_earned"] == 100  # the issue's ¥100 Monday sale
    r = till.refund(sale["id"])
    assert r["effects"]["membership"]["points_reversed"] == 300
    assert till.member(cid)["points_balance"] == 3000 + 100
