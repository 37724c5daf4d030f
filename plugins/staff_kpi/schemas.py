"""marshmallow schemas: the per-store settings and the staff_kpi API's input and output."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

REFUND_ATTRIBUTIONS = ("refund_period", "sale_period")
COMMISSION_BASES = ("sales", "gross_profit")
TIER_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:：]\s*(\d+(?:\.\d+)?)\s*$")
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

Money = lambda **kw: fields.Decimal(as_string=True, places=2, allow_nan=False, **kw)  # noqa: E731


class Strict(Schema):
    class Meta:
        ordered = True


def parse_tiers(entries) -> list[tuple[Decimal, Decimal]]:
    """["0:1", "80:2", "100:3"] -> [(0, 1), (80, 2), (100, 3)]: from this attainment (%) up,
    this commission rate (%). Raises ValueError naming the bad entry."""
    tiers = []
    for entry in entries:
        match = TIER_PATTERN.match(str(entry))
        if not match:
            raise ValueError(f"{entry!r} is not 'attainment%:rate%' (e.g. 80:2)")
        try:
            tiers.append((Decimal(match.group(1)), Decimal(match.group(2))))
        except InvalidOperation as exc:  # pragma: no cover - the pattern only lets numbers through
            raise ValueError(str(exc)) from exc
    if not tiers:
        raise ValueError("give at least one tier, e.g. 0:1")
    thresholds = [t for t, _r in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise ValueError("two tiers start at the same attainment")
    if any(r > 100 for _t, r in tiers):
        raise ValueError("a rate above 100% is not a commission")
    return sorted(tiers)


def _check_tiers(entries) -> None:
    try:
        parse_tiers(entries)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class StaffKpiSettings(Strict):
    """Per store. Defaults: refunds count in the period of the refund, a 30-day repurchase
    window, commission on net sales at 1% / 2% / 3% from 0% / 80% / 100% of target."""

    refund_attribution = fields.String(
        load_default="refund_period",
        validate=validate.OneOf(REFUND_ATTRIBUTIONS, labels=[_l("In the period of the refund"),
                                                              _l("In the period of the original sale")]),
        metadata={"label": _l("Refunds lower the figures"),
                  "description": _l("of the salesperson of the original sale, in this period")})
    repurchase_window_days = fields.Integer(
        load_default=30, validate=validate.Range(min=1, max=365),
        metadata={"label": _l("Repurchase window (days)"),
                  "description": _l("a customer served counts as repurchased when they buy again in the store within this many days")})
    commission_basis = fields.String(
        load_default="sales",
        validate=validate.OneOf(COMMISSION_BASES, labels=[_l("Net sales"), _l("Gross profit")]),
        metadata={"label": _l("Commission on")})
    commission_tiers = fields.List(
        fields.String(), load_default=lambda: ["0:1", "80:2", "100:3"], validate=_check_tiers,
        metadata={"label": _l("Commission tiers"),
                  "description": _l("attainment%:rate%, comma separated: from that share of the target up, that rate")})


# --- API ------------------------------------------------------------------------------------------

class ReportQuery(Strict):
    store = fields.String(metadata={"description": "store code (a till's token implies it)"})
    period = fields.String(validate=validate.OneOf(("day", "week", "month", "custom")), load_default="custom",
                           metadata={"description": "day, week or month containing `from`; custom: from..to"})
    from_ = fields.Date(data_key="from", required=True, metadata={"description": "first local day (YYYY-MM-DD)"})
    to = fields.Date(metadata={"description": "last local day, inclusive (custom periods; default: `from`)"})

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")
        if data.get("to") and (data["to"] - data["from_"]).days > 366 * 3:
            raise ValidationError("at most three years", "to")


class MonthQuery(Strict):
    store = fields.String(metadata={"description": "store code (a till's token implies it)"})
    month = fields.String(required=True, validate=validate.Regexp(MONTH_PATTERN, error="YYYY-MM"))


class ExportQuery(MonthQuery):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class TargetIn(Strict):
    store = fields.String(load_only=True, metadata={"description": "store code (a till's token implies it)"})
    amount = Money(allow_none=True, validate=validate.Range(min=0, max=100_000_000),
                   metadata={"description": "net sales target for the month"})
    metrics = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=80)),
                          values=fields.Decimal(allow_nan=False, validate=validate.Range(min=-1_000_000, max=1_000_000)),
                          load_default=dict,
                          metadata={"description": "targets of other metrics by name, e.g. {\"repurchase_rate\": 40}"})


class TargetOut(Strict):
    username = fields.String()
    month = fields.String()
    amount = Money(allow_none=True)
    metrics = fields.Dict(keys=fields.String(), values=fields.String())


class FigureRow(Strict):
    """Every figure of one salesperson; money as decimal strings, rates in percent."""

    username = fields.String(allow_none=True, metadata={"description": "null: sales with no salesperson"})
    display_name = fields.String()
    sales_amount = Money()
    sales_count = fields.Integer()
    units = fields.String()
    refund_amount = Money()
    refund_count = fields.Integer()
    net_amount = Money()
    gross_profit = Money()
    margin_percent = fields.String(allow_none=True)
    uncosted_amount = Money(metadata={"description": "net sales of lines without a cost: not in gross profit"})
    average_ticket = Money(allow_none=True)
    customers_served = fields.Integer()
    customers_repurchased = fields.Integer()
    repurchase_rate = fields.String(allow_none=True)
    new_customers = fields.Integer()
    profiles_created = fields.Integer()
    metrics = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                          metadata={"description": "what other plugins contribute through kpi_metrics"})
    target_amount = Money(allow_none=True)
    attainment_percent = fields.String(allow_none=True)


class MetricDefinitionOut(Strict):
    name = fields.String()
    label = fields.String()
    format = fields.String()
    higher_is_better = fields.Boolean()


class ReportOut(Strict):
    store = fields.String()
    first_day = fields.Date()
    last_day = fields.Date()
    refund_attribution = fields.String()
    repurchase_window_days = fields.Integer()
    rows = fields.List(fields.Nested(FigureRow))
    totals = fields.Nested(FigureRow)
    metric_definitions = fields.List(fields.Nested(MetricDefinitionOut))


class LeaderboardRow(FigureRow):
    rank = fields.Integer()


class LeaderboardOut(Strict):
    store = fields.String()
    month = fields.String()
    rows = fields.List(fields.Nested(LeaderboardRow))


class CommissionRow(Strict):
    username = fields.String()
    display_name = fields.String()
    basis = fields.String()
    basis_amount = Money()
    target_amount = Money(allow_none=True)
    attainment_percent = fields.String(allow_none=True)
    rate_percent = fields.String()
    payout = Money()


class CommissionOut(Strict):
    store = fields.String()
    month = fields.String()
    basis = fields.String()
    tiers = fields.List(fields.String())
    rows = fields.List(fields.Nested(CommissionRow))
    total_payout = Money()
