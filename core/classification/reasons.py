"""Every class with its reason in numbers (domain.md): what a person reads on the customer
page and in `GET /customers/{id}/classification`, and can check by hand."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal

from sqlalchemy import and_, case, func, select

from core.classification.models import CHAIN_SCOPE, ClassificationCut, ClassificationRun, CustomerClass
from core.classification.rules import SEGMENT_LABELS, final_label, label, lifecycle_label
from core.classification.compute import scope_timezone
from core.classification.settings import settings_for
from core.models import Product, Sale, SaleLine, Store, utcnow

_T = {
    "en": {
        "spend": "{amount} in the last {days} days",
        "rank": "rank {rank} of {buyers} buying customers of {where}",
        "top": "top {pct}% = the first {count}",
        "cuts": "high from {high}, medium from {medium} (this store's cuts of {when}, {source})",
        "full": "last full recompute", "on_demand": "first computed then",
        "absolute": "high from {high}, medium from {medium}",
        "no_spend": "no purchase in the last {days} days",
        "purchases": "{n} purchases in the last {days} days",
        "freq_rule": "frequent from {frequent}, occasional from {occasional}",
        "this_store": "this store", "the_chain": "the chain",
        "since": "{days} days since the last purchase",
        "first": "first purchase {days} days ago",
        "gap": "usually every {gap} days",
        "life_rule": "at risk after {at_risk} days or {factor}× the usual gap, churned after {churned} days, new for {new} days",
        "life_pct": "this store's purchase gaps: at risk beyond {at_risk} days ({p1}th percentile), churned beyond {churned} days ({p2}th)",
        "rfm": "R{r} F{f} M{m} among {pop} customers who bought in the last {days} days ({method})",
        "rfm_none": "no purchase in the last {days} days: R1 F1 M1",
        "bands": "recency in fixed bands, under {min} buyers", "quintiles": "quintiles, equal values scoring alike",
        "prospect": "no purchase yet",
    },
    "zh": {
        "spend": "近{days}天消费{amount}",
        "rank": "在{where}{buyers}位消费客户中排第{rank}",
        "top": "前{pct}% = 前{count}位",
        "cuts": "高消费≥{high}，中消费≥{medium}（{when}{source}的分界）",
        "full": "上次全量重算", "on_demand": "首次计算",
        "absolute": "高消费≥{high}，中消费≥{medium}",
        "no_spend": "近{days}天无消费",
        "purchases": "近{days}天消费{n}次",
        "freq_rule": "频繁≥{frequent}次，偶尔≥{occasional}次",
        "this_store": "本店", "the_chain": "全连锁",
        "since": "距上次消费{days}天",
        "first": "首次消费于{days}天前",
        "gap": "平均每{gap}天消费一次",
        "life_rule": "超过{at_risk}天或平均间隔的{factor}倍未消费为流失风险，超过{churned}天为已流失，首购{new}天内为新客户",
        "life_pct": "本店消费间隔：超过{at_risk}天（第{p1}百分位）为流失风险，超过{churned}天（第{p2}百分位）为已流失",
        "rfm": "R{r} F{f} M{m}，近{days}天共{pop}位消费客户（{method}）",
        "rfm_none": "近{days}天无消费：R1 F1 M1",
        "bands": "消费客户少于{min}位，R按固定区间", "quintiles": "按排名五等分，数值相同得分相同",
        "prospect": "尚未消费",
    },
}


def yuan(amount: Decimal, currency: str = "CNY") -> str:
    sign = "¥" if currency == "CNY" else f"{currency} "
    return f"{sign}{amount:,.2f}"


def _ceil_share(pct: int, n: int) -> int:
    return -(-pct * n // 100)


def live_numbers(session, row: CustomerClass) -> dict:
    """What is counted when shown rather than stored: the spend rank among the scope's buying
    customers, how many there are, and the days since the last purchase as of when the classes
    were computed (the later of the row's own update and the scope's last full run)."""
    cc = CustomerClass
    better, buyers, population = session.execute(
        select(func.coalesce(func.sum(case((and_(cc.purchases > 0, cc.amount > row.amount), 1), else_=0)), 0),
               func.coalesce(func.sum(case((cc.purchases > 0, 1), else_=0)), 0), func.count())
        .where(cc.scope_id == row.scope_id)).one()
    run = session.get(ClassificationRun, row.scope_id)
    as_of = max(row.computed_at, run.computed_at) if run is not None else row.computed_at
    # Local calendar days, as the classification counts them (compute.local_day_bounds).
    tz = ZoneInfo(scope_timezone(session, row.scope_id, settings_for(session, row.scope_id)))
    days = (as_of.astimezone(tz).date() - row.last_purchase_at.astimezone(tz).date()).days
    return {"rank": better + 1 if row.purchases > 0 else None, "buyers": buyers, "population": population,
            "days_since_last": days, "as_of": as_of, "timezone": tz.key}


def local_time(moment, timezone: str) -> str:
    """`2026-11-30 02:15 Asia/Shanghai`: a stored UTC time in a scope's zone, named."""
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} {timezone}"


def explain_scope(session, customer_id: int, scope_id: int, lang: str = "en") -> dict:
    """One scope's classes with numbers, thresholds and a reason sentence per class."""
    t = _T["zh" if lang.startswith("zh") else "en"]
    s = settings_for(session, scope_id)
    store = session.get(Store, scope_id) if scope_id != CHAIN_SCOPE else None
    where = t["this_store"] if store else t["the_chain"]
    row = session.get(CustomerClass, (customer_id, scope_id))
    out = {"scope": store.code if store else "chain", "store": store.code if store else None,
           "window_days": s["window_days"]}
    thresholds = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in s.items()}
    out["thresholds"] = thresholds
    if row is None:
        reason = t["prospect"]
        out.update(final_class="prospect", lifecycle="prospect", rfm_segment="prospects", amount_class=None,
                   frequency_class=None, amount="0.00", purchases=0, rank=None, buyers=None, days_since_last=None,
                   usual_gap_days=None, r_score=None, f_score=None, m_score=None, computed_at=None,
                   first_purchase_at=None, last_purchase_at=None,
                   reasons={"final_class": reason, "lifecycle": reason, "rfm_segment": reason},
                   summary=f"{reason} → {final_label('prospect', lang)}")
        return out
    days = s["window_days"]
    currency = store.currency if store else "CNY"
    live = live_numbers(session, row)
    if row.purchases == 0:
        amount_reason = t["no_spend"].format(days=days)
    else:
        amount_reason = t["spend"].format(amount=yuan(row.amount, currency), days=days)
        if s["amount_mode"] == "absolute":
            amount_reason += "; " + t["absolute"].format(high=yuan(s["high_min_amount"], currency),
                                                         medium=yuan(s["medium_min_amount"], currency))
        else:
            amount_reason += ", " + t["rank"].format(rank=live["rank"], buyers=live["buyers"], where=where)
            amount_reason += "; " + t["top"].format(pct=s["high_percent"],
                                                    count=_ceil_share(s["high_percent"], live["buyers"]))
            # A sale classifies its buyer against the cuts stored by the last full recompute,
            # so the live rank above can differ from them until the nightly run: say which.
            cut = session.get(ClassificationCut, scope_id)
            if cut is not None and cut.high_amount is not None:
                when = local_time(cut.computed_at, live["timezone"])
                amount_reason += "; " + t["cuts"].format(
                    high=yuan(cut.high_amount, currency),
                    medium=yuan(cut.medium_amount if cut.medium_amount is not None else cut.high_amount, currency),
                    when=when, source=t.get(cut.source, cut.source))
    amount_reason += f" → {label(row.amount_class, lang)}"
    freq_reason = (t["purchases"].format(n=row.purchases, days=days) + "; "
                   + t["freq_rule"].format(frequent=s["frequent_min"], occasional=s["occasional_min"])
                   + f" → {label(row.frequency_class, lang)}")
    final_reason = f"{label(row.amount_class, lang)} + {label(row.frequency_class, lang)} → {final_label(row.final_class, lang)}"
    life_parts = [t["since"].format(days=live["days_since_last"])]
    gap = round(row.usual_gap_days, 1) if row.usual_gap_days is not None else None
    if gap is not None:
        life_parts.append(t["gap"].format(gap=gap))
    tz = ZoneInfo(live["timezone"])
    first_days = (live["as_of"].astimezone(tz).date() - row.first_purchase_at.astimezone(tz).date()).days
    life_parts.append(t["first"].format(days=first_days))
    run = session.get(ClassificationRun, scope_id)
    if s["lifecycle_mode"] == "percentile" and run is not None and run.at_risk_gap_days is not None:
        life_parts.append(t["life_pct"].format(at_risk=run.at_risk_gap_days, churned=run.churned_gap_days,
                                               p1=s["at_risk_percentile"], p2=s["churned_percentile"]))
    else:
        life_parts.append(t["life_rule"].format(at_risk=s["at_risk_days"], factor=f"{s['gap_factor']:g}",
                                                churned=s["churned_days"], new=s["new_days"]))
    life_reason = "; ".join(life_parts) + f" → {lifecycle_label(row.lifecycle, lang)}"
    method = (t["bands"].format(min=s["rfm_min_population"]) if live["buyers"] < s["rfm_min_population"]
              else t["quintiles"])
    seg_en, seg_zh = SEGMENT_LABELS[row.rfm_segment]
    rfm_reason = ((t["rfm"].format(r=row.r_score, f=row.f_score, m=row.m_score, pop=live["buyers"], days=days,
                                   method=method) if row.purchases else t["rfm_none"].format(days=days))
                  + f" → {seg_zh if lang.startswith('zh') else seg_en}")
    short_amount = amount_reason.split(" → ")[0].split("; ")[0]
    if row.purchases and s["amount_mode"] != "absolute":
        short_amount = (t["spend"].format(amount=yuan(row.amount, currency), days=days)
                        + (f", top {s['high_percent']}% of {where}" if row.amount_class == "high" and not lang.startswith("zh")
                           else (f"，{where}前{s['high_percent']}%" if row.amount_class == "high" else "")))
    summary = (f"{short_amount}; {t['purchases'].format(n=row.purchases, days=days)}: "
               f"{label(row.frequency_class, lang)} → {final_label(row.final_class, lang)}")
    out.update(
        amount_class=row.amount_class, frequency_class=row.frequency_class, final_class=row.final_class,
        lifecycle=row.lifecycle, rfm_segment=row.rfm_segment, amount=f"{row.amount:.2f}", purchases=row.purchases,
        purchases_ever=row.purchases_ever, rank=live["rank"], buyers=live["buyers"], population=live["population"],
        days_since_last=live["days_since_last"], usual_gap_days=gap, r_score=row.r_score, f_score=row.f_score,
        m_score=row.m_score, first_purchase_at=row.first_purchase_at, last_purchase_at=row.last_purchase_at,
        computed_at=live["as_of"],
        reasons={"amount_class": amount_reason, "frequency_class": freq_reason, "final_class": final_reason,
                 "lifecycle": life_reason, "rfm_segment": rfm_reason},
        summary=summary,
    )
    return out


def interests(session, customer, store_ids: list[int] | None = None, limit: int = 5, days: int = 365) -> dict:
    """Top categories and brands bought (net of refunded units) plus declared hobbies."""
    since = utcnow() - timedelta(days=days)
    conds = [Sale.customer_id == customer.id, Sale.occurred_at >= since, Sale.status != "refunded"]
    if store_ids is not None:
        conds.append(Sale.store_id.in_(store_ids))
    net_qty = SaleLine.quantity - SaleLine.refunded_quantity
    out = {"hobbies": list(customer.hobbies or []), "window_days": days}
    for key, column in (("categories", Product.category), ("brands", Product.brand)):
        rows = session.execute(
            select(column, func.sum(net_qty).label("qty"), func.count(func.distinct(Sale.id)).label("sales"))
            .select_from(SaleLine).join(Sale, Sale.id == SaleLine.sale_id).join(Product, Product.id == SaleLine.product_id)
            .where(*conds, column.is_not(None), net_qty > 0)
            .group_by(column).order_by(func.count(func.distinct(Sale.id)).desc(), func.sum(net_qty).desc(), column)
            .limit(limit)
        ).all()
        out[key] = [{"name": r[0], "quantity": float(r[1]), "purchases": r[2]} for r in rows]
    return out
