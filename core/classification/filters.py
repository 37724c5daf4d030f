"""Filtering customers by class, for the API's customer search and the admin's customer list.

Both look the filters up in `app.extensions["storecrm.class_filters"]`, with two call shapes:
the API calls `flt(stmt, value, store_ids)` and gets the statement narrowed; the admin calls
`flt()` and gets Flask-Admin filters. One object per class serves both, so a class is added
in one place."""

from __future__ import annotations

from sqlalchemy import and_, exists

from core.classification.models import CHAIN_SCOPE, CustomerClass
from core.classification.rules import (
    AMOUNT_CLASSES, FINAL_CLASSES, FREQUENCY_CLASSES, LIFECYCLES, RFM_SEGMENT_NAMES, SEGMENT_LABELS, final_label, label,
    lifecycle_label,
)
from flask_babel import lazy_gettext as _l

from core.errors import InvalidInput
from core.models import Customer

# The value that means "never bought in this scope": no CustomerClass row there.
PROSPECT_VALUES = {"final_class": "prospect", "lifecycle": "prospect", "rfm_segment": "prospects"}


def class_condition(key: str, value: str, store_ids: list[int] | None):
    """A WHERE condition on Customer: has class `key` = `value` in any of the stores, or in the
    chain when `store_ids` is None."""
    scopes = [CHAIN_SCOPE] if store_ids is None else list(store_ids)
    in_scope = and_(CustomerClass.customer_id == Customer.id, CustomerClass.scope_id.in_(scopes))
    if PROSPECT_VALUES.get(key) == value:
        return ~exists().where(in_scope)
    return exists().where(in_scope, getattr(CustomerClass, key) == value)


class ClassFilter:
    def __init__(self, key: str, values: tuple[str, ...], labeller):
        self.key = key
        self.values = values
        self.labeller = labeller

    def __call__(self, stmt=None, value=None, store_ids=None):
        if stmt is None:
            return self.admin_filters()
        if value not in self.values:
            raise InvalidInput(f"unknown {self.key} {value!r}",
                               fields={self.key: [f"Must be one of: {', '.join(self.values)}."]})
        return stmt.where(class_condition(self.key, value, store_ids))

    def admin_filters(self):
        from flask_admin.contrib.sqla.filters import BaseSQLAFilter
        from flask_babel import LazyString, get_locale

        key, labeller = self.key, self.labeller

        class Filter(BaseSQLAFilter):
            def apply(self, query, value, alias=None):
                from core.admin.base import current_store

                store = current_store()
                return query.filter(class_condition(key, value, None if store is None else [store.id]))

            def operation(self):
                return "="

            def get_options(self, view):
                # Called once at start-up: each label is lazy, read in the page's language.
                return [(v, LazyString(lambda v=v: labeller(v, str(get_locale() or "en")))) for v in self.values_]

        flt = Filter(Customer.id, _FILTER_NAMES[key])
        flt.values_ = self.values
        return [flt]


# Lazy: Flask-Admin builds its filters once, at start-up; each page reads them in its language.
_FILTER_NAMES = {"final_class": _l("Final class"), "lifecycle": _l("Lifecycle"),
                 "amount_class": _l("Spend class"), "frequency_class": _l("Frequency class"),
                 "rfm_segment": _l("RFM segment")}


def _segment_label(value, lang="en"):
    en, zh = SEGMENT_LABELS[value]
    return zh if lang.startswith("zh") else en


FILTERS = {
    "final_class": ClassFilter("final_class", FINAL_CLASSES, final_label),
    "lifecycle": ClassFilter("lifecycle", LIFECYCLES, lifecycle_label),
    "amount_class": ClassFilter("amount_class", AMOUNT_CLASSES, label),
    "frequency_class": ClassFilter("frequency_class", FREQUENCY_CLASSES, label),
    "rfm_segment": ClassFilter("rfm_segment", RFM_SEGMENT_NAMES, _segment_label),
}
