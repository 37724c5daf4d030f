"""Forecast of the coming weeks' sales: Holt-Winters exponential smoothing (statsmodels) on
net sales per day, additive damped trend and additive weekly seasonality (7 days).

The backtest refits the same model without the last 4 weeks, forecasts them, and reports the
error against what really sold: MAPE of the weekly totals (daily MAPE is undefined on closed
days with no sales) and MAE per day."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from decimal import Decimal

from core.analytics.stats import daily_amounts

METHOD = "Holt-Winters exponential smoothing (statsmodels ExponentialSmoothing: additive damped trend, additive weekly seasonality, seasonal_periods=7)"
FALLBACK = "seasonal naive (each weekday as in the last week)"
SEASON = 7
BACKTEST_DAYS = 28
MIN_FIT_DAYS = 3 * SEASON  # Holt-Winters needs at least two full seasons; three for a sane fit


def _fit_predict(values: list[float], horizon: int) -> tuple[list[float], str]:
    if len(values) < MIN_FIT_DAYS or not any(values):
        last_week = (values[-SEASON:] if len(values) >= SEASON else [0.0] * SEASON)
        return [last_week[i % SEASON] for i in range(horizon)], FALLBACK
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short, flat series
        model = ExponentialSmoothing(np.asarray(values, dtype=float), trend="add", damped_trend=True,
                                     seasonal="add", seasonal_periods=SEASON, initialization_method="estimated")
        fitted = model.fit(optimized=True)
        predicted = fitted.forecast(horizon)
    return [max(float(v), 0.0) for v in predicted], METHOD


def _weekly(values: list[float]) -> list[float]:
    return [sum(values[i:i + SEASON]) for i in range(0, len(values) - SEASON + 1, SEASON)]


def forecast_sales(session, store_ids: list[int] | None, weeks: int = 4, history_days: int = 182,
                   today: date | None = None) -> dict:
    """Forecast `weeks` weeks from up to `history_days` days of history, with its backtest."""
    days, amounts = daily_amounts(session, store_ids, history_days, today)
    values = [float(a) for a in amounts]
    while values and values[0] == 0:  # a store opened recently: no leading empty months
        values.pop(0)
        days.pop(0)
    horizon = weeks * SEASON
    start = (days[-1] if days else (today or date.today()) - timedelta(days=1)) + timedelta(days=1)
    predicted, method = _fit_predict(values, horizon)
    daily = [{"date": start + timedelta(days=i), "amount": _money(v)} for i, v in enumerate(predicted)]
    weekly = [{"week_start": start + timedelta(days=SEASON * i), "amount": _money(v)}
              for i, v in enumerate(_weekly(predicted))]
    backtest = None
    if len(values) >= BACKTEST_DAYS + MIN_FIT_DAYS:
        train, actual = values[:-BACKTEST_DAYS], values[-BACKTEST_DAYS:]
        guess, bt_method = _fit_predict(train, BACKTEST_DAYS)
        actual_weeks, guess_weeks = _weekly(actual), _weekly(guess)
        pairs = [(a, g) for a, g in zip(actual_weeks, guess_weeks) if a > 0]
        mape = round(100 * sum(abs(a - g) / a for a, g in pairs) / len(pairs), 1) if pairs else None
        backtest = {
            "method": bt_method, "days": BACKTEST_DAYS, "from": days[-BACKTEST_DAYS], "to": days[-1],
            "mape_weekly_percent": mape,
            "mae_daily": _money(sum(abs(a - g) for a, g in zip(actual, guess)) / BACKTEST_DAYS),
            "weeks": [{"week_start": days[-BACKTEST_DAYS] + timedelta(days=SEASON * i), "actual": _money(a),
                       "forecast": _money(g)} for i, (a, g) in enumerate(zip(actual_weeks, guess_weeks))],
        }
    return {"method": method, "history_days": len(values), "weeks": weeks, "daily": daily, "weekly": weekly,
            "backtest": backtest,
            "history": [{"date": d, "amount": _money(v)} for d, v in zip(days[-BACKTEST_DAYS:], values[-BACKTEST_DAYS:])]}


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))
