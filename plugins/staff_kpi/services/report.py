"""The report: one row per salesperson with every figure, contributed metrics and the month's
target, plus the store's totals. What the API, the admin pages, the leaderboard and the
commission all read."""

from __future__ import annotations

import logging
from decimal import Decimal

from core.models import Store, User
from plugins.staff_kpi.services import figures, targets
from plugins.staff_kpi.services.periods import Period

log = logging.getLogger(__name__)

FORMATS = ("decimal", "percent", "count", "money")


def metric_definitions(registry, enabled) -> list[dict]:
    """Labels of the metrics the plugins enabled in the store contribute (`kpi_metric_definitions`)."""
    out = []
    for name in registry.implementers("kpi_metric_definitions", enabled):
        try:
            answers = registry.caller_for("kpi_metric_definitions", name)()
        except Exception:  # noqa: BLE001 - a broken plugin must not take the report down
            log.exception("kpi_metric_definitions of %s failed", name)
            continue
        for answer in answers:
            for item in answer or []:
                key = item["name"] if "." in item["name"] else f"{name}.{item['name']}"
                out.append({"name": key, "label": item.get("label") or key,
                            "format": item.get("format") if item.get("format") in FORMATS else "decimal",
                            "higher_is_better": bool(item.get("higher_is_better", True)), "plugin": name})
    return out


def contributed(ctx, user: User, period: Period) -> dict:
    """{"<plugin>.<metric>": value} from every enabled plugin's `kpi_metrics` for `user`.
    A name without a dot is put under the plugin that returned it."""
    reg, out = ctx.registry, {}
    for name in reg.implementers("kpi_metrics", reg.enabled_in(ctx.store)):
        if name == "staff_kpi":
            continue
        try:
            with ctx.session.begin_nested():
                answers = reg.caller_for("kpi_metrics", name)(
                    staff=user, period=(period.first_day, period.last_day), ctx=ctx.for_plugin(name))
        except Exception:  # noqa: BLE001 - one plugin's failure leaves its cells empty, not the page
            log.exception("kpi_metrics of %s failed for %s", name, user.username)
            continue
        for answer in answers:
            for key, value in (answer or {}).items():
                out[key if "." in key else f"{name}.{key}"] = value
    return out


def _row(user: User | None, sales: dict | None, customers: dict | None, created: int) -> dict:
    sales = sales or figures.derive(figures.empty_sums(), figures.empty_sums())
    customers = customers or {"customers_served": 0, "customers_repurchased": 0, "new_customers": 0}
    return {
        "user_id": user.id if user else None,
        "username": user.username if user else None,
        "display_name": (user.display_name or user.username) if user else "",
        **sales, **customers,
        "repurchase_rate": figures.percent(customers["customers_repurchased"], customers["customers_served"]),
        "profiles_created": created,
        "metrics": {}, "target_amount": None, "attainment_percent": None, "metric_targets": {},
    }


def build(ctx, store: Store, period: Period, *, only_user: User | None = None, month: str | None = None) -> dict:
    """The report of `store` over `period`. `only_user`: just that person's row (my performance).
    `month` (YYYY-MM, when the period is that month): targets and attainment are filled in."""
    session = ctx.session
    settings = ctx.registry.settings(store, "staff_kpi")
    attribution, window = settings["refund_attribution"], settings["repurchase_window_days"]
    sales = figures.from_rollup(session, store, period, attribution)
    customers = figures.customer_figures(session, store, period, window)
    created = figures.profiles_created(session, store, period)
    store_customers = customers.pop(figures.STORE, None)
    people = figures.store_staff(session, store, set(sales) | set(customers) | set(created))
    if only_user is not None:
        people = [only_user]
    rows = [_row(user, sales.get(user.id), customers.get(user.id), created.get(user.id, 0)) for user in people]
    if only_user is None and (None in sales or None in customers):
        rows.append(_row(None, sales.get(None), customers.get(None), 0))
    for row, user in zip(rows, people):
        row["metrics"] = contributed(ctx, user, period)
    if month:
        targets.attach(session, store, month, rows)
    if only_user is not None:  # a salesperson's own page shows no one else's figures, not even the store's
        return _document(ctx, store, period, attribution, window, rows, rows[0])
    total_sums = {"sale": figures.empty_sums(), "refund": figures.empty_sums()}
    for part in figures.rollup_sums(session, store, period, attribution).values():
        for slot in ("sale", "refund"):
            for m in total_sums[slot]:
                total_sums[slot][m] += part[slot][m]
    totals = _row(None, figures.derive(total_sums["sale"], total_sums["refund"]), store_customers, sum(created.values()))
    totals["display_name"] = store.name
    return _document(ctx, store, period, attribution, window, rows, totals)


def _document(ctx, store, period, attribution, window, rows, totals) -> dict:
    return {"store": store.code, "store_name": store.name, "first_day": period.first_day, "last_day": period.last_day,
            "refund_attribution": attribution, "repurchase_window_days": window, "rows": rows, "totals": totals,
            "metric_definitions": metric_definitions(ctx.registry, ctx.registry.enabled_in(store))}


def as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
