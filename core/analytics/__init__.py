"""Sales statistics (domain.md "Sales statistics"): amounts, counts and average tickets per
day, week and month in each store's time zone; product ranking; purchase preference by
season, weekday and hour; a forecast of the coming weeks with its method and backtest error.

`stats` holds the queries (plain functions on a session), `forecast` the model."""
