"""The classes of one customer, or of a store's buyers together, after their sales or refunds:
the rules of `core.classification.compute` run for those customers alone, comparing their own
numbers with each scope's stored cut values (ClassificationCut) in a prebuilt upsert, two
statements whatever the store's size and however many buyers; a class that changes writes a
timeline entry. Other customers move with the cuts at the next full run."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, and_, bindparam, delete, select, true, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.classification.compute import (
    COLUMNS, _classified, _cut_rows, _cuts_select, _derived, percentile_gaps, with_clock,
)
from core.classification.models import CHAIN_SCOPE, ClassificationCut, ClassificationSettings, CustomerClass
from core.classification.rules import change_title
from core.models import Activity, Customer, Store, utcnow
from core.models.types import MONEY, UTCDateTime, upsert

log = logging.getLogger(__name__)

def update_customer(session, customer_id: int, store_id: int | None, now: datetime | None = None) -> None:
    """After a sale or refund: recompute one customer's classes in the store and the chain,
    inside the caller's transaction (a savepoint: a failure here must never lose the sale;
    the nightly recompute then catches up). A handful of statements, whatever the data size."""
    now = now or utcnow()
    try:
        with session.begin_nested():
            _update_many(session, [customer_id], store_id, now)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("classification of customer %s failed; the nightly run will redo it", customer_id)


def recompute_customers(session, customer_ids, store_id: int | None, now: datetime | None = None) -> None:
    """`update_customer` for several buyers of one store at once, without its guard, for the
    outbox's reactions after the commit: there a failure is recorded on the deliveries and
    retried, so it must raise. The same statements as for one customer: a delivery batch's
    buyers cost a lock-and-read and an upsert per store, not per customer."""
    _update_many(session, sorted(set(customer_ids)), store_id, now or utcnow())


INT_SETTINGS = ("window_days", "frequent_min", "occasional_min", "new_days", "at_risk_days", "churned_days",
                "rfm_min_population")
_NO_CUT = {"amount": Decimal("-1"), "purchases": -1, "recency": 10 ** 9}  # no customer yet: every value meets it


@lru_cache(maxsize=32)
def _customer_upsert(dialect: str, store_shape: tuple[bool, bool] | None, chain_shape: tuple[bool, bool]):
    """INSERT ... SELECT the customers' classes in the store and the chain (one row per customer
    and scope, UNION ALL) ... ON CONFLICT DO UPDATE RETURNING the new classes: one statement
    for a store's buyers, built once per shape (absolute amounts?, percentile gaps?) with
    every number a bound parameter, prefixed by scope ("store_", "chain_"), and the customers
    an expanding one. The upsert cannot race: concurrent sales of one customer both write
    their rows, the later one last."""
    now = bindparam("now", type_=UTCDateTime())
    customer_id = bindparam("customer_ids", expanding=True)
    parts = [_one_scope_select(CHAIN_SCOPE, "chain_", *chain_shape, now, customer_id)]
    if store_shape is not None:
        parts.insert(0, _one_scope_select(bindparam("store_id", type_=Integer()), "store_", *store_shape, now,
                                          customer_id))
    rows = union_all(*parts).subquery("one_customer") if len(parts) > 1 else parts[0].subquery("one_customer")
    table = CustomerClass.__table__
    insert_ = sqlite_insert if dialect == "sqlite" else pg_insert
    # WHERE true: SQLite's parser needs it between INSERT ... SELECT and ON CONFLICT.
    stmt = insert_(table).from_select(COLUMNS, select(*[rows.c[n] for n in COLUMNS]).where(true()))
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.customer_id, table.c.scope_id],
                                      set_={n: stmt.excluded[n] for n in COLUMNS if n not in ("customer_id", "scope_id")})
    return stmt.returning(table.c.customer_id, table.c.scope_id, table.c.final_class, table.c.lifecycle)


def _one_scope_select(scope, prefix: str, absolute: bool, percentile_gaps: bool, now, customer_id):
    """The customers' classes in one scope against its stored cuts, every number a parameter."""
    def param(name, type_):
        return bindparam(prefix + name, type_=type_)

    s = {k: param(f"s_{k}", Integer()) for k in INT_SETTINGS}
    s.update(amount_mode="absolute" if absolute else "percentile",
             lifecycle_mode="percentile" if percentile_gaps else "days",
             gap_factor=param("s_gap_factor", Float()),
             high_min_amount=param("s_high_min_amount", MONEY),
             medium_min_amount=param("s_medium_min_amount", MONEY),
             recency_bands=[param(f"s_band{i}", Integer()) for i in range(4)],
             window_start=param("window_start", UTCDateTime()))
    cuts = {"high_amount": param("cut_high", MONEY), "medium_amount": param("cut_medium", MONEY),
            "buyers": param("cut_buyers", Integer()),
            "r": [param(f"cut_r{i}", Integer()) for i in range(4)],
            "f": [param(f"cut_f{i}", Integer()) for i in range(4)],
            "m": [param(f"cut_m{i}", MONEY) for i in range(4)]}
    gaps = (param("gap_at_risk", Integer()), param("gap_churned", Integer())) if percentile_gaps else (None, None)
    return _classified(_derived(scope, s, param("as_of", UTCDateTime()), customer_id), s, now, gaps, cuts)


_cc = CustomerClass.__table__
_cut = ClassificationCut.__table__
_customer = Customer.__table__
_settings = ClassificationSettings.__table__


def _settings_document(which):
    return select(_settings.c.settings).where(which).scalar_subquery()


# One read before the upsert: the customers' rows locked, in id order (sales of one customer
# classify one after the other, each seeing the other's sale; two batches sharing buyers lock
# them in the same order), the chain's and the store's settings documents, the scopes' stored
# cuts and each customer's current classes there, for the timeline: a row per customer and
# scope. FOR NO KEY UPDATE: the sale's own foreign key already holds a KEY SHARE lock on the
# row, which FOR UPDATE would deadlock on.
_LOCK_CUTS_AND_OLD = (
    select(_customer.c.id.label("customer_id"),
           _settings_document(_settings.c.store_id.is_(None)).label("chain_settings"),
           _settings_document(_settings.c.store_id == bindparam("store_id")).label("store_settings"),
           select(Store.__table__.c.timezone).where(Store.__table__.c.id == bindparam("store_id"))
           .scalar_subquery().label("store_timezone"),
           _cut, _cc.c.final_class.label("old_final_class"), _cc.c.lifecycle.label("old_lifecycle"))
    .select_from(_customer.outerjoin(_cut, _cut.c.scope_id.in_(bindparam("scopes", expanding=True)))
                 .outerjoin(_cc, and_(_cc.c.customer_id == _customer.c.id, _cc.c.scope_id == _cut.c.scope_id)))
    .where(_customer.c.id.in_(bindparam("customer_ids", expanding=True)))
    .order_by(_customer.c.id)
    .with_for_update(of=_customer, key_share=True))
# A scope without stored cuts yet (rare: before its first nightly run): its current classes.
_OLD = select(_cc.c.customer_id, _cc.c.scope_id, _cc.c.final_class, _cc.c.lifecycle).where(
    _cc.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
    _cc.c.scope_id.in_(bindparam("scopes", expanding=True)))
_DELETE_ONE = delete(_cc).where(_cc.c.customer_id == bindparam("customer_id"), _cc.c.scope_id == bindparam("scope_id"))


def cuts_on_demand(session, scope_id: int, s: dict, now) -> dict:
    """A scope with no stored cuts yet (a new store, or before the first nightly run): compute
    them from its sales once and keep them; the nightly run replaces them."""
    gaps = percentile_gaps(session, scope_id, s) if s["lifecycle_mode"] == "percentile" else (None, None)
    d = _derived(scope_id, s, s["as_of"]).alias("scope_numbers")
    rows = session.execute(_cuts_select(d, d.c.scope_id, d.c.purchases, d.c.amount, d.c.recency_days, s)).all()
    row = (_cut_rows(rows, now, "on_demand", gaps) or _cut_rows([(scope_id, 0, 0) + (None,) * 14], now, "on_demand",
                                                                 gaps))[0]
    row["scope_id"] = scope_id
    for key in ("high_amount", "medium_amount"):  # SQLite sums money as floats
        row[key] = None if row[key] is None else Decimal(str(row[key])).quantize(Decimal("0.01"))
    session.execute(upsert(session, _cut).values(**row).on_conflict_do_nothing(index_elements=[_cut.c.scope_id]))
    return row


def _params(s: dict, cut: dict, now) -> dict:
    tz = ZoneInfo(s["timezone"])  # the cut's recencies have aged since, in local days
    elapsed = max((now.astimezone(tz).date() - cut["computed_at"].astimezone(tz).date()).days, 0)

    def listed(values, i, kind):
        value = (values or [None] * 4)[i]
        if value is None:
            return _NO_CUT[kind]
        return Decimal(value) if kind == "amount" else value + (elapsed if kind == "recency" else 0)

    p = {f"s_{k}": s[k] for k in INT_SETTINGS}
    p.update(s_gap_factor=s["gap_factor"], s_high_min_amount=s["high_min_amount"],
             s_medium_min_amount=s["medium_min_amount"],
             window_start=s["window_start"], as_of=s["as_of"], cut_buyers=cut["buyers"] or 0,
             cut_high=_NO_CUT["amount"] if cut["high_amount"] is None else cut["high_amount"],
             cut_medium=_NO_CUT["amount"] if cut["medium_amount"] is None else cut["medium_amount"],
             gap_at_risk=cut["at_risk_gap_days"], gap_churned=cut["churned_gap_days"])
    p.update({f"s_band{i}": s["recency_bands"][i] for i in range(4)})
    for i in range(4):
        p[f"cut_r{i}"] = listed(cut["r_cuts"], i, "recency")
        p[f"cut_f{i}"] = listed(cut["f_cuts"], i, "purchases")
        p[f"cut_m{i}"] = listed(cut["m_cuts"], i, "amount")
    return p


def _update_many(session, customer_ids: list[int], store_id: int | None, now) -> None:
    from core.classification.settings import loaded

    scopes = [CHAIN_SCOPE] + ([store_id] if store_id else [])
    cut_columns = [c.name for c in _cut.columns]
    cuts, old, settings = {}, {}, {}
    for r in session.execute(_LOCK_CUTS_AND_OLD,
                             {"customer_ids": customer_ids, "store_id": store_id, "scopes": scopes}).mappings():
        if not settings:  # the same documents on every row: the store's over the chain's
            chain = dict(r["chain_settings"] or {})
            chain_s = loaded(chain)
            settings = {CHAIN_SCOPE: with_clock(chain_s, chain_s["chain_timezone"], now)}
            if store_id:
                store_s = loaded({**chain, **(r["store_settings"] or {})})
                settings[store_id] = with_clock(store_s, r["store_timezone"] or store_s["chain_timezone"], now)
        if r["scope_id"] is not None:
            if r["scope_id"] not in cuts:
                cuts[r["scope_id"]] = {c: r[c] for c in cut_columns}
            if r["old_final_class"] is not None:
                old[(r["customer_id"], r["scope_id"])] = (r["old_final_class"], r["old_lifecycle"])
    if not settings:  # none of them is there any more (erased since): nothing to classify
        return
    missing = [scope_id for scope_id in scopes if scope_id not in cuts]
    if missing:
        old.update({(r.customer_id, r.scope_id): (r.final_class, r.lifecycle)
                    for r in session.execute(_OLD, {"customer_ids": customer_ids, "scopes": missing})})
    params = {"customer_ids": customer_ids, "store_id": store_id, "now": now}
    shapes = {}
    for scope_id in scopes:
        s = settings[scope_id]
        cut = cuts.get(scope_id) or cuts_on_demand(session, scope_id, s, now)
        pct_gaps = s["lifecycle_mode"] == "percentile" and cut["at_risk_gap_days"] is not None
        shapes[scope_id] = (s["amount_mode"] == "absolute", pct_gaps)
        prefix = "chain_" if scope_id == CHAIN_SCOPE else "store_"
        params.update({prefix + k: v for k, v in _params(s, cut, now).items()})
    stmt = _customer_upsert(session.get_bind().dialect.name,
                            shapes.get(store_id) if store_id else None, shapes[CHAIN_SCOPE])
    new = {(r.customer_id, r.scope_id): (r.final_class, r.lifecycle) for r in session.execute(stmt, params)}
    for customer_id in customer_ids:
        for scope_id in scopes:
            key = (customer_id, scope_id)
            if key not in new:  # nothing that counts here any more (refunded): a prospect again
                if key in old:
                    session.execute(_DELETE_ONE, {"customer_id": customer_id, "scope_id": scope_id})
            elif scope_id != CHAIN_SCOPE and key in old:
                _timeline(session, customer_id, scope_id, old[key], new[key], now)


def _timeline(session, customer_id: int, store_id: int, before: tuple, after: tuple, now) -> None:
    """An Activity per changed class (by ids: no need to load the customer or the store)."""
    from core.classification.rules import change_title_zh

    for field, was, now_is in zip(("final_class", "lifecycle"), before, after):
        if was != now_is:
            session.add(Activity(customer_id=customer_id, store_id=store_id, kind="class_change", source="core",
                                 title=change_title(field, now_is), occurred_at=now,
                                 data={"field": field, "from": was, "to": now_is,
                                       "title_zh": change_title_zh(field, now_is)}))
