"""Campaigns in the admin: segments (a builder with the live count), campaigns with their
reports (charts), coupon batches and codes, messages, the outbox, call lists with outcomes.
Built on core/admin's base views: login, store scope, roles, hidden where campaigns is off."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from core.admin.messages import describe
from core.access import visible_customers
from core.admin.base import StoreModelView, StoreView, current_store, registry, scope_store_ids
from core.classification.rules import FINAL_CLASSES, LIFECYCLES, final_label, lifecycle_label
from core.errors import DomainError, NotFound
from core.extensions import db
from core.models import Customer
from core.plugins import HookContext
from plugins.campaigns.labels import OUTCOME, Labels, describe_filters
from plugins.campaigns.models import CallTask, Campaign, Coupon, CouponBatch, Message, OutboxEntry, Segment
from plugins.campaigns.services import automations, effect, segments

CATEGORY = _l("Campaigns")


def _ctx(store) -> HookContext:
    return HookContext(session=db.session, store=store, actor="admin", registry=registry(), plugin="campaigns")


def _lang() -> str:
    from flask_babel import get_locale

    return "zh" if str(get_locale() or "zh").startswith("zh") else "en"


def _fmt(labeller):
    return lambda view, context, model, name: labeller(getattr(model, name))


def _subject(view, context, model, name):
    # A notice without a subject of its own carries its topic code there: show the topic's label.
    return Labels.topic(model.subject) if model.subject and model.subject == model.topic else model.subject or ""


class VisibleCustomersOnly:
    def scope_query(self, query):
        return query.filter(self.model.customer_id.in_(select(Customer.id).where(visible_customers(scope_store_ids()))))


class SegmentView(StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = False  # the builder below makes them
    column_list = ["name", "filters", "created_at"]
    column_labels = {"name": _l("Name"), "filters": _l("Filters"), "created_at": _l("Created")}
    column_formatters = {"filters": lambda view, context, model, name: describe_filters(model.filters)}
    form_columns = ["name"]  # the filters are built in the segment builder, never typed as JSON
    column_formatters_detail = column_formatters


class SegmentBuilder(StoreView):
    plugin = "campaigns"

    def _filters(self, form) -> dict:
        filters = {}
        for key in ("final_class", "lifecycle"):
            values = form.getlist(key)
            if values:
                filters[key] = values
        for key in ("last_purchase_days_min", "last_purchase_days_max"):
            if form.get(key, "").strip():
                filters[key] = int(form[key])
        if form.get("birth_month", "").strip():
            filters["birth_month"] = [int(form["birth_month"])]
        tags = [t.strip() for t in form.get("tags", "").split(",") if t.strip()]
        if tags:
            filters["tags"] = tags
        chosen = {k.split(":", 1)[1]: {} for k in form if k.startswith("plugin:")}
        if chosen:
            filters["plugins"] = chosen
        return filters

    def _count(self, store, form):
        return segments.count(db.session, store, self._filters(form), _ctx(store))

    @expose("/count", methods=["POST"])
    def count(self):
        store = current_store()
        if store is None:
            return jsonify({"count": None})
        try:
            return jsonify({"count": self._count(store, request.form)})
        except (DomainError, ValueError):
            return jsonify({"count": None})

    @expose("/", methods=["GET", "POST"])
    def index(self):
        store = current_store()
        errors, count = [], None
        if store is None:
            errors.append(_("Pick a store in the navbar first."))
        elif request.method == "POST":
            try:
                filters = self._filters(request.form)
                count = segments.count(db.session, store, filters, _ctx(store))
                if request.form.get("action") == "save":
                    if not request.form.get("name", "").strip():
                        raise ValueError(_("Give the segment a name."))
                    db.session.add(Segment(store_id=store.id, name=request.form["name"].strip(), filters=filters,
                                           created_by="admin"))
                    db.session.commit()
                    flash(_("Segment saved: %(n)s customers match now.", n=count), "success")
                    return redirect(url_for("campaigns_segments.index_view"))
            except (DomainError, ValueError) as exc:
                db.session.rollback()
                errors.append(describe(exc))
        lang = _lang()
        choices = {"final_class": [(v, final_label(v, lang)) for v in FINAL_CLASSES],
                   "lifecycle": [(v, lifecycle_label(v, lang)) for v in LIFECYCLES]}
        form = request.form if request.method == "POST" else {}
        shown = {"name": form.get("name"), "final_class": form.getlist("final_class") if form else [],
                 "lifecycle": form.getlist("lifecycle") if form else [],
                 "last_purchase_days_min": form.get("last_purchase_days_min"),
                 "last_purchase_days_max": form.get("last_purchase_days_max"), "tags": form.get("tags"),
                 "birth_month": form.get("birth_month")}
        return self.render("campaigns/segment.html", errors=errors, count=count, choices=choices, form=shown,
                           plugin_filters=segments.plugin_filters(_ctx(store)) if store else {})


def _report_link(view, context, model, name):
    return Markup('<a href="{}">{}</a> · <a href="{}">{}</a>').format(
        url_for("campaigns_composer.campaign", campaign_id=model.id), _("Open"),
        url_for("campaigns_report.index", campaign_id=model.id), _("Report"))


class CampaignView(StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = False  # "New campaign" (admin_forms.py) walks through the whole flow
    can_edit = can_delete = False  # a sent campaign is the record of who was messaged
    column_list = ["name", "kind", "channel", "status", "audience_size", "started_at", "report"]
    column_labels = {"name": _l("Name"), "kind": _l("Kind"), "channel": _l("Channel"), "status": _l("State"),
                     "audience_size": _l("Audience"), "started_at": _l("Started"), "report": _l("Report")}
    column_formatters = {"kind": _fmt(Labels.kind), "channel": _fmt(Labels.channel), "status": _fmt(Labels.status),
                         "report": _report_link}


class ReportView(StoreView):
    plugin = "campaigns"

    def is_visible(self):
        return False  # reached from a campaign's "Report" link, never from the menu

    @expose("/")
    def index(self):
        campaign_id = request.args.get("campaign_id", type=int)
        if not campaign_id:
            return redirect(url_for("campaigns_campaigns.index_view"))
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.store_id not in scope_store_ids():
            raise NotFound("no such campaign")
        report = effect.report(db.session, campaign)
        charts = {}
        if report["groups"]:
            targeted, control = _("Targeted"), _("Control group")
            charts["revenue"] = {"type": "bar", "labels": [targeted, control], "datasets": [
                {"label": _("Revenue per customer"), "data": [report["groups"]["target"]["revenue_per_customer"],
                                                               report["groups"]["control"]["revenue_per_customer"]]}]}
            ba = report["before_after"]
            charts["before_after"] = {"type": "bar", "labels": [_("Before"), _("After")], "datasets": [
                {"label": targeted, "data": [ba["target"]["before"], ba["target"]["after"]]},
                {"label": control, "data": [ba["control"]["before"], ba["control"]["after"]]}]}
        return self.render("campaigns/report.html", campaign=campaign, report=report, charts=charts, labels=Labels)


class CouponBatchView(StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = False
    can_edit = False
    column_list = ["name", "kind", "value", "gift", "min_spend", "valid_until", "per_customer_limit", "partner_name"]
    column_labels = {"name": _l("Name"), "kind": _l("Kind"), "value": _l("Value"), "gift": _l("Gift"),
                     "min_spend": _l("Minimum spend"), "valid_until": _l("Valid until"),
                     "per_customer_limit": _l("Per customer"), "partner_name": _l("Partner")}
    column_formatters = {"kind": _fmt(Labels.coupon_kind)}


class CouponView(StoreModelView):
    plugin = "campaigns"
    can_create = can_edit = can_delete = False
    column_list = ["code", "batch.name", "customer_id", "status", "expires_at"]
    column_labels = {"code": _l("Code"), "batch.name": _l("Coupon"), "customer_id": _l("Customer"),
                     "status": _l("State"), "expires_at": _l("Expires")}
    column_formatters = {"status": _fmt(Labels.coupon_status)}

    def scope_query(self, query):
        return query.filter(Coupon.batch_id.in_(select(CouponBatch.id).where(CouponBatch.store_id.in_(scope_store_ids()))))


class MessageView(VisibleCustomersOnly, StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = can_edit = can_delete = False
    column_list = ["claimed_at", "customer_id", "channel", "purpose", "topic", "subject", "status"]
    column_labels = {"claimed_at": _l("When"), "customer_id": _l("Customer"), "channel": _l("Channel"),
                     "purpose": _l("Kind"), "topic": _l("Topic"), "subject": _l("Subject"), "status": _l("State")}
    column_formatters = {"channel": _fmt(Labels.channel), "purpose": _fmt(Labels.purpose),
                         "status": _fmt(Labels.message_status), "topic": _fmt(Labels.topic), "subject": _subject}


class OutboxView(StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = can_edit = False
    can_export = True
    column_list = ["created_at", "customer_id", "user_id", "subject", "body"]
    column_labels = {"created_at": _l("When"), "customer_id": _l("Customer"), "user_id": _l("Staff member"),
                     "subject": _l("Subject"), "body": _l("Text")}
    column_formatters = {"subject": _subject}
    column_formatters_detail = column_formatters


class CallTaskView(VisibleCustomersOnly, StoreModelView):
    plugin = "campaigns"
    store_column = "store_id"
    can_create = can_delete = False
    column_list = ["due_on", "customer_id", "assignee_id", "rule", "outcome", "note", "done_at"]
    column_labels = {"due_on": _l("Due"), "customer_id": _l("Customer"), "assignee_id": _l("Staff member"),
                     "rule": _l("Why"), "outcome": _l("Outcome"), "note": _l("Note"), "done_at": _l("Done")}
    column_formatters = {"rule": _fmt(Labels.rule), "outcome": _fmt(Labels.outcome)}
    form_columns = ["outcome", "note"]
    form_choices = {"outcome": [(k, v) for k, v in OUTCOME.items()]}

    def on_model_change(self, form, model, is_created):
        if model.outcome and model.done_at is None:
            automations.record_outcome(db.session, model, model.outcome, model.note)
        return super().on_model_change(form, model, is_created)


def register(admin, app) -> None:
    session = db
    admin.add_view(SegmentView(Segment, session, name=_l("Segments"), category=CATEGORY, endpoint="campaigns_segments",
                               url="/admin/campaigns/segments"))
    admin.add_view(SegmentBuilder(name=_l("New segment"), category=CATEGORY, endpoint="campaigns_segment_builder",
                                  url="/admin/campaigns/segment-builder"))
    from plugins.campaigns import admin_forms

    admin.add_view(CampaignView(Campaign, session, name=_l("Campaigns"), category=CATEGORY,
                                endpoint="campaigns_campaigns", url="/admin/campaigns/campaigns"))
    admin.add_view(ReportView(name=_l("Campaign report"), category=CATEGORY, endpoint="campaigns_report",
                              url="/admin/campaigns/report", menu_class_name="d-none"))
    admin_forms.register(admin)
    admin.add_view(CouponBatchView(CouponBatch, session, name=_l("Coupons"), category=CATEGORY,
                                   endpoint="campaigns_coupon_batches", url="/admin/campaigns/coupon-batches"))
    admin.add_view(CouponView(Coupon, session, name=_l("Coupon codes"), category=CATEGORY,
                              endpoint="campaigns_coupons", url="/admin/campaigns/coupons"))
    admin.add_view(MessageView(Message, session, name=_l("Messages"), category=CATEGORY, endpoint="campaigns_messages",
                               url="/admin/campaigns/messages"))
    admin.add_view(OutboxView(OutboxEntry, session, name=_l("Outbox"), category=CATEGORY, endpoint="campaigns_outbox",
                              url="/admin/campaigns/outbox"))
    admin.add_view(CallTaskView(CallTask, session, name=_l("Call list"), category=CATEGORY,
                                endpoint="campaigns_call_tasks", url="/admin/campaigns/call-tasks"))
