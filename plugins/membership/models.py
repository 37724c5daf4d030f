"""Membership tables (all prefixed `membership_`): one chain-wide program, its tiers, each
customer's membership account, the points ledger, counted spend and member days."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import MONEY, UTCDateTime, utcnow

RATE = Numeric(6, 2, asdecimal=True)
PERCENT = Numeric(5, 2, asdecimal=True)

QUALIFICATIONS = ("lifetime", "rolling_12m")
# What reaches a tier (seed 000: 根据客户的消费金额或消费次数): spend, number of purchases, or either.
QUALIFY_BY = ("spend", "purchases", "either")
REFUND_DOWNGRADES = ("immediate", "at_review")
ENTRY_KINDS = ("earn", "redeem", "expire", "adjust", "reverse")


class Program(db.Model):
    """The business's one loyalty program: the rules every store that enables membership shares."""

    __tablename__ = "membership_program"
    __config_record__ = True  # cached per process (core/config_cache.py, services/config.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    # lifetime: seed 000's 累计消费; rolling_12m: the last 12 months, with a yearly review (保级).
    qualification: Mapped[str] = mapped_column(String(16), default="lifetime")
    # Whether a refund that drops spend below a threshold downgrades at once or at the review.
    refund_downgrade: Mapped[str] = mapped_column(String(16), default="immediate")
    review_month: Mapped[int] = mapped_column(SmallInteger, default=1)
    review_day: Mapped[int] = mapped_column(SmallInteger, default=1)
    last_review_on: Mapped[date | None] = mapped_column(Date)
    # Points expire at the end of the year this many years after they were earned (0 = never).
    expiry_years: Mapped[int] = mapped_column(SmallInteger, default=1)
    points_per_yuan_redeemed: Mapped[int] = mapped_column(Integer, default=100)  # 100 points = ¥1
    redeem_max_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("50"))
    birthday_points_multiplier: Mapped[Decimal] = mapped_column(RATE, default=Decimal("2"))  # seed 002
    birthday_window_days: Mapped[int] = mapped_column(SmallInteger, default=3)  # ±3 days: the birthday week
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    qualify_by: Mapped[str] = mapped_column(String(16), default="spend")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Tier(db.Model):
    """A membership tier (会员等级): an admin edits its threshold, rate and perks."""

    __tablename__ = "membership_tier"
    __config_record__ = True  # cached per process (core/config_cache.py, services/config.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # ordinary, silver, gold: what the API says
    name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[Decimal] = mapped_column(MONEY)  # spend that qualifies; exactly on it qualifies
    # Purchases that qualify (exactly that many qualifies), when the program counts purchases.
    min_purchases: Mapped[int | None] = mapped_column(Integer)
    points_rate: Mapped[Decimal] = mapped_column(RATE)  # points per ¥1 paid
    birthday_discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    # Seed 002's loyal-member price: a discount on full-price goods (9折 = 10).
    full_price_discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    # A standing discount on every sale (seed 000: gold's 更高的折扣); the best one member discount wins.
    standing_discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    perks: Mapped[list] = mapped_column(JSON, default=list)  # e.g. ["event_priority", "exclusive_gift"]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Tier {self.code} ¥{self.threshold}>"

    def __str__(self) -> str:
        return self.name


class Member(db.Model):
    """A customer's membership account. The row exists once the customer bought in a store with
    membership on (to count spend); `tier_id` is set once they are a member."""

    __tablename__ = "membership_member"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tier.id", ondelete="RESTRICT"), index=True)
    tier_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_by: Mapped[str | None] = mapped_column(String(16))  # spend | manual
    # Who signed the member up, where (staff_kpi's "new members" via `kpi_metrics`): the
    # salesperson of the sale that reached the first tier, or the person who enrolled them by hand.
    enrolled_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    enrolled_staff_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                          index=True)
    enrolled_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept in step with the ledger and the spend rows in the same transaction, under this
    # row's lock; the ledger stays the truth (a test checks they agree).
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_spend: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    # Sales with something paid, less those refunded in full: what qualification by purchases counts.
    purchase_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tier: Mapped[Tier | None] = relationship()
    customer = relationship("Customer")

    @property
    def is_member(self) -> bool:
        return self.tier_id is not None


class PointsEntry(db.Model):
    """One change of a member's points (积分): the balance is the sum of `points`.

    Positive entries (earn, positive adjust, reverse of a redemption) are lots with an expiry
    date and a `remaining` count that redemptions draw from, soonest-expiring first."""

    __tablename__ = "membership_points_entry"
    __table_args__ = (
        Index("ix_membership_points_entry_lots", "customer_id", "remaining", "expires_on"),
        Index("ix_membership_points_entry_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    expires_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300), default="")
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refund.id", ondelete="SET NULL"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    # What made this entry, once: "earn:sale:12", "reverse:refund:4". A redelivered event finds
    # its entry and adds nothing.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Spend(db.Model):
    """Spend counted towards tiers: + for a sale, - for its refunds, dated at the sale so a
    refund leaves the same 12-month window as the purchase it undoes."""

    __tablename__ = "membership_spend"
    __table_args__ = (Index("ix_membership_spend_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id", ondelete="SET NULL"))
    source_key: Mapped[str] = mapped_column(String(100), unique=True)


class MemberDay(db.Model):
    """A member day (会员日): every given weekday or day of the month, with an extra discount
    and/or a points multiplier. `store_id` None means every store."""

    __tablename__ = "membership_member_day"
    __config_record__ = True  # cached per process (core/config_cache.py, services/config.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    weekday: Mapped[int | None] = mapped_column(SmallInteger)  # 0 = Monday … 6 = Sunday
    day_of_month: Mapped[int | None] = mapped_column(SmallInteger)
    discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    points_multiplier: Mapped[Decimal] = mapped_column(RATE, default=Decimal("1"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)

    def falls_on(self, day: date) -> bool:
        if self.weekday is not None and day.weekday() == self.weekday:
            return True
        return self.day_of_month is not None and day.day == self.day_of_month


from plugins.membership.gifts.models import Gift, GiftPlan  # noqa: E402,F401 - the yearly gift's tables
from plugins.membership.events.models import EventInvitation, EventRegistration, MemberEvent  # noqa: E402,F401
from plugins.membership.rewards.models import Reward, RewardRedemption  # noqa: E402,F401 - the catalogue's tables
