"""The program's configuration (program rules, active tiers, member days) as a read-only
snapshot, cached per process through the core's configuration cache (`core.config_cache`).

Program, Tier and MemberDay are configuration records (`__config_record__ = True`): any change
to them, through the API, the admin's forms or a script, bumps the core's configuration
version in the same transaction, so a change made by any process takes effect at the next
sale everywhere, with no TTL; a change rolled back never reaches a cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from plugins.membership.models import MemberDay, Program, Tier
from core.config_cache import cached


@dataclass(frozen=True)
class TierConf:
    id: int
    code: str
    name: str
    threshold: Decimal
    min_purchases: int | None
    points_rate: Decimal
    birthday_discount_percent: Decimal
    full_price_discount_percent: Decimal
    perks: tuple


@dataclass(frozen=True)
class MemberDayConf:
    id: int
    name: str
    weekday: int | None
    day_of_month: int | None
    discount_percent: Decimal
    points_multiplier: Decimal
    store_id: int | None

    def falls_on(self, day: date, store_id: int | None) -> bool:
        if self.store_id is not None and self.store_id != store_id:
            return False
        return self.weekday == day.weekday() or self.day_of_month == day.day


@dataclass(frozen=True)
class ProgramConf:
    qualification: str
    qualify_by: str
    refund_downgrade: str
    expiry_years: int
    points_per_yuan_redeemed: int
    redeem_max_percent: Decimal
    birthday_points_multiplier: Decimal
    birthday_window_days: int
    timezone: str


@dataclass(frozen=True)
class Config:
    program: ProgramConf
    tiers: tuple  # active tiers, lowest threshold first
    member_days: tuple
    # Statements built from this configuration, kept as long as it is current (sales.py).
    statements: dict = field(default_factory=dict, compare=False, repr=False)

    def tier(self, tier_id: int | None) -> TierConf | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def member_days_on(self, store_id: int | None, day: date) -> list[MemberDayConf]:
        return [md for md in self.member_days if md.falls_on(day, store_id)]


def load(session) -> Config:
    """A fresh snapshot (three SELECTs; the program row is created on first use)."""
    from plugins.membership.services.program import get_program

    fresh = {"populate_existing": True}  # what the database holds, not what this session loaded earlier
    program = session.scalars(select(Program).order_by(Program.id).limit(1).execution_options(**fresh)).first()
    if program is None:
        program = get_program(session)
    tiers = session.scalars(select(Tier).where(Tier.active.is_(True)).order_by(Tier.threshold, Tier.id)
                            .execution_options(**fresh))
    days = session.scalars(select(MemberDay).where(MemberDay.active.is_(True)).order_by(MemberDay.id)
                           .execution_options(**fresh))
    return Config(
        program=ProgramConf(program.qualification, program.qualify_by or "spend", program.refund_downgrade,
                            program.expiry_years, program.points_per_yuan_redeemed, program.redeem_max_percent,
                            program.birthday_points_multiplier, program.birthday_window_days, program.timezone),
        tiers=tuple(TierConf(t.id, t.code, t.name, t.threshold, t.min_purchases, t.points_rate,
                             t.birthday_discount_percent or Decimal("0"), t.full_price_discount_percent or Decimal("0"),
                             tuple(t.perks or ())) for t in tiers),
        member_days=tuple(MemberDayConf(d.id, d.name, d.weekday, d.day_of_month, d.discount_percent or Decimal("0"),
                                        d.points_multiplier or Decimal("1"), d.store_id) for d in days),
    )


def current(session) -> Config:
    """The configuration under the current version: this process's cached snapshot, loaded
    once per version. Outside an app, always loaded."""
    from flask import has_app_context

    if not has_app_context():
        return load(session)
    return cached("membership_config", None, lambda: load(session), session)
