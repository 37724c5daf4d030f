"""The columns the customer lists share (customers, members): spend, visits, last purchase and
class, computed for a whole page at once (`core.services.customer_figures`) and read by the
list's formatters and its export. Also the search box and the export endpoint they share."""

from __future__ import annotations

from flask import g, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import get_locale

from core.admin.base import current_store, current_user_or_none
from core.admin.customer_search import search_clause
from core.admin.formatting import local_datetime
from core.admin.list_export import MAX_ROWS, download
from core.audit import audit
from core.extensions import db
from core.services.customer_figures import customer_classes, empty_figures, purchase_figures


def _lang() -> str:
    return "zh" if str(get_locale() or "en").startswith("zh") else "en"


def class_scope_id() -> int:
    store = current_store()
    return store.id if store is not None else 0  # 0: the chain's classes


def prefetch(customer_ids, store_ids) -> None:
    """One query per figure for the page's customers, kept for this request's formatters."""
    ids = [i for i in customer_ids if i is not None]
    g.storecrm_list_figures = purchase_figures(db.session, ids, store_ids)
    g.storecrm_list_classes = customer_classes(db.session, ids, class_scope_id())


def figures_of(customer_id) -> dict:
    return g.get("storecrm_list_figures", {}).get(customer_id) or empty_figures()


def class_label(customer_id) -> str:
    from core.classification.rules import final_label, lifecycle_label

    found = g.get("storecrm_list_classes", {}).get(customer_id)
    lang = _lang()
    if found is None:
        return final_label("prospect", lang)
    final, life = found
    return f"{final_label(final, lang)} · {lifecycle_label(life, lang)}"


def money(value) -> str:
    return f"¥{value:,.2f}"


def fact_formatters(customer_id_of) -> dict:
    """Flask-Admin formatters for the shared columns; `customer_id_of(model)` names the customer."""
    return {
        "spend": lambda v, c, m, n: money(figures_of(customer_id_of(m))["spend"]),
        "visits": lambda v, c, m, n: figures_of(customer_id_of(m))["visits"],
        "last_purchase": lambda v, c, m, n: local_datetime(figures_of(customer_id_of(m))["last_purchase_at"],
                                                           current_store()) or "—",
        "customer_class": lambda v, c, m, n: class_label(customer_id_of(m)),
    }


class CustomerListMixin:
    """For a Flask-Admin list of rows about customers: the shared columns, the search box (name,
    card number, full phone through its keyed hash) and a CSV/XLSX export of what the list shows.

    A subclass sets `customer_id_attr`, `figure_scope()` (stores the figures count) and
    `export_table(rows, masked)` -> (name, header, rows)."""

    customer_id_attr = "id"
    # Flask-Admin shows the search box when some column is searchable; the search itself is ours.
    column_searchable_list = ["id"]

    def search_placeholder(self):
        return _("Name, phone or card number")

    def customer_id_of(self, model):
        return getattr(model, self.customer_id_attr)

    def customer_ids_matching(self, search: str):
        from sqlalchemy import select

        from core.models import Customer

        clause = search_clause(search)
        return None if clause is None else select(Customer.id).where(clause)

    def _apply_search(self, query, count_query, joins, count_joins, search):
        matching = self.customer_ids_matching(search)
        if matching is None:
            return query, count_query, joins, count_joins
        column = getattr(self.model, self.customer_id_attr)
        query = query.filter(column.in_(matching))
        if count_query is not None:
            count_query = count_query.filter(column.in_(matching))
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        count, rows = super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                       page_size=page_size)
        if execute:
            rows = list(rows)
            prefetch([self.customer_id_of(r) for r in rows], self.figure_scope())
        return count, rows

    def list_rows_for_export(self):
        view_args = self._get_list_extra_args()
        sort_column = self._get_column_by_idx(view_args.sort)
        if sort_column is not None:
            sort_column = sort_column[0]
        _count, rows = self.get_list(0, sort_column, view_args.sort_desc, view_args.search, view_args.filters,
                                     page_size=MAX_ROWS)
        return rows

    @expose("/export/<fmt>")
    def export_list(self, fmt):
        """The list as shown (filters and search kept), masked unless the role sees contacts;
        audited. Who may export: `ADMIN_ACTION_FOR["<view>.export_list"]` (core/roles.py)."""
        from core.admin.base import can_see_personal_data

        rows = self.list_rows_for_export()
        masked = not can_see_personal_data()
        name, header, table = self.export_table(rows, masked)
        audit("customers_exported", actor=current_user_or_none(), store=current_store(),
              details={"list": self.endpoint, "rows": len(table), "format": fmt, "masked": masked,
                       "search": request.args.get("search") or None})
        db.session.commit()
        return download(header, table, fmt, name)


