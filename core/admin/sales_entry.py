"""A sale entered by hand in the admin, for a shop without a connected till. It goes through the
till's own schema (`core.api.schemas.SaleIn`) and service (`core.services.sales.record_sale`):
the same validation, the modules' adjustments computed by the server (as a quote), the same
events. "Check" builds the sale in a transaction that is rolled back, so the person sees the
total and the adjustments before anything is written."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from core.admin.base import StoreView, current_store, current_user_or_none
from core.admin.formatting import DEFAULT_TZ
from core.access import customer_or_404
from core.admin.customer_page import user_scope
from core.errors import DomainError, NotFound
from core.services.phones import mask_phone
from core.extensions import db
from core.models import Product, Store, User

LINES = 6  # rows of the form; a hand-written receipt rarely has more


def readable_errors(fields: dict) -> list[str]:
    """The till API's field errors (`lines.0.sku`, `payments`...) as sentences for a person."""
    out = []
    for key in sorted(fields or {}, key=str):
        line = re.match(r"lines\.(\d+)\.(\w+)", str(key))
        if line:
            n, field = int(line.group(1)) + 1, line.group(2)
            out.append({
                "sku": _("Line %(n)d: pick a product.", n=n),
                "quantity": _("Line %(n)d: the quantity must be more than 0.", n=n),
                "unit_price": _("Line %(n)d: the price is not a valid amount.", n=n),
                "discount": _("Line %(n)d: the discount is larger than the line or than this store allows.", n=n),
            }.get(field, _("Line %(n)d is not valid.", n=n)))
        elif str(key).startswith("lines"):
            out.append(_("Add at least one product."))
        elif str(key).startswith("occurred_at"):
            out.append(_("The time is not valid: a sale cannot be dated in the future."))
        elif str(key).startswith("customer"):
            out.append(_("No customer has this phone number or card number."))
        elif str(key).startswith("staff"):
            out.append(_("Pick a salesperson of this store."))
        elif str(key).startswith(("adjustments", "payments")):
            out.append(_("The store's modules refused this sale's discounts or payment; check and try again."))
        else:
            out.append(_("The sale could not be recorded."))
    return out or [_("The sale could not be recorded.")]


def _flatten(messages, prefix="") -> dict:
    """marshmallow's nested messages ({"lines": {0: {"sku": [...]}}}) as `lines.0.sku` keys."""
    if isinstance(messages, dict):
        out = {}
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "_schema": messages}


class SaleEntryView(StoreView):
    """Enter a paper receipt: products, quantities, the customer's phone or card, the time."""

    @expose("/", methods=["GET", "POST"])
    def index(self):
        from core.api.schemas import SaleIn
        from core.services.sales import build_sale, record_sale

        store = current_store()
        if store is None:
            flash(_("Pick a store in the navbar first: a sale happens in a store."), "error")
            return self.render("storecrm/sale_entry.html", store=None, form={}, products=[], staff=[], lines=LINES,
                               preview=None, errors=[], buyer=None)
        form = request.form if request.method == "POST" else request.args
        products = list(db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)))
        staff = list(db.session.scalars(select(User).where(User.active.is_(True), User.stores.any(Store.id == store.id))
                                        .order_by(User.display_name, User.username)))
        errors: list[str] = []
        preview = None
        buyer = None
        if form.get("customer_id"):
            # From the customer page: the person is already identified (hidden field, checked here).
            try:
                buyer = customer_or_404(form.get("customer_id"), store_ids=user_scope())
            except NotFound:
                errors = [_("No such customer here.")]
                return self.render("storecrm/sale_entry.html", store=store, form={}, products=products, staff=staff,
                                   lines=LINES, preview=None, errors=errors, buyer=None)
        if request.method == "POST":
            user = current_user_or_none()
            try:
                data = SaleIn().load(self._payload(form, store, buyer))
            except ValidationError as exc:
                errors = readable_errors(_flatten(exc.messages))
            else:
                try:
                    if form.get("action") == "record":
                        sale, _created = record_sale(db.session, store, data, user=user, actor=user.username)
                        total = f"¥{sale.total:,.2f}"
                        flash(_("Sale recorded: %(total)s.", total=total), "success")
                        return redirect(url_for("sales.details_view", id=sale.id))
                    sale = build_sale(db.session, store, data, user=user, actor=user.username)
                    preview = {"subtotal": sale.subtotal, "total": sale.total,
                               "adjustments": [(a.label or a.code, a.amount) for a in sale.adjustments],
                               "customer": sale.customer.name if sale.customer else None}
                    db.session.rollback()  # a check writes nothing
                except DomainError as exc:
                    db.session.rollback()
                    errors = readable_errors(exc.fields or {"_schema": [exc.message]})
        return self.render("storecrm/sale_entry.html", store=store, form=form, products=products, staff=staff,
                           lines=LINES, preview=preview, errors=errors, buyer=buyer, mask_phone=mask_phone)

    @staticmethod
    def _payload(form, store, buyer=None) -> dict:
        """The till API's body from the form (strings; the schema converts and checks them)."""
        lines = []
        for i in range(LINES):
            sku = (form.get(f"sku_{i}") or "").strip()
            quantity = (form.get(f"quantity_{i}") or "").strip()
            if not sku and not quantity:
                continue
            line = {"sku": sku, "quantity": quantity or "1"}
            for field in ("unit_price", "discount"):
                value = (form.get(f"{field}_{i}") or "").strip()
                if value:
                    line[field] = value
            lines.append(line)
        data: dict = {"lines": lines, "channel": "store", "options": {}}
        who = (form.get("customer") or "").strip()
        if buyer is not None:
            data["customer"] = {"id": buyer.id}
        elif who:
            data["customer"] = {"phone": who} if sum(ch.isdigit() for ch in who) >= 7 else {"code": who}
        if (form.get("external_id") or "").strip():
            data["external_id"] = form["external_id"].strip()
        if (form.get("staff") or "").strip():
            data["staff"] = form["staff"].strip()
        if (form.get("note") or "").strip():
            data["note"] = form["note"].strip()
        when = (form.get("occurred_at") or "").strip()
        if when:
            try:
                local = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(store.timezone or DEFAULT_TZ))
                data["occurred_at"] = local.isoformat()
            except ValueError:
                data["occurred_at"] = when  # the schema names it
        return data


def register(admin) -> None:
    admin.add_view(SaleEntryView(name=_l("Enter a sale"), category=_l("Sales"), endpoint="sales_entry",
                                 url="/admin/sales/enter"))
