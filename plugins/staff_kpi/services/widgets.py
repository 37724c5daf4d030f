"""Dashboard widgets: the store's net sales per salesperson, or a salesperson's own figures."""

from __future__ import annotations

from flask_babel import gettext as _

from plugins.staff_kpi.services import figures
from plugins.staff_kpi.services.periods import period_for


def dashboard(ctx, store, period) -> list[dict]:
    first_day, last_day = period
    span = period_for(store.tz, first_day, last_day)
    settings = ctx.registry.settings(store, "staff_kpi")
    sales = figures.from_rollup(ctx.session, store, span, settings["refund_attribution"])
    user = ctx.user
    if user is None:
        return []
    if not user.at_least("manager"):  # staff see their own figures only
        mine = sales.get(user.id) or figures.derive(figures.empty_sums(), figures.empty_sums())
        return [{"title": _("My net sales"), "value": f"¥{mine['net_amount']:,.2f}",
                 "note": _("%(count)s sales, average ticket ¥%(avg)s", count=mine["sales_count"],
                           avg=f"{mine['average_ticket'] or 0:,.2f}")}]
    people = {u.id: (u.display_name or u.username) for u in figures.store_staff(ctx.session, store, set(sales))}
    ranked = sorted(((people.get(staff_id, _("No salesperson")), f["net_amount"]) for staff_id, f in sales.items()),
                    key=lambda item: -item[1])[:10]
    widgets = [{"title": _("Net sales by salesperson"), "chart": {
        "type": "bar", "labels": [name for name, _v in ranked],
        "datasets": [{"label": _("Net sales"), "data": [float(v) for _n, v in ranked]}]}}]
    if ranked:
        widgets.append({"title": _("Top salesperson"), "value": ranked[0][0], "note": f"¥{ranked[0][1]:,.2f}"})
    return widgets
