"""Sales statistics (domain.md "Sales statistics"): amounts, counts and average tickets per
day, week and month in each store's time zone; product ranking; purchase preference by
season, weekday and hour; a forecast of the coming weeks with its method and backtest error.

`stats` holds the queries (plain functions on a session), `forecast` the model."""


def init_analytics(app) -> None:
    """Mount the admin pages of this issue (analytics charts, file import) on the app's admin."""
    admin = app.extensions.get("storecrm.admin")
    if admin is None:
        return
    from core.analytics.admin import register as register_analytics
    from core.imports.admin import register as register_imports

    register_analytics(admin)
    register_imports(admin)
