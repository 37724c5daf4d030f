"""/api/v1/membership/…: members, their ledger, tiers, the program and member days.

Mounted with `core.api.plugin_blueprint`, so every route answers 404 in a store that has not
enabled membership. A person's token names the store with `?store=` or the body's `store`."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from core.api import plugin_blueprint
from core.api.http import endpoint, keyset_page, principal
from core.errors import NotFound
from core.extensions import db
from core.plugins import HookContext
from core.access import customer_or_404
from plugins.membership import services
from plugins.membership.hooks import notifier
from plugins.membership.models import MemberDay, PointsEntry, Tier
from plugins.membership.schemas import (
    PointsAdjustmentIn, MembershipEnrolIn, PointsEntryOut, MembershipLedgerQuery, MemberDayIn, MemberDayOut, MemberDayPatch, MemberOut, ProgramSchema,
    RedemptionIn, MembershipStoreQuery, TierIn, TierLockIn, TierOut, TierPatch,
)

bp = plugin_blueprint("membership", __name__)


def _who():
    who = principal()
    return {"store": g.store, "user": who.user, "actor": who.name}


def _notify():
    from flask import current_app

    ctx = HookContext(session=db.session, store=g.store, user=principal().user, actor=principal().name,
                      registry=current_app.extensions["storecrm.plugins"], plugin="membership")
    return notifier(ctx)


MAX_ID = 2**31 - 1  # ids beyond the column's range cannot exist (and must not reach the database)


def _customer(customer_id: int):
    """The customer as the core's customer API shows them: 404 outside the caller's stores."""
    if customer_id > MAX_ID:
        raise NotFound(f"customer {customer_id} not found")
    return customer_or_404(customer_id)


def _row(model, row_id: int, what: str):
    row = db.session.get(model, row_id) if row_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


# --- members ---------------------------------------------------------------------------------------

@endpoint(bp, "/members/<int:customer_id>", "GET", summary="A customer's membership: tier, balance, spend, ledger",
          query=MembershipStoreQuery, response=MemberOut, errors=(401, 403, 404))
def get_member(customer_id, args):
    return services.member_view(db.session, _customer(customer_id))


@endpoint(bp, "/members/<int:customer_id>/ledger", "GET", summary="Every points entry of a member, newest last",
          query=MembershipLedgerQuery, response=PointsEntryOut, paginated=True, errors=(400, 401, 403, 404),
          operation_id="getMemberLedger")
def get_ledger(customer_id, args):
    _customer(customer_id)
    stmt = select(PointsEntry).where(PointsEntry.customer_id == customer_id)
    rows, next_cursor = keyset_page(stmt, PointsEntry.id, args.get("cursor"), args["limit"])
    return {"items": rows, "next_cursor": next_cursor}


@endpoint(bp, "/members/<int:customer_id>/adjustments", "POST", summary="Add or take points by hand (manager, audited)",
          body=PointsAdjustmentIn, response=MemberOut, status=201, role="manager", errors=(400, 401, 403, 404, 422), operation_id="adjustPoints")
def adjust(customer_id, body):
    customer = _customer(customer_id)
    services.adjust_points(db.session, customer, body["points"], body["reason"], **_who())
    db.session.commit()
    return services.member_view(db.session, customer), 201


@endpoint(bp, "/members/<int:customer_id>/redemptions", "POST",
          summary="Spend points on a gift; more than the balance is a 422", body=RedemptionIn, response=MemberOut,
          status=201, errors=(400, 401, 403, 404, 422), operation_id="redeemPoints")
def redeem(customer_id, body):
    customer = _customer(customer_id)
    services.redeem_points(db.session, customer, body["points"], body["reason"], **_who())
    db.session.commit()
    return services.member_view(db.session, customer), 201


@endpoint(bp, "/members/<int:customer_id>/enrol", "POST", summary="Make the customer a member at the first tier",
          body=MembershipEnrolIn, response=MemberOut, errors=(400, 401, 403, 404, 422), operation_id="enrolMember")
def enrol(customer_id, body):
    customer = _customer(customer_id)
    services.enrol(db.session, customer, notify=_notify(), **_who())
    db.session.commit()
    return services.member_view(db.session, customer)


@endpoint(bp, "/members/<int:customer_id>/tier-lock", "PUT",
          summary="Lock (or unlock) a member's tier, optionally setting it (manager)", body=TierLockIn,
          response=MemberOut, role="manager", errors=(400, 401, 403, 404, 422))
def tier_lock(customer_id, body):
    customer = _customer(customer_id)
    services.set_tier_lock(db.session, customer, body["locked"], body.get("tier"), notify=_notify(), **_who())
    db.session.commit()
    return services.member_view(db.session, customer)


# --- tiers -------------------------------------------------------------------------------------------

@endpoint(bp, "/tiers", "GET", summary="The program's tiers, lowest threshold first", query=MembershipStoreQuery,
          response=TierOut, many=True, errors=(401, 403), chain_wide=True)
def list_tiers(args):
    return list(db.session.scalars(select(Tier).order_by(Tier.threshold, Tier.id)))


@endpoint(bp, "/tiers", "POST", summary="Add a tier (owner)", body=TierIn, response=TierOut, status=201, role="owner",
          errors=(400, 401, 403, 409), chain_wide=True)
def create_tier(body):
    body.pop("store", None)
    data = {k: v for k, v in body.items() if v is not None}
    tier = services.save_tier(db.session, data, **_actor())
    db.session.commit()
    return tier, 201


@endpoint(bp, "/tiers/<int:tier_id>", "PATCH", summary="Change a tier (owner)", body=TierPatch, response=TierOut,
          role="owner", errors=(400, 401, 403, 404), chain_wide=True)
def patch_tier(tier_id, body):
    body.pop("store", None)
    tier = _row(Tier, tier_id, "tier")
    tier = services.save_tier(db.session, {k: v for k, v in body.items() if v is not None}, tier, **_actor())
    db.session.commit()
    return tier


def _actor():
    who = principal()
    return {"user": who.user, "actor": who.name}


# --- program -----------------------------------------------------------------------------------------

@endpoint(bp, "/program", "GET", summary="The chain-wide program rules", query=MembershipStoreQuery, response=ProgramSchema,
          errors=(401, 403), chain_wide=True)
def get_program(args):
    return services.get_program(db.session)


@endpoint(bp, "/program", "PATCH", summary="Change the program rules (owner)", body=ProgramSchema,
          response=ProgramSchema, role="owner", errors=(400, 401, 403), chain_wide=True)
def patch_program(body):
    body.pop("store", None)
    program = services.update_program(db.session, body, **_actor())
    db.session.commit()
    return program


# --- member days -----------------------------------------------------------------------------------

@endpoint(bp, "/member-days", "GET", summary="Member days (会员日)", query=MembershipStoreQuery, response=MemberDayOut, many=True,
          errors=(401, 403), chain_wide=True)
def list_member_days(args):
    return list(db.session.scalars(select(MemberDay).order_by(MemberDay.id)))


@endpoint(bp, "/member-days", "POST", summary="Add a member day (owner)", body=MemberDayIn, response=MemberDayOut,
          status=201, role="owner", errors=(400, 401, 403), chain_wide=True)
def create_member_day(body):
    body.pop("store", None)
    day = services.save_member_day(db.session, body, **_actor())
    db.session.commit()
    return day, 201


@endpoint(bp, "/member-days/<int:day_id>", "PATCH", summary="Change a member day (owner)", body=MemberDayPatch,
          response=MemberDayOut, role="owner", errors=(400, 401, 403, 404), chain_wide=True)
def patch_member_day(day_id, body):
    body.pop("store", None)
    day = _row(MemberDay, day_id, "member day")
    day = services.save_member_day(db.session, body, day, **_actor())
    db.session.commit()
    return day
from plugins.membership.rewards import api as _rewards_api  # noqa: E402,F401 - registers the rewards routes on bp
from plugins.membership.gifts import api as _gifts_api  # noqa: E402,F401 - registers the yearly gift routes on bp
from plugins.membership.events import api as _events_api  # noqa: E402,F401 - registers the member events routes on bp
