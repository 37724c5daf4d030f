"""Computing the classes of domain.md in set-based SQL, on SQLite and PostgreSQL.

One SELECT builds every customer's numbers and classes for a scope (a store, or the chain):
aggregate the counting sales per customer, derive recency and usual gap, rank with window
functions, then apply the rule tables. The nightly job runs it for whole scopes and stores each
scope's cut values (ClassificationCut); after a sale or refund the same rules run for one
customer (`core.classification.one_customer`), comparing their own numbers with those stored
cuts. Other customers move with the cuts at the next full run.

Rules pinned here (domain.md): only sales not wholly refunded count, at their net amount
(total - refunded); "top 20%" means the first ceil(20% of buyers) ranks, tied customers sharing
the best rank (ties at a cut go to the higher class).

RFM (domain.md, item 5): only customers who bought in the window are scored against each other.
On each of R, F and M a buyer's score is where their value stands between the other buyers':
1 + floor(5 * worse / (worse + better)), counting the buyers whose value is strictly worse
(longer since the last purchase; fewer purchases; less spent) or strictly better; the best
value scores 5 and, when every buyer has the same value, everyone scores 3. Equal values get
equal scores, the worst value scores 1 and the best 5 whenever there are two different values,
and with all values distinct these are exact quintiles. A customer who bought before but not in
the window scores R1 F1 M1, which the rule table names `lost`. The one-customer path after a
sale compares with the stored cuts (the k-th worst value, k = ceil((4 - i) * buyers / 5)).

Windows are calendar days of the scope's timezone (the store's; the chain's `chain_timezone`
setting): "the last 365 days" are the 365 local dates ending today, and recency counts local days
back from the end of today, so a run at 00:05, 02:15 or 23:55 gives the same classes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column, Float, MetaData, Table, and_, case, cast, delete, exists, func, insert, literal, or_, select, true, update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import BindParameter

from core.classification.models import CHAIN_SCOPE, ClassificationCut, ClassificationRun, CustomerClass
from core.classification.rules import FINAL_CLASSES, LIFECYCLES, RFM_SEGMENTS, change_title
from core.classification.settings import settings_for
from core.classification.sql import json_object, seconds_between, unindexed
from core.live_stores import live_store_ids
from core.models import Activity, Sale, Store, utcnow
from core.models.types import UTCDateTime

DAY = 86400
COLUMNS = [c.name for c in CustomerClass.__table__.columns]
_cut = ClassificationCut.__table__
BATCH_WORK_MEM = "64MB"  # PostgreSQL, per sort or hash of the full recompute


def _scopes(scope) -> list[int]:
    return list(scope) if isinstance(scope, (list, tuple)) else [scope]


def _counting_sales(scope, customer_id: int | None = None):
    """Sales that count: with a customer, not wholly refunded, in the scope (the chain, or
    one or more stores computed together)."""
    conds = [Sale.customer_id.is_not(None), Sale.status != "refunded"]
    if isinstance(scope, BindParameter):  # one store, bound when the statement runs
        return conds + [Sale.store_id == scope, _of_customers(customer_id)]
    scopes = _scopes(scope)
    if scopes == [CHAIN_SCOPE]:
        # The chain's cuts and percentiles count its live stores only (core/live_stores.py).
        store = Sale.store_id if customer_id is not None else unindexed(Sale.store_id)
        conds.append(store.in_(live_store_ids()))
    else:
        # Whole stores: a scan, not a walk of ix_sale_store_time (see `unindexed`).
        store = Sale.store_id if customer_id is not None else unindexed(Sale.store_id)
        conds.append(store == scopes[0] if len(scopes) == 1 else store.in_(scopes))
    if customer_id is not None:
        conds.append(_of_customers(customer_id))
    return conds


def _of_customers(customer_id):
    """One customer, or several: an expanding bound parameter (a delivery batch's buyers)."""
    if isinstance(customer_id, BindParameter) and customer_id.expanding:
        return Sale.customer_id.in_(customer_id)
    return Sale.customer_id == customer_id


def local_day_bounds(now: datetime, timezone: str, window_days: int) -> tuple[datetime, datetime]:
    """(window start, as of) in UTC for a run at `now`: the window is the `window_days` local
    dates ending today, and `as_of` the last second of today, from which recency counts back.
    Neither moves with the hour of the run."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    start = datetime.combine(today - timedelta(days=window_days - 1), dtime.min, tz)
    end = datetime.combine(today + timedelta(days=1), dtime.min, tz)
    return start.astimezone(UTC), (end - timedelta(seconds=1)).astimezone(UTC)


def with_clock(s: dict, timezone: str, now: datetime) -> dict:
    """Settings `s` with the scope's calendar for a run at `now`: `timezone`, `window_start`
    and `as_of` (see `local_day_bounds`)."""
    start, as_of = local_day_bounds(now, timezone, s["window_days"])
    return {**s, "timezone": timezone, "window_start": start, "as_of": as_of}


def scope_timezone(session, scope_id: int, s: dict) -> str:
    """The store's timezone, or the chain's setting for the chain."""
    if scope_id == CHAIN_SCOPE:
        return s["chain_timezone"]
    return session.scalar(select(Store.timezone).where(Store.id == scope_id)) or s["chain_timezone"]


def _derived(scope, settings: dict, now, customer_id: int | None = None):
    """Per customer and scope: first/last purchase, counts and net spend in the window,
    recency, usual gap. Several stores with the same settings are computed in one pass.
    `now` is the scope's `as_of` (the end of its local today), or a bound parameter."""
    bound = isinstance(now, BindParameter)
    window_start = settings["window_start"]
    in_window = Sale.occurred_at >= window_start
    # Whole scopes: SQLite must not walk ix_sale_customer_time row by row (see `unindexed`).
    key = Sale.customer_id if customer_id is not None else unindexed(Sale.customer_id)
    scopes = _scopes(scope)
    if isinstance(scope, BindParameter):
        scope_col = scope
    else:
        scope_col = literal(CHAIN_SCOPE) if scopes == [CHAIN_SCOPE] else unindexed(Sale.store_id)
    agg = (
        select(
            scope_col.label("scope_id"),
            key.label("customer_id"),
            func.min(Sale.occurred_at).label("first_purchase_at"),
            func.max(Sale.occurred_at).label("last_purchase_at"),
            func.count().label("purchases_ever"),
            func.sum(case((in_window, 1), else_=0)).label("purchases"),
            # ROUND: SQLite sums money as floats; equal spend must compare equal (ties).
            func.round(func.coalesce(func.sum(case((in_window, Sale.total - Sale.refunded_total), else_=0)), 0), 2)
            .label("amount"),
        )
        .where(*_counting_sales(scope if isinstance(scope, BindParameter) else scopes, customer_id))
        .group_by(*([key] if isinstance(scope, BindParameter) else [scope_col, key]))
        .subquery("agg")
    )
    now_param = now if bound else literal(now, UTCDateTime())
    return select(
        agg,
        (seconds_between(now_param, agg.c.last_purchase_at) // DAY).label("recency_days"),
        (seconds_between(now_param, agg.c.first_purchase_at) // DAY).label("first_days"),
        case((agg.c.purchases_ever > 1,
              cast(seconds_between(agg.c.last_purchase_at, agg.c.first_purchase_at), Float)
              / (float(DAY) * (agg.c.purchases_ever - 1))), else_=None).label("usual_gap_days"),
    ).subquery("derived")


def _ranked_full(derived):
    """Ranks within each scope with window functions (the nightly path). The spend rank among
    buying customers equals the M rank: whoever spent more in the window bought in it."""
    d = derived.c
    buyer = case((d.purchases > 0, 1), else_=0)
    m_rank = func.rank().over(partition_by=d.scope_id, order_by=d.amount.desc())
    # RFM compares window buyers only. Partitioned by (scope, bought in the window) and ordered
    # worst first, `rank - 1` counts the buyers strictly worse than this one and `count` (the
    # default frame runs to the last peer) those worse or equal: one sort per dimension.
    buyers_only = (d.scope_id, buyer)

    def worse_and_upto(order):
        return (func.rank().over(partition_by=buyers_only, order_by=order) - 1,
                func.count().over(partition_by=buyers_only, order_by=order))

    r_worse, r_upto = worse_and_upto(d.recency_days.desc())
    f_worse, f_upto = worse_and_upto(d.purchases.asc())
    m_worse, m_upto = worse_and_upto(d.amount.asc())
    return select(
        derived,
        case((d.purchases > 0, m_rank), else_=None).label("amount_rank"),
        func.sum(buyer).over(partition_by=d.scope_id).label("buyers"),
        func.count().over(partition_by=d.scope_id).label("population"),
        r_worse.label("r_worse"), r_upto.label("r_upto"),
        f_worse.label("f_worse"), f_upto.label("f_upto"),
        m_worse.label("m_worse"), m_upto.label("m_upto"),
    ).subquery("ranked")


def _classified(ranked, s: dict, now, gaps: tuple[int | None, int | None], cuts: dict | None = None):
    """The rule tables over ranked rows. With `cuts` (the one-customer path) the store-relative
    classes compare the customer's numbers with the scope's stored cut values instead of ranks;
    `s`, `now` and `cuts` may then be bound parameters, so the statement is built once."""
    c = ranked.c
    if s["amount_mode"] == "absolute":
        is_high = and_(c.purchases > 0, c.amount >= s["high_min_amount"])
        is_medium = and_(c.purchases > 0, c.amount >= s["medium_min_amount"])
    elif cuts is not None:
        # At or above the spend of the last customer inside the top p%: the same class the
        # rank rule gives (ties at the cut share it, so they go to the higher class).
        is_high = and_(c.purchases > 0, c.amount >= cuts["high_amount"])
        is_medium = and_(c.purchases > 0, c.amount >= cuts["medium_amount"])
    else:
        # Top p% = the first ceil(p * buyers / 100) ranks (at least one customer), with
        # tied customers sharing the best rank: (rank - 1) * 100 < p * buyers, in integers.
        is_high = and_(c.purchases > 0, (c.amount_rank - 1) * 100 < s["high_percent"] * c.buyers)
        is_medium = and_(c.purchases > 0,
                         (c.amount_rank - 1) * 100 < (s["high_percent"] + s["medium_percent"]) * c.buyers)
    frequent = c.purchases >= s["frequent_min"]
    occasional = c.purchases >= s["occasional_min"]
    if s["lifecycle_mode"] == "percentile" and gaps[0] is not None:
        churned, at_risk = c.recency_days > gaps[1], c.recency_days > gaps[0]
    else:
        churned = c.recency_days >= s["churned_days"]
        at_risk = or_(c.recency_days > s["at_risk_days"],
                      and_(c.usual_gap_days.is_not(None), c.recency_days > s["gap_factor"] * c.usual_gap_days))
    bands = s["recency_bands"]
    buyers = cuts["buyers"] if cuts is not None else c.buyers
    bought = c.purchases > 0

    def score(worse, upto):
        """Where the value stands between the worst and the best of the other buyers: 1 + floor(5 *
        worse / (worse + better)), the best value 5, everyone equal 3; no purchase in the window 1."""
        better = buyers - upto
        return case((~bought, 1), (worse + better == 0, 3), (better == 0, 5),
                    else_=1 + (worse * 5) // (worse + better))

    def by_cuts(beats):  # beats(i): the value is better than the worst ceil((4 - i) / 5) of buyers
        # With at most one buyer at the last computation (this customer, or nobody yet), there is
        # no one to rank against: the full run's "everyone equal" score, 3.
        return case((~bought, 1), (buyers <= 1, 3), *[(beats(i), 5 - i) for i in range(4)], else_=1)

    if cuts is not None:
        r_quintile = by_cuts(lambda i: c.recency_days < cuts["r"][i])
        f_score = by_cuts(lambda i: c.purchases > cuts["f"][i])
        m_score = by_cuts(lambda i: c.amount > cuts["m"][i])
    else:
        r_quintile, f_score, m_score = (score(c.r_worse, c.r_upto), score(c.f_worse, c.f_upto),
                                        score(c.m_worse, c.m_upto))
    r_score = case((~bought, 1),
                   (buyers < s["rfm_min_population"],
                    case((c.recency_days <= bands[0], 5), (c.recency_days <= bands[1], 4),
                         (c.recency_days <= bands[2], 3), (c.recency_days <= bands[3], 2), else_=1)),
                   else_=r_quintile)
    scored = select(
        c.customer_id, c.scope_id, c.first_purchase_at, c.last_purchase_at,
        c.purchases_ever, c.purchases, c.amount, c.recency_days, c.usual_gap_days,
        case((is_high, "high"), (is_medium, "medium"), else_="low").label("amount_class"),
        case((frequent, "frequent"), (occasional, "occasional"), else_="rare").label("frequency_class"),
        case((and_(frequent, is_high), "key"), (frequent, "loyal"), (is_high, "potential"), (occasional, "regular"),
             else_="occasional").label("final_class"),
        case((churned, "churned"), (at_risk, "at_risk"), (c.first_days <= s["new_days"], "new"),
             else_="active").label("lifecycle"),
        r_score.label("r_score"), f_score.label("f_score"), m_score.label("m_score"),
    ).subquery("scored")
    x = scored.c
    segment = segment_case(x.r_score, x.f_score, x.m_score)
    computed_at = now if isinstance(now, BindParameter) else literal(now, UTCDateTime())
    return select(*[x[name] for name in COLUMNS if name not in ("rfm_segment", "computed_at")],
                  segment.label("rfm_segment"), computed_at.label("computed_at")).where(true())


def segment_case(r, f, m):
    """The RFM rule table as one CASE: checked in order, first match wins, else "others"."""
    return case(*[(and_(r.between(*rs), f.between(*fs), m.between(*ms)), name) for name, rs, fs, ms in RFM_SEGMENTS],
                else_="others")


def percentile_gaps(session, scope_id: int, s: dict) -> tuple[int | None, int | None]:
    """The store's own purchase gaps (days between a customer's consecutive purchases): the
    values at the at-risk and churned percentiles, or (None, None) with no repeat buyers."""
    previous = func.lag(Sale.occurred_at).over(partition_by=Sale.customer_id, order_by=Sale.occurred_at)
    gaps = select((seconds_between(Sale.occurred_at, previous) // DAY).label("gap")).where(
        *_counting_sales(scope_id)).subquery("gaps")
    ordered = select(gaps.c.gap, func.row_number().over(order_by=gaps.c.gap).label("rn"),
                     func.count().over().label("n")).where(gaps.c.gap.is_not(None)).subquery("ordered")

    def at(pct):
        return func.max(case((ordered.c.rn == (pct * ordered.c.n + 99) // 100, ordered.c.gap), else_=None))

    row = session.execute(select(at(s["at_risk_percentile"]), at(s["churned_percentile"]))).first()
    return (row[0], row[1]) if row and row[0] is not None else (None, None)


def _groups(session) -> list[list[int]]:
    """The scopes of one nightly run, batched: the chain alone, then the stores that share
    the same settings together (one pass over their sales); a store in percentile lifecycle
    mode alone, since its cuts come from its own purchase gaps."""
    from core.classification.settings import settings_for

    groups: dict[str, list[int]] = {}
    for store_id, timezone in session.execute(select(Store.id, Store.timezone).order_by(Store.id)):
        s = settings_for(session, store_id)
        # One pass needs one calendar: stores group by timezone as well as by settings.
        key = f"own:{store_id}" if s["lifecycle_mode"] == "percentile" else repr((timezone, sorted(s.items())))
        groups.setdefault(key, []).append(store_id)
    return [[CHAIN_SCOPE]] + list(groups.values())


def recompute_scope(session, scope, now: datetime | None = None) -> list[dict]:
    """Recompute every customer's classes in one scope (or several stores with the same
    settings), in the caller's transaction. Class changes of stores go to the customers'
    timelines; only rows that changed are written. Returns each scope's numbers."""
    started = time.perf_counter()
    now = now or utcnow()
    scopes = _scopes(scope)
    s = settings_for(session, scopes[0])
    s = with_clock(s, scope_timezone(session, scopes[0], s), now)
    gaps = percentile_gaps(session, scopes[0], s) if s["lifecycle_mode"] == "percentile" else (None, None)
    stmt = _classified(_ranked_full(_derived(scopes, s, s["as_of"])), s, now, gaps)
    conn = session.connection()
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        # The sorts of the window functions and the per-customer hash aggregate spill to disk
        # at the default 4MB; this transaction only (a nightly batch, one connection).
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'")
    staging = Table("tmp_customer_class", MetaData(),
                    *[Column(col.name, col.type, primary_key=col.name in ("customer_id", "scope_id"))
                      for col in CustomerClass.__table__.columns], prefixes=["TEMPORARY"])
    staging.drop(conn, checkfirst=True)
    staging.create(conn)
    try:
        conn.execute(insert(staging).from_select(COLUMNS, stmt))
        if scopes != [CHAIN_SCOPE]:
            _timeline_changes(conn, staging, now)
        _apply_changes(conn, staging, scopes)
        counts = {row[0]: (row[1], row[2]) for row in conn.execute(
            select(staging.c.scope_id, func.count(), func.coalesce(func.sum(case((staging.c.purchases > 0, 1), else_=0)), 0))
            .group_by(staging.c.scope_id))}
        recency = seconds_between(literal(s["as_of"], UTCDateTime()), staging.c.last_purchase_at) // DAY
        found = {r["scope_id"]: r for r in _cut_rows(conn.execute(_cuts_select(
            staging, staging.c.scope_id, staging.c.purchases, staging.c.amount, recency, s)).all(), now, "full", gaps)}
        cut_rows = [found.get(scope_id) or _cut_rows([(scope_id, 0, 0) + (None,) * 14], now, "full", gaps)[0]
                    for scope_id in scopes]
        conn.execute(delete(_cut).where(_cut.c.scope_id.in_(scopes)))
        conn.execute(insert(_cut), cut_rows)
    finally:
        staging.drop(conn)
    seconds = round(time.perf_counter() - started, 3)
    stored = {k: (str(v) if v is not None and not isinstance(v, (int, float, list, str)) else v) for k, v in s.items()
              if k not in ("window_start", "as_of")}
    results = []
    for scope_id in scopes:
        population, buyers = counts.get(scope_id, (0, 0))
        run = session.get(ClassificationRun, scope_id) or ClassificationRun(scope_id=scope_id)
        run.computed_at, run.population, run.buyers, run.settings = now, population, buyers, stored
        run.at_risk_gap_days, run.churned_gap_days = gaps
        run.seconds = seconds
        session.add(run)
        results.append({"scope_id": scope_id, "customers": population, "buyers": buyers, "seconds": seconds})
    session.flush()
    session.expire_all()
    return results


def _apply_changes(conn, staging, scopes: list[int]) -> None:
    """Make the scopes' rows equal the staging table, writing only what differs: on a typical
    night few customers change class, and rewriting every row would cost more than computing."""
    cc = CustomerClass.__table__
    same_row = and_(cc.c.customer_id == staging.c.customer_id, cc.c.scope_id == staging.c.scope_id)
    # Deletes first, while the scopes hold only last night's rows: after a first run or an
    # import PostgreSQL's statistics still say the stores have no rows, and the anti-join
    # probes the staging table once per row it did not expect (7 s for 390k rows).
    conn.execute(delete(cc).where(cc.c.scope_id.in_(scopes), ~exists().where(same_row)))
    compared = [n for n in COLUMNS if n not in ("customer_id", "scope_id", "computed_at")]
    conn.execute(update(cc).where(same_row, or_(*[cc.c[n].is_distinct_from(staging.c[n]) for n in compared]))
                 .values({n: staging.c[n] for n in compared + ["computed_at"]}))
    # New rows by ON CONFLICT rather than NOT EXISTS: planned while customer_class is still
    # empty (a first run), the anti-join became a nested loop rescanning the table being
    # filled once per staged row, quadratic in the customers on PostgreSQL.
    insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert_(cc).from_select(COLUMNS, select(*[staging.c[n] for n in COLUMNS]).where(true()))
                 .on_conflict_do_nothing(index_elements=[cc.c.customer_id, cc.c.scope_id]))


def _timeline_changes(conn, staging, now) -> None:
    """One Activity per changed final class or lifecycle ("became at-risk"), set-based.
    A customer classified for the first time gets none: that is not a change."""
    old = CustomerClass.__table__
    for field, values in (("final_class", FINAL_CLASSES), ("lifecycle", LIFECYCLES)):
        title = case({v: change_title(field, v) for v in values}, value=staging.c[field], else_=staging.c[field])
        changed = (
            select(staging.c.customer_id, staging.c.scope_id, literal("class_change"), literal("core"), title,
                   json_object(literal("field"), literal(field), literal("from"), old.c[field],
                               literal("to"), staging.c[field]),
                   literal(now, UTCDateTime()))
            .select_from(staging.join(old, and_(old.c.customer_id == staging.c.customer_id,
                                                old.c.scope_id == staging.c.scope_id)))
            .where(old.c[field] != staging.c[field])
        )
        conn.execute(insert(Activity).from_select(
            ["customer_id", "store_id", "kind", "source", "title", "data", "occurred_at"], changed))


def recompute_all(session, now: datetime | None = None, commit: bool = True) -> list[dict]:
    """The chain and every store, one transaction per batch of scopes (the nightly job)."""
    results = []
    for group in _groups(session):
        results.extend(recompute_scope(session, group, now))
        if commit:
            session.commit()
    return results


def _cuts_select(source, scope_col, purchases, amount, recency, s: dict):
    """Each scope's cut values from per-customer rows (the staging table of a full run, or the
    derived numbers of one scope). Amount classes: the value at the last rank inside each class,
    so that `value >= cut` gives exactly the class the rank rule gives, ties included. RFM: the
    k-th worst value among window buyers, k = ceil((4 - i) * buyers / 5), so that a value
    strictly better than it scores at least 5 - i, exactly as `1 + 5 * worse // buyers` does."""
    bought = purchases > 0
    buyers_first = case((bought, 0), else_=1)
    ranked = select(
        scope_col.label("scope_id"), purchases.label("purchases"), amount.label("amount"), recency.label("recency"),
        # Buyers by spend, then the rest (spend 0): the amount cuts.
        func.row_number().over(partition_by=scope_col, order_by=(buyers_first, amount.desc())).label("rn_a"),
        # Worst first among window buyers: the RFM cuts.
        func.row_number().over(partition_by=(scope_col, buyers_first), order_by=purchases.asc()).label("rn_f"),
        func.row_number().over(partition_by=(scope_col, buyers_first), order_by=amount.asc()).label("rn_m"),
        func.row_number().over(partition_by=(scope_col, buyers_first), order_by=recency.desc()).label("rn_r"),
        func.sum(case((bought, 1), else_=0)).over(partition_by=scope_col).label("buyers"),
        func.count().over(partition_by=scope_col).label("population"),
    ).select_from(source).subquery("cut_ranked")
    r = ranked.c

    def at(rn, k, col):
        return func.max(case((rn == k, col), else_=None))

    def buyer_at(rn, k, col):
        return func.max(case((and_(r.purchases > 0, rn == k), col), else_=None))

    def worst_k(i):  # ceil((4 - i) * buyers / 5)
        return ((4 - i) * r.buyers + 4) // 5

    return select(
        r.scope_id, func.max(r.buyers), func.max(r.population),
        at(r.rn_a, (s["high_percent"] * r.buyers + 99) // 100, r.amount),
        at(r.rn_a, ((s["high_percent"] + s["medium_percent"]) * r.buyers + 99) // 100, r.amount),
        *[buyer_at(r.rn_f, worst_k(i), r.purchases) for i in range(4)],
        *[buyer_at(r.rn_m, worst_k(i), r.amount) for i in range(4)],
        *[buyer_at(r.rn_r, worst_k(i), r.recency) for i in range(4)],
    ).group_by(r.scope_id)


def _cut_rows(rows, now, source: str, gaps) -> list[dict]:
    """Rows of `_cuts_select` as ClassificationCut values (M cuts as strings: exact money in JSON)."""
    return [{"scope_id": row[0], "computed_at": now, "source": source, "buyers": row[1] or 0,
             "population": row[2] or 0, "high_amount": row[3], "medium_amount": row[4],
             "f_cuts": list(row[5:9]), "m_cuts": [None if v is None else f"{Decimal(str(v)):.2f}" for v in row[9:13]],
             "r_cuts": list(row[13:17]), "at_risk_gap_days": gaps[0], "churned_gap_days": gaps[1]} for row in rows]
