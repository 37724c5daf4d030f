"""Computing the classes of domain.md in set-based SQL, on SQLite and PostgreSQL.

One SELECT builds every customer's numbers and classes for a scope (a store, or the chain):
aggregate the counting sales per customer, derive recency and usual gap, rank with window
functions, then apply the rule tables. The nightly job runs it for whole scopes; after a sale
or refund the same SELECT runs for one customer, with the ranks counted against the other
customers' stored rows — so both paths share every rule.

Rules pinned here (domain.md): only sales not wholly refunded count, at their net amount
(total - refunded); "top 20%" means the first ceil(20% of buyers) ranks, tied customers sharing
the best rank (ties at a cut go to the higher class); RFM scores are rank quintiles
5 - 5 * (rank - 1) // population, ties sharing the better score.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import (
    Column, MetaData, Table, and_, case, cast, delete, exists, Float, func, insert, literal, or_, select, true, update,
)

from core.classification.models import CHAIN_SCOPE, ClassificationRun, CustomerClass
from core.classification.rules import FINAL_CLASSES, LIFECYCLES, RFM_SEGMENTS, change_title
from core.classification.settings import settings_for
from core.classification.sql import json_object, seconds_between
from core.models import Activity, Sale, Store, utcnow
from core.models.types import UTCDateTime

log = logging.getLogger(__name__)
DAY = 86400
COLUMNS = [c.name for c in CustomerClass.__table__.columns]


def _scopes(scope) -> list[int]:
    return list(scope) if isinstance(scope, (list, tuple)) else [scope]


def _counting_sales(scope, customer_id: int | None = None):
    """Sales that count: with a customer, not wholly refunded, in the scope (the chain, or
    one or more stores computed together)."""
    conds = [Sale.customer_id.is_not(None), Sale.status != "refunded"]
    scopes = _scopes(scope)
    if scopes != [CHAIN_SCOPE]:
        # Whole stores: `store_id + 0` keeps SQLite from walking ix_sale_store_time row by row
        # (a scan is several times faster when most sales are read anyway).
        store = Sale.store_id if customer_id is not None else Sale.store_id + 0
        conds.append(store == scopes[0] if len(scopes) == 1 else store.in_(scopes))
    if customer_id is not None:
        conds.append(Sale.customer_id == customer_id)
    return conds


def _derived(scope, settings: dict, now, customer_id: int | None = None):
    """Per customer and scope: first/last purchase, counts and net spend in the window,
    recency, usual gap. Several stores with the same settings are computed in one pass."""
    window_start = now - timedelta(days=settings["window_days"])
    in_window = Sale.occurred_at >= window_start
    # Whole scopes group by an expression, not the bare column: SQLite would otherwise walk
    # ix_sale_customer_time and fetch each row by id, 3-4x slower than a scan and a sort.
    key = Sale.customer_id if customer_id is not None else Sale.customer_id + 0
    scopes = _scopes(scope)
    scope_col = literal(CHAIN_SCOPE) if scopes == [CHAIN_SCOPE] else (Sale.store_id + 0)
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
        .where(*_counting_sales(scopes, customer_id))
        .group_by(scope_col, key)
        .subquery("agg")
    )
    now_param = literal(now, UTCDateTime())
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
    return select(
        derived,
        case((d.purchases > 0, m_rank), else_=None).label("amount_rank"),
        func.sum(buyer).over(partition_by=d.scope_id).label("buyers"),
        func.count().over(partition_by=d.scope_id).label("population"),
        func.rank().over(partition_by=d.scope_id, order_by=d.recency_days.asc()).label("r_rank"),
        func.rank().over(partition_by=d.scope_id, order_by=d.purchases.desc()).label("f_rank"),
        m_rank.label("m_rank"),
    ).subquery("ranked")


def _ranked_one(derived, scope_id: int, customer_id: int, now):
    """The same ranks for one customer, counted against the other customers' stored rows."""
    others = CustomerClass.__table__.alias("others")
    base = [others.c.scope_id == scope_id, others.c.customer_id != customer_id]

    def count(*conds):
        return select(func.count()).select_from(others).where(*base, *conds).scalar_subquery()

    now_param = literal(now, UTCDateTime())
    other_recency = seconds_between(now_param, others.c.last_purchase_at) // DAY
    return select(
        derived,
        case((derived.c.purchases > 0, 1 + count(others.c.purchases > 0, others.c.amount > derived.c.amount)),
             else_=None).label("amount_rank"),
        (count(others.c.purchases > 0) + case((derived.c.purchases > 0, 1), else_=0)).label("buyers"),
        (count() + 1).label("population"),
        (1 + count(other_recency < derived.c.recency_days)).label("r_rank"),
        (1 + count(others.c.purchases > derived.c.purchases)).label("f_rank"),
        (1 + count(others.c.amount > derived.c.amount)).label("m_rank"),
    ).subquery("ranked")


def _classified(ranked, s: dict, now, gaps: tuple[int | None, int | None]):
    c = ranked.c
    if s["amount_mode"] == "absolute":
        is_high = and_(c.purchases > 0, c.amount >= s["high_min_amount"])
        is_medium = and_(c.purchases > 0, c.amount >= s["medium_min_amount"])
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

    def quintile(rank):
        return 5 - ((rank - 1) * 5) // c.population

    r_score = case((c.population < s["rfm_min_population"],
                    case((c.recency_days <= bands[0], 5), (c.recency_days <= bands[1], 4),
                         (c.recency_days <= bands[2], 3), (c.recency_days <= bands[3], 2), else_=1)),
                   else_=quintile(c.r_rank))
    scored = select(
        c.customer_id, c.scope_id, c.first_purchase_at, c.last_purchase_at,
        c.purchases_ever, c.purchases, c.amount, c.recency_days, c.usual_gap_days, c.amount_rank, c.buyers,
        c.population,
        case((is_high, "high"), (is_medium, "medium"), else_="low").label("amount_class"),
        case((frequent, "frequent"), (occasional, "occasional"), else_="rare").label("frequency_class"),
        case((and_(frequent, is_high), "key"), (frequent, "loyal"), (is_high, "potential"), (occasional, "regular"),
             else_="occasional").label("final_class"),
        case((churned, "churned"), (at_risk, "at_risk"), (c.first_days <= s["new_days"], "new"),
             else_="active").label("lifecycle"),
        r_score.label("r_score"), quintile(c.f_rank).label("f_score"), quintile(c.m_rank).label("m_score"),
    ).subquery("scored")
    x = scored.c
    segment = segment_case(x.r_score, x.f_score, x.m_score)
    return select(*[x[name] for name in COLUMNS if name not in ("rfm_segment", "computed_at")],
                  segment.label("rfm_segment"), literal(now, UTCDateTime()).label("computed_at")).where(true())


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
    for store_id in session.scalars(select(Store.id).order_by(Store.id)):
        s = settings_for(session, store_id)
        key = f"own:{store_id}" if s["lifecycle_mode"] == "percentile" else repr(sorted(s.items()))
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
    gaps = percentile_gaps(session, scopes[0], s) if s["lifecycle_mode"] == "percentile" else (None, None)
    stmt = _classified(_ranked_full(_derived(scopes, s, now)), s, now, gaps)
    conn = session.connection()
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
    finally:
        staging.drop(conn)
    seconds = round(time.perf_counter() - started, 3)
    stored = {k: (str(v) if v is not None and not isinstance(v, (int, float, list, str)) else v) for k, v in s.items()}
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
    compared = [n for n in COLUMNS if n not in ("customer_id", "scope_id", "computed_at")]
    conn.execute(update(cc).where(same_row, or_(*[cc.c[n].is_distinct_from(staging.c[n]) for n in compared]))
                 .values({n: staging.c[n] for n in compared + ["computed_at"]}))
    new_rows = select(*[staging.c[n] for n in COLUMNS]).where(~exists().where(same_row))
    conn.execute(insert(cc).from_select(COLUMNS, new_rows))
    conn.execute(delete(cc).where(cc.c.scope_id.in_(scopes), ~exists().where(same_row)))


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


def update_customer(session, customer_id: int, store_id: int | None, now: datetime | None = None) -> None:
    """After a sale or refund: recompute one customer's classes in the store and the chain,
    inside the caller's transaction (a savepoint: a failure here must never lose the sale;
    the nightly recompute then catches up). A handful of statements, whatever the data size."""
    now = now or utcnow()
    try:
        with session.begin_nested():
            _update(session, customer_id, store_id, now)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("classification of customer %s failed; the nightly run will redo it", customer_id)


def _update(session, customer_id: int, store_id: int | None, now) -> None:
    from core.classification.settings import settings_for_store_and_chain

    settings = settings_for_store_and_chain(session, store_id)
    scopes = list(settings)
    runs = {r.scope_id: r for r in session.scalars(select(ClassificationRun).where(ClassificationRun.scope_id.in_(scopes)))}
    table = CustomerClass.__table__
    mine = and_(table.c.customer_id == customer_id, table.c.scope_id.in_(scopes))
    old = {r.scope_id: (r.final_class, r.lifecycle)
           for r in session.execute(select(table.c.scope_id, table.c.final_class, table.c.lifecycle).where(mine))}
    session.execute(delete(CustomerClass).where(mine))
    for scope_id in scopes:
        run = runs.get(scope_id)
        gaps = (run.at_risk_gap_days, run.churned_gap_days) if run is not None else (None, None)
        s = settings[scope_id]
        stmt = _classified(_ranked_one(_derived(scope_id, s, now, customer_id), scope_id, customer_id, now),
                           s, now, gaps)
        new = session.execute(insert(CustomerClass).from_select(COLUMNS, stmt)
                              .returning(table.c.final_class, table.c.lifecycle)).first()
        if scope_id != CHAIN_SCOPE and new is not None and scope_id in old:
            _timeline(session, customer_id, scope_id, old[scope_id], tuple(new), now)


def _timeline(session, customer_id: int, store_id: int, before: tuple, after: tuple, now) -> None:
    from core.classification.rules import change_title_zh
    from core.models import Customer
    from core.services.customers import add_activity

    for field, was, now_is in zip(("final_class", "lifecycle"), before, after):
        if was != now_is:
            add_activity(session, session.get(Customer, customer_id), "class_change", change_title(field, now_is),
                         store=session.get(Store, store_id),
                         data={"field": field, "from": was, "to": now_is, "title_zh": change_title_zh(field, now_is)},
                         occurred_at=now)
