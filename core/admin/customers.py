"""Customers in the admin: the list, the counter lookup, the customer page and its quick actions."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, has_app_context, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

from core.admin.messages import describe, translate, translate_fields
from core.admin.base import (
    StoreModelView, accessible_stores, can_see_personal_data, current_store, current_user_or_none, registry,
    scope_store_ids,
)
from core.admin.customer_page import (
    CHANNEL_LABELS, birthday_text, collect_panels, consent_source_label, customer_tiles, source_label, user_scope,
    view_scope,
)
from core.admin.customer_search import LAST4_LIMIT, is_last4, search_clause
from core.admin.customer_columns import CustomerListMixin, class_label, fact_formatters, figures_of
from core.admin.local_date_filters import local_day_filters
from core.admin.timeline import consent_rows, customer_scope, timeline
from core.audit import audit
from core.errors import Conflict, DomainError
from core.extensions import db
from core.models import Customer, CustomerTag
from core.models.customer import CONSENT_CHANNELS
from core.plugins import HookContext
from core.services import customers as customer_service
from core.services.counter import find_presented, seen_ids
from core.services.counter import serve_here as serve_customer_here
from core.services.phones import mask_email, mask_phone, national, try_normalise_phone
from core.services.priority import customer_priorities

log = logging.getLogger(__name__)
PROFILE_FIELDS = ("name", "gender", "birthday", "occupation", "household", "personality", "hobbies", "needs", "notes",
                  "wechat_id", "tags", "home_store", "code")
CONTACT_FIELDS = ("phone", "email", "address")


def _form_value(customer: Customer, field: str) -> str:
    if field in ("hobbies", "tags"):
        return ", ".join(getattr(customer, field) or [])
    if field == "home_store":
        return customer.home_store.code if customer.home_store else ""
    if field == "phone":
        return national(customer.phone) if customer.phone else ""
    return getattr(customer, field) or ""


def parse_preferences(text: str) -> dict:
    """`coffee: hot, no sugar` per line (a full-width colon works too) → {"coffee": "hot, no sugar"}."""
    prefs: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.replace("：", ":").partition(":")
        if not sep:
            key, value = line, ""
        if key.strip():
            prefs[key.strip()] = value.strip()
    return prefs


class TagFilter(BaseSQLAFilter):
    def apply(self, query, value, alias=None):
        return query.filter(Customer.tag_rows.any(CustomerTag.tag == value))

    def operation(self):
        return _l("is")


def _tag_options():
    if not has_request_context():
        return []  # computed per request; at start-up there is no database session yet
    return [(t, t) for t in db.session.scalars(select(CustomerTag.tag).distinct().order_by(CustomerTag.tag).limit(200))]


def _store_options():
    if not has_request_context():
        return []
    return [(str(s.id), f"{s.code} · {s.name}") for s in accessible_stores()]


def _name_link(view, context, model, name):
    return Markup('<a href="{}">{}</a>').format(url_for("customers.page", customer_id=model.id), model.name or "—")


def _masked_phone(view, context, model, name):
    return mask_phone(model.phone) or ""


def _tags(view, context, model, name):
    return Markup(" ").join(Markup('<span class="badge badge-info">{}</span>').format(t) for t in model.tags)


def _last_purchase_at():
    """The customer's latest sale in the stores the list covers (a correlated MAX per row)."""
    from core.models import Sale

    return (select(func.max(Sale.occurred_at))
            .where(Sale.customer_id == Customer.id, Sale.store_id.in_(scope_store_ids()))
            .correlate(Customer).scalar_subquery())


class CustomerView(CustomerListMixin, StoreModelView):
    """The customer list; the customer page and the counter lookup live here too."""

    can_create = False  # profiles are created through the service (phone hashing, events)
    can_edit = False
    can_delete = False  # erasure is a privacy request, not a delete button
    can_view_details = False
    list_template = "storecrm/customer_list.html"
    column_list = ["name", "phone", "home_store", "customer_class", "spend", "visits", "last_purchase", "tags",
                   "source_channel", "created_at"]
    column_labels = {"name": _l("Name"), "phone": _l("Phone"), "home_store": _l("Home store"), "tags": _l("Tags"),
                     "source_channel": _l("Source"), "created_at": _l("Created"), "code": _l("Card number"),
                     "wechat_id": _l("WeChat"), "customer_class": _l("Class"), "spend": _l("Spend"),
                     "visits": _l("Purchases"), "last_purchase": _l("Last purchase")}
    column_sortable_list = ["name", "created_at"]
    column_default_sort = ("created_at", True)
    column_formatters = {"name": _name_link, "phone": _masked_phone, "tags": _tags,
                         "source_channel": lambda v, c, m, n: source_label(m.source_channel),
                         **fact_formatters(lambda m: m.id)}

    def figure_scope(self):
        return view_scope()

    def export_table(self, rows, masked):
        from core.admin.formatting import local_datetime

        header = [str(self.column_labels[k]) for k in ("name", "phone", "home_store", "customer_class", "spend",
                                                      "visits", "last_purchase", "created_at")]
        header.insert(3, _("Birthday"))
        table = []
        for c in rows:
            facts = figures_of(c.id)
            phone = mask_phone(c.phone) if masked else (national(c.phone) if c.phone else "")
            table.append([c.name or "", phone or "", c.home_store.name if c.home_store else "", birthday_text(c),
                          class_label(c.id), facts["spend"], facts["visits"],
                          local_datetime(facts["last_purchase_at"], current_store()),
                          local_datetime(c.created_at, current_store())])
        return _("customers"), header, table

    def get_filters(self):
        filters = [
            FilterEqual(Customer.home_store_id, _l("Home store"), options=_store_options),
            TagFilter(Customer.id, _l("Tag"), options=_tag_options),
        ]
        # Classification registers its class and lifecycle filters once it exists.
        extra = current_app.extensions.get("storecrm.class_filters", {}) if has_app_context() else {}
        first = ("final_class", "class", "lifecycle")
        for key in (*first, *sorted(k for k in extra if k not in first)):
            made = extra.get(key)
            made = made() if callable(made) else made
            if made:
                filters.extend(made if isinstance(made, (list, tuple)) else [made])
        # Last, so the filters above keep their places in bookmarked URLs (flt0_2=...).
        filters += local_day_filters(Customer.created_at, _l("Created"))
        filters += local_day_filters(Customer.id, _l("Last purchase"), expression=_last_purchase_at)
        return filters

    @expose("/")
    def index_view(self):
        self._refresh_filters_cache()  # class filters may have been registered after start-up
        return super().index_view()

    def scope_query(self, query):
        return query.filter(customer_scope(view_scope()))

    # --- the counter ---------------------------------------------------------------------------

    @expose("/lookup")
    def lookup(self):
        """One box: a phone number in any common spelling opens the profile; a name lists matches."""
        q = (request.args.get("q") or "").strip()
        if not q:
            return redirect(url_for("customers.index_view"))
        scope = customer_scope(user_scope())
        phone = try_normalise_phone(q) if sum(ch.isdigit() for ch in q) >= 7 else None
        if phone:
            # The full phone finds any customer of the chain (domain.md, "Privacy and access").
            customer = customer_service.find_by_phone(db.session, phone)
            if customer is not None and db.session.scalar(select(Customer.id).where(Customer.id == customer.id, scope)):
                return redirect(url_for("customers.page", customer_id=customer.id))
            return self.render("storecrm/lookup.html", q=q, results=[], phone=phone, mask_phone=mask_phone,
                               chain_customer=customer, presented={"phone": q}, store=current_store())
        if is_last4(q):
            return self._lookup_last4(q, scope)
        pattern = f"%{q}%"
        results = list(db.session.scalars(
            select(Customer).where(scope, (Customer.name.ilike(pattern)) | (Customer.code == q))
            .order_by(func.length(Customer.name), Customer.name).limit(50)
        ))
        if len(results) == 1:
            return redirect(url_for("customers.page", customer_id=results[0].id))
        # A card number is presented in full too: a customer of another branch, to serve here.
        chain_customer = find_presented(db.session, code=q) if not results else None
        priority = customer_priorities(db.session, current_app.extensions["storecrm.plugins"], current_store(),
                                       [c.id for c in results], "counter", user=current_user_or_none())
        return self.render("storecrm/lookup.html", q=q, results=results, phone=None, mask_phone=mask_phone,
                           chain_customer=chain_customer, presented={"code": q}, store=current_store(),
                           priority=priority)

    def _lookup_last4(self, q: str, scope):
        """The last four digits of a phone: a pick list (name and masked phone) of at most
        LAST4_LIMIT customers this user sees, never a profile opened at once; audited."""
        found = list(db.session.scalars(
            select(Customer).where(scope, search_clause(q, last4=True))
            .order_by(Customer.name, Customer.id).limit(LAST4_LIMIT + 1)))
        audit("customer_lookup_last4", actor=current_user_or_none(), store=current_store(),
              details={"shown": min(len(found), LAST4_LIMIT), "more": len(found) > LAST4_LIMIT})
        db.session.commit()
        return self.render("storecrm/lookup.html", q=q, results=found[:LAST4_LIMIT], phone=None,
                           mask_phone=mask_phone, chain_customer=None, presented={}, store=current_store(),
                           last4=True, more=len(found) > LAST4_LIMIT)

    @expose("/serve-here", methods=["POST"])
    def serve_here(self):
        """The person presented their full phone or card number at this store's counter: link
        them (audited) so the store sees and serves them."""
        store = current_store()
        phone, code = (request.form.get("phone") or "").strip(), (request.form.get("code") or "").strip()
        if store is None:
            flash(_("Pick a store in the navbar first: a customer is served in a store."), "error")
            return redirect(url_for("customers.lookup", q=phone or code))
        user = current_user_or_none()
        try:
            customer, _made = serve_customer_here(db.session, store, phone=phone or None, code=code or None,
                                                  user=user, actor=user.username)
        except DomainError:
            db.session.rollback()
            flash(_("No customer of the chain has this phone number or card number."), "error")
            return redirect(url_for("customers.lookup", q=phone or code))
        db.session.commit()
        flash(_("%(name)s is a customer of the chain: now served at %(store)s too.", name=customer.name or "—",
                store=store.name), "success")
        return redirect(url_for("customers.page", customer_id=customer.id))

    @expose("/new", methods=["GET", "POST"])
    def new(self):
        store = current_store()
        form = request.form
        errors: dict = {}
        existing_seen = serve_phone = None
        if request.method == "POST" and store is None:
            # The chain view: the form names the home store, one of the user's stores.
            store = next((s for s in accessible_stores() if s.code == form.get("home_store")), None)
            if store is None:
                errors = {"home_store": [_("Pick the store this customer belongs to.")]}
        if request.method == "POST" and not errors:
            if store is None:
                flash(_("Pick a store in the navbar first: a new customer belongs to a home store."), "error")
            else:
                data = {k: form.get(k, "").strip() for k in ("name", "phone", "email", "birthday", "gender")}
                data = {k: v for k, v in data.items() if v}
                data["preferences"] = parse_preferences(form.get("preferences", ""))
                data["source_channel"] = form.get("source_channel") or "walk_in"
                user = current_user_or_none()
                data["consents"] = [{"channel": c, "granted": True, "source": "admin", "proof": form.get("consent_proof") or None}
                                    for c in CONSENT_CHANNELS if form.get(f"consent_{c}")]
                try:
                    customer = customer_service.create_customer(db.session, store, data, user=user, actor=user.username)
                    db.session.commit()
                except DomainError as exc:
                    db.session.rollback()
                    errors = translate_fields(exc.fields) or {"_schema": [translate(exc.message)]}
                    existing = (exc.details or {}).get("existing_id") if isinstance(exc, Conflict) else None
                    if existing is not None and "phone" in errors:
                        if seen_ids(db.session, [existing], user_scope()):
                            errors["phone"] = [_("This phone number belongs to a customer of yours already.")]
                            existing_seen = existing
                        else:
                            # Never who it is: only the way to serve them here.
                            errors["phone"] = [_("This person is already a customer of the chain: serve them here.")]
                            serve_phone = data.get("phone")
                else:
                    flash(_("Customer %(name)s created.", name=customer.name or customer.id), "success")
                    return redirect(url_for("customers.page", customer_id=customer.id))
        return self.render("storecrm/customer_new.html", form=form, errors=errors, store=current_store(),
                           stores=accessible_stores(),
                           channels=CHANNEL_LABELS, existing_seen=existing_seen, serve_phone=serve_phone)

    # --- the customer page ---------------------------------------------------------------------

    def _customer_or_404(self, customer_id: int) -> Customer:
        customer = db.session.scalars(
            select(Customer).where(Customer.id == customer_id, customer_scope(user_scope()))
        ).first()
        if customer is None:
            abort(404)
        return customer

    def _page(self, customer: Customer, revealed: bool = False, status: int = 200, errors: dict | None = None):
        user = current_user_or_none()
        store = current_store() or customer.home_store
        reg = registry()
        ctx = HookContext(session=db.session, store=store, user=user, actor=user.username, registry=reg)
        panels = collect_panels(customer, ctx)
        consents = customer_service.current_consents(db.session, customer.id)
        from datetime import date

        page = self.render(
            "storecrm/customer_page.html",
            customer=customer, store=store, revealed=revealed, may_reveal=can_see_personal_data(),
            phone=(national(customer.phone) if revealed and customer.phone else mask_phone(customer.phone)),
            email=(customer.email if revealed else mask_email(customer.email)),
            address=(customer.address if revealed else ("•••" if customer.address else None)),
            age=customer.age(date.today()), birthday=birthday_text(customer), panels=panels, consents=consents,
            consent_history=consent_rows(db.session, customer.id), channels=CHANNEL_LABELS, consent_source=consent_source_label,
            timeline=timeline(db.session, customer, ctx=ctx), errors=errors or {}, source=source_label(customer.source_channel),
            preferences_text="\n".join(f"{k}: {v}" for k, v in (customer.preferences or {}).items()),
            **customer_tiles(customer, current_store()),
        )
        return page, status

    @expose("/<int:customer_id>")
    def page(self, customer_id: int):
        return self._page(self._customer_or_404(customer_id))

    @expose("/<int:customer_id>/edit", methods=["GET", "POST"])
    def edit_profile(self, customer_id: int):
        """Correct a profile. Contact details only for those who may see them in full."""
        customer = self._customer_or_404(customer_id)
        contact = can_see_personal_data()
        fields_ = list(PROFILE_FIELDS) + (list(CONTACT_FIELDS) if contact else [])
        errors: dict = {}
        if request.method == "POST":
            form = request.form
            data = {f: (form.get(f) or "").strip() or None for f in fields_}
            for listed in ("hobbies", "tags"):
                data[listed] = [v.strip() for v in (data[listed] or "").replace("，", ",").split(",") if v.strip()]
            data["name"] = data["name"] or ""
            user = current_user_or_none()
            try:
                current_home = customer.home_store.code if customer.home_store else None
                if (data.get("home_store") and data["home_store"] != current_home
                        and data["home_store"] not in {s.code for s in accessible_stores()}):
                    # A profile's home store is one of the stores the user works in.
                    raise DomainError("not your store", fields={"home_store": [_("Pick one of your stores.")]})
                customer_service.update_customer(db.session, customer, data, store=current_store(), user=user,
                                                 actor=user.username)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                errors = translate_fields(exc.fields) or {"_schema": [translate(exc.message)]}
            else:
                flash(_("Profile saved."), "success")
                return redirect(url_for("customers.page", customer_id=customer.id))
            values = form
        else:
            if contact:
                audit("unmask", actor=current_user_or_none(), target=customer, store=current_store(),
                      details={"fields": list(CONTACT_FIELDS), "purpose": "edit"})
                db.session.commit()
            values = {f: _form_value(customer, f) for f in fields_}
        return self.render("storecrm/customer_edit.html", customer=customer, values=values, errors=errors,
                           contact=contact, stores=accessible_stores())

    @expose("/<int:customer_id>/reveal", methods=["POST"])
    def reveal(self, customer_id: int):
        """Managers and owners see phone, email and address in clear; each time is audited."""
        if not can_see_personal_data():
            abort(403)
        customer = self._customer_or_404(customer_id)
        audit("unmask", actor=current_user_or_none(), target=customer, store=current_store(),
              details={"fields": ["phone", "email", "address"]})
        db.session.commit()
        return self._page(customer, revealed=True)

    @expose("/<int:customer_id>/visit", methods=["POST"])
    def record_visit(self, customer_id: int):
        from core.services.sales import record_visit

        customer = self._customer_or_404(customer_id)
        store = current_store()
        if store is None:
            flash(_("Pick a store in the navbar first: a visit happens in a store."), "error")
            return redirect(url_for("customers.page", customer_id=customer.id))
        user = current_user_or_none()
        duration = request.form.get("duration_minutes", "").strip()
        data = {"customer": {"id": customer.id}, "purpose": request.form.get("purpose") or None,
                "notes": request.form.get("notes") or None, "purchased": bool(request.form.get("purchased")),
                "duration_minutes": int(duration) if duration.isdigit() else None,
                "staff": user.username if user.can_access_store(store.id) else None}
        record_visit(db.session, store, data, user=user, actor=user.username)
        db.session.commit()
        flash(_("Visit recorded."), "success")
        return redirect(url_for("customers.page", customer_id=customer.id))

    @expose("/<int:customer_id>/note", methods=["POST"])
    def add_note(self, customer_id: int):
        customer = self._customer_or_404(customer_id)
        text = (request.form.get("note") or "").strip()
        if not text:
            flash(_("The note is empty."), "error")
        else:
            user = current_user_or_none()
            kind = request.form.get("kind") if request.form.get("kind") in ("note", "call", "message") else "note"
            customer_service.add_activity(db.session, customer, kind, text[:300], body=text if len(text) > 300 else None,
                                          store=current_store(), user=user)
            db.session.commit()
            flash(_("Note added."), "success")
        return redirect(url_for("customers.page", customer_id=customer.id) + "#timeline")

    @expose("/<int:customer_id>/preferences", methods=["POST"])
    def edit_preferences(self, customer_id: int):
        customer = self._customer_or_404(customer_id)
        user = current_user_or_none()
        customer_service.update_customer(db.session, customer,
                                         {"preferences": parse_preferences(request.form.get("preferences", ""))},
                                         store=current_store(), user=user, actor=user.username)
        db.session.commit()
        flash(_("Preferences saved."), "success")
        return redirect(url_for("customers.page", customer_id=customer.id))

    @expose("/<int:customer_id>/consent", methods=["POST"])
    def record_consent(self, customer_id: int):
        customer = self._customer_or_404(customer_id)
        user = current_user_or_none()
        try:
            customer_service.set_consent(db.session, customer, request.form.get("channel", ""),
                                         request.form.get("granted") == "1", source=request.form.get("source") or "counter",
                                         proof=request.form.get("proof") or None, user=user, store=current_store())
        except DomainError as exc:
            db.session.rollback()
            flash(describe(exc), "error")
        else:
            db.session.commit()
            flash(_("Consent recorded."), "success")
        return redirect(url_for("customers.page", customer_id=customer.id) + "#consents")


def register(admin) -> None:
    admin.add_view(CustomerView(Customer, db, name=_l("Customers"), endpoint="customers", url="/admin/customers",
                                menu_icon_type="fa", menu_icon_value="fa-users"))


__all__ = ["CustomerView", "collect_panels", "parse_preferences", "register"]
