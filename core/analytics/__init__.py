"""Sales statistics (domain.md "Sales statistics"): amounts, counts and average tickets per
day, week and month in each store's time zone; product ranking; purchase preference by
season, weekday and hour; a forecast of the coming weeks with its method and backtest error.

`stats` holds the queries (plain functions on a session), `forecast` the model."""


def init_analytics(app) -> None:
    """Mount the admin pages of analytics, file import and classification settings."""
    admin = app.extensions.get("storecrm.admin")
    if admin is None:
        return
    from core.analytics.admin import register as register_analytics
    from core.classification.admin import register as register_classification
    from core.imports.admin import register as register_imports

    register_analytics(admin)
    register_imports(admin)
    register_classification(admin)
