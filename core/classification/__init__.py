"""Customer classification (domain.md "Customer classification"): amount, frequency, final
class, lifecycle, RFM and interests, per store and chain-wide.

- `compute`: the set-based SQL (nightly full recompute, per-customer update after each sale);
- `settings`: the thresholds, a validated record per store and one for the chain;
- `reasons`: each class with the numbers it was given on;
- `filters`: customers by class, for the API and the admin;
- `panels`: the customer-page panel and the dashboard counts.
"""

from __future__ import annotations


def init_classification(app) -> None:
    """Wire the classification into the app: filters, the customer panel, the dashboard
    widget (the admin renders the last two)."""
    from core.classification.filters import FILTERS
    from core.classification.panels import class_counts_widget, classification_panel

    app.extensions.setdefault("storecrm.class_filters", {}).update(FILTERS)
    app.extensions.setdefault("storecrm.core_panels", []).append(classification_panel)
    app.extensions.setdefault("storecrm.core_widgets", []).append(class_counts_widget)
