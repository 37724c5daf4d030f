"""The rewards catalogue in the admin: the owner's catalogue editor, the counter's redemption
form on the customer page (a reward picked by name, never an id typed) and the list of
redemptions with the manager's return button."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from wtforms.validators import NumberRange

from core.access import customer_or_404, record_or_404, visible_customers
from core.admin.base import StoreModelView, StoreView, current_store, current_user_or_none, scope_store_ids
from core.errors import DomainError, NotFound
from core.extensions import db
from core.models import Customer, Product, utcnow
from core.plugins import HookContext
from core.roles import may, role_for
from plugins.membership.rewards import services as rewards
from plugins.membership.rewards.models import Reward, RewardRedemption

KIND_LABELS = {"goods": _l("Goods"), "service": _l("Service")}
STATE_LABELS = {"redeemed": _l("Redeemed"), "returned": _l("Returned")}


def _ctx(store) -> HookContext:
    user = current_user_or_none()
    return HookContext(session=db.session, store=store, user=user, actor=user.username if user else "system",
                       registry=current_app.extensions["storecrm.plugins"], plugin="membership")


def panel(customer, view: dict) -> dict:
    """The rewards panel of a member's customer page: redeem by name, see and return."""
    from plugins.membership import services as membership
    from plugins.membership.gifts import services as gifts

    user = current_user_or_none()
    today = membership.local_date(utcnow(), membership.get_program(db.session).timezone)
    html = render_template("membership/rewards_panel.html", customer=customer, balance=view["points_balance"],
                           gift=gifts.available(db.session, customer.id, today),
                           rewards=rewards.catalogue(db.session), recent=rewards.redemptions_of(db.session, customer.id),
                           KIND_LABELS=KIND_LABELS, STATE_LABELS=STATE_LABELS,
                           can_redeem=may(user, "membership.rewards.redeem"),
                           can_return=may(user, "membership.rewards.return"))
    return {"title": _("Rewards for points"), "html": Markup(html), "order": 21}


class RewardView(StoreModelView):
    """The catalogue (积分兑换): one for the chain, kept by the owner."""

    plugin = "membership"
    min_role = role_for("membership.rewards.catalogue")
    can_delete = False  # redemptions point at their reward; switch it off instead
    column_list = ["name", "kind", "points", "sku", "active"]
    form_columns = ["name", "kind", "points", "sku", "description", "active"]
    column_labels = {"name": _l("Name"), "kind": _l("Kind"), "points": _l("Points"),
                     "sku": _l("Product SKU (stock kept by inventory)"), "description": _l("Description"),
                     "active": _l("Offered")}
    column_formatters = {"kind": lambda v, c, m, n: KIND_LABELS.get(m.kind, m.kind)}
    form_choices = {"kind": [("goods", _l("Goods")), ("service", _l("Service"))]}
    form_args = {"points": {"validators": [NumberRange(min=1)]}}
    column_default_sort = "points"

    def on_model_change(self, form, model, is_created):
        if model.sku and db.session.scalar(select(Product.id).where(Product.sku == model.sku)) is None:
            raise ValueError(_("No product with this SKU in the catalogue."))
        return super().on_model_change(form, model, is_created)


def _visible_customer_ids():
    user = current_user_or_none()
    if user is not None and user.role == "owner" and current_store() is None:
        return None
    return select(Customer.id).where(visible_customers(scope_store_ids()))


class RedemptionView(StoreView):
    """Redemptions of the customers these stores see; redeem and return post here."""

    plugin = "membership"
    min_role = role_for("membership.rewards.redeem")

    @expose("/")
    def index(self):
        stmt = select(RewardRedemption).order_by(RewardRedemption.id.desc()).limit(100)
        visible = _visible_customer_ids()
        if visible is not None:
            stmt = stmt.where(RewardRedemption.customer_id.in_(visible))
        return self.render("membership/redemptions.html", rows=list(db.session.scalars(stmt)),
                           KIND_LABELS=KIND_LABELS, STATE_LABELS=STATE_LABELS,
                           can_return=may(current_user_or_none(), "membership.rewards.return"))

    @expose("/redeem", methods=["POST"])
    def redeem(self):
        customer_id = request.form.get("customer_id", type=int) or 0
        try:
            customer = customer_or_404(customer_id)
        except NotFound:
            abort(404)
        store = current_store()
        if store is None:
            flash(_("Pick a store in the navbar first: a customer is served in a store."), "error")
            return redirect(url_for("customers.page", customer_id=customer.id))
        user = current_user_or_none()
        try:
            reward = rewards.reward_or_404(db.session, request.form.get("reward_id", type=int) or 0)
            row = rewards.redeem(db.session, customer, reward, request.form.get("quantity", type=int) or 1,
                                 store=store, stock=rewards.stock_keeper(_ctx(store)), user=user, actor=user.username)
            db.session.commit()
            flash(_("%(reward)s ×%(quantity)s for %(points)s points.", reward=reward.name, quantity=row.quantity,
                    points=row.points), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(_("Not redeemed: %(why)s", why=_reason(exc)), "error")
        return redirect(url_for("customers.page", customer_id=customer.id))

    @expose("/<int:redemption_id>/return", methods=["POST"])
    def give_back(self, redemption_id):
        user = current_user_or_none()
        if not may(user, "membership.rewards.return"):
            abort(403)
        try:
            record_or_404(RewardRedemption, redemption_id)
            row = rewards.redemption_or_404(db.session, redemption_id, lock=True)
        except NotFound:
            abort(404)
        store = current_store() or row.store
        try:
            rewards.give_back(db.session, row, request.form.get("reason") or "", store=store,
                              stock=rewards.stock_keeper(_ctx(store)), user=user, actor=user.username)
            db.session.commit()
            if row.points_expired:
                flash(_("Returned: %(back)s points back; %(gone)s points had expired meanwhile and are gone.",
                        back=row.points_returned, gone=row.points_expired), "warning")
            else:
                flash(_("Returned: %(back)s points back.", back=row.points_returned), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(_("Not returned: %(why)s", why=_reason(exc)), "error")
        back = request.form.get("next") or ""
        return redirect(back if back.startswith("/admin/") else url_for("customers.page", customer_id=row.customer_id))


def _reason(exc: DomainError) -> str:
    """The refusal in the reader's language, by the field it names (services speak English)."""
    fields, details = getattr(exc, "fields", None) or {}, getattr(exc, "details", None) or {}
    if "points" in fields:
        return _("the balance is %(balance)s points.", balance=details.get("balance", 0))
    if "customer_id" in fields:
        return _("not a member.")
    if "reward_id" in fields:
        return _("this reward is no longer offered.")
    if "quantity" in fields:
        return _("a quantity from 1 to %(most)s.", most=rewards.MAX_QUANTITY)
    if "stock" in fields:
        return _("only %(available)s in stock here.", available=details.get("available", 0))
    if "state" in fields:
        return _("already returned.")
    if "reason" in fields:
        return _("say why it is returned.")
    return _("refused.")


def register(admin, category) -> None:
    admin.add_view(RewardView(Reward, db, name=_l("Rewards catalogue"), category=category,
                              endpoint="membership_rewards", url="/admin/membership/rewards"))
    admin.add_view(RedemptionView(name=_l("Reward redemptions"), category=category,
                                  endpoint="membership_redemptions", url="/admin/membership/redemptions"))
