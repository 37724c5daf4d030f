"""The classification of real purchases, checked against an independent computation of
domain.md's rules in pandas: the CDNOW sample (6,919 purchases of 2,357 customers; see
tests/data/README.md), imported through the CLI as a store would, recomputed, compared for
every customer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select

from core.cli import cli
from core.extensions import db
from tests.data import CDNOW_SAMPLE

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEGMENTS = [  # domain.md's RFM rule table, in order
    ("champions", (5, 5), (5, 5), (5, 5)), ("potential_loyalist", (3, 5), (3, 5), (2, 5)),
    ("loyal", (2, 4), (2, 4), (2, 4)), ("promising", (3, 4), (1, 3), (3, 5)), ("new", (4, 5), (1, 3), (1, 5)),
    ("cant_lose_them", (1, 2), (3, 4), (4, 5)), ("at_risk", (1, 2), (2, 5), (4, 5)),
    ("need_attention", (1, 3), (3, 5), (3, 5)), ("about_to_sleep", (2, 3), (1, 3), (1, 4)),
    ("lost", (1, 1), (1, 5), (1, 5)),
]


def purchases(today: date) -> pd.DataFrame:
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, names=["orig", "cid", "day", "qty", "amount"],
                      dtype={"day": str})
    raw["day"] = pd.to_datetime(raw["day"], format="%Y%m%d").dt.date
    shift = (today - timedelta(days=1)) - raw["day"].max()  # the data's last day is yesterday
    raw["day"] = raw["day"] + shift
    raw["cents"] = (raw["amount"] * 100).round().astype(int)
    raw["code"] = raw["cid"].map(lambda i: f"CD{i:05d}")
    return raw


def reference(sales: pd.DataFrame, today: date) -> pd.DataFrame:
    """domain.md, computed directly: window = the 365 local dates ending today."""
    start = today - timedelta(days=364)
    sales = sales.assign(in_window=sales["day"] >= start)
    g = sales.groupby("code")
    out = pd.DataFrame({
        "first": g["day"].min(), "last": g["day"].max(), "ever": g.size(),
        "f": g["in_window"].sum(), "m": sales[sales["in_window"]].groupby("code")["cents"].sum(),
    }).fillna({"m": 0})
    out["m"] = out["m"].astype(int)
    out["recency"] = out["last"].map(lambda d: (today - d).days)
    out["first_days"] = out["first"].map(lambda d: (today - d).days)
    span = out.apply(lambda r: (r["last"] - r["first"]).days, axis=1)
    out["gap"] = (span / (out["ever"] - 1)).where(out["ever"] > 1)
    buyers = out[out["f"] > 0]
    n = len(buyers)
    rank = buyers["m"].rank(method="min", ascending=False)
    out["amount_class"] = "low"
    out.loc[rank[(rank - 1) * 100 < 50 * n].index, "amount_class"] = "medium"
    out.loc[rank[(rank - 1) * 100 < 20 * n].index, "amount_class"] = "high"
    out["frequency_class"] = ["frequent" if f >= 12 else "occasional" if f >= 3 else "rare" for f in out["f"]]
    final = {("frequent", True): "key", ("frequent", False): "loyal", ("occasional", True): "potential",
             ("rare", True): "potential", ("occasional", False): "regular", ("rare", False): "occasional"}
    out["final_class"] = [final[(fc, ac == "high")] for fc, ac in zip(out["frequency_class"], out["amount_class"])]

    def life(r):
        if r["recency"] >= 180:
            return "churned"
        if r["recency"] > 60 or (r["ever"] > 1 and r["recency"] > 2 * r["gap"]):
            return "at_risk"
        return "new" if r["first_days"] <= 90 else "active"

    out["lifecycle"] = out.apply(life, axis=1)

    def score(values: pd.Series, higher_is_better: bool) -> pd.Series:
        v = values if higher_is_better else -values
        worse = v.rank(method="min") - 1
        better = len(v) - v.rank(method="max")
        s = 1 + (5 * worse) // (worse + better).where(worse + better > 0, 1)
        s = s.where(better > 0, 5).where(worse + better > 0, 3)
        return s.astype(int)

    out["r"], out["f_s"], out["m_s"] = 1, 1, 1
    if n:
        if n < 500:  # small store: fixed recency bands
            out.loc[buyers.index, "r"] = [5 if d <= 60 else 4 if d <= 120 else 3 if d <= 240 else 2 if d <= 300 else 1
                                          for d in buyers["recency"]]
        else:
            out.loc[buyers.index, "r"] = score(buyers["recency"], higher_is_better=False)
        out.loc[buyers.index, "f_s"] = score(buyers["f"], higher_is_better=True)
        out.loc[buyers.index, "m_s"] = score(buyers["m"], higher_is_better=True)

    def segment(r):
        for name, rs, fs, ms in SEGMENTS:
            if rs[0] <= r["r"] <= rs[1] and fs[0] <= r["f_s"] <= fs[1] and ms[0] <= r["m_s"] <= ms[1]:
                return name
        return "others"

    out["rfm_segment"] = out.apply(segment, axis=1)
    return out


@pytest.mark.slow
def test_cdnow_classes_equal_an_independent_computation(app, chain, tmp_path):
    today = datetime.now(SHANGHAI).date()
    sales = purchases(today)
    customers = tmp_path / "customers.csv"
    customers.write_text("会员卡号,姓名\n" + "".join(f"{c},客户{c[2:]}\n" for c in sorted(sales["code"].unique())),
                         encoding="utf-8")
    sale_file = tmp_path / "sales.csv"
    sale_file.write_text("门店,单号,消费日期,会员卡号,金额\n" + "".join(
        f"SH001,R{i},{d:%Y-%m-%d} 12:00,{c},{cents // 100}.{cents % 100:02d}\n"
        for i, (d, c, cents) in enumerate(zip(sales["day"], sales["code"], sales["cents"]))), encoding="utf-8")
    runner = app.test_cli_runner()
    for kind, path in (("customers", customers), ("sales", sale_file)):
        result = runner.invoke(cli, ["import", kind, str(path), "--store", "SH001", "--batch-size", "1000"],
                               catch_exceptions=False)
        assert result.exit_code == 0 and " 0 rejected" in result.output, result.output

    expected = reference(sales, today)
    from core.classification.models import CustomerClass
    from core.models import Customer, Store

    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == "SH001"))
        rows = db.session.execute(
            select(Customer.code, CustomerClass).join(CustomerClass, CustomerClass.customer_id == Customer.id)
            .where(CustomerClass.scope_id == store_id)).all()
        got = {code: (c.purchases, int(round(c.amount * 100)), c.amount_class, c.frequency_class, c.final_class,
                      c.lifecycle, c.r_score, c.f_score, c.m_score, c.rfm_segment) for code, c in rows}
    want = {code: (int(r["f"]), int(r["m"]), r["amount_class"], r["frequency_class"], r["final_class"],
                   r["lifecycle"], int(r["r"]), int(r["f_s"]), int(r["m_s"]), r["rfm_segment"])
            for code, r in expected.iterrows()}
    assert len(got) == len(want) == 2357
    differ = {code: (got[code], want[code]) for code in want if got[code] != want[code]}
    assert not differ, f"{len(differ)} customers differ, e.g. {list(differ.items())[:5]}"
    # Real data spreads over the rule table, as in any RFM tool.
    segments = expected["rfm_segment"].value_counts()
    assert len(segments) >= 6, segments.to_dict()
