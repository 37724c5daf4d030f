"""The manager's forms: a new coupon batch, a new campaign, and a campaign's page with its send
button. Each form is checked by the API's own schema and written by the same service
(`services/coupons.py`, `services/sending.py`), so the admin accepts exactly what the API does;
times are typed on the store's clock and stored in UTC."""

from __future__ import annotations

from datetime import datetime, time

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, select

from core.admin.base import StoreView, current_store, scope_store_ids
from core.admin.messages import describe, translate
from core.errors import DomainError, NotFound
from core.extensions import db
from core.models import Store
from plugins.campaigns.labels import CHANNEL, COUPON_KIND, KIND, Labels
from plugins.campaigns.models import Campaign, CouponBatch, Message, Recipient, Segment
from plugins.campaigns.schemas import CampaignIn, CouponBatchIn
from plugins.campaigns.services import channels, coupons, sending

# What a person reads next to a field with an error (the schema's keys are the API's).
FIELD_LABELS = {
    "name": _l("Name"), "kind": _l("Kind"), "value": _l("Value"), "gift": _l("Gift"), "min_spend": _l("Minimum spend"),
    "valid_until": _l("Valid until"), "valid_days": _l("Valid for (days after issue)"),
    "per_customer_limit": _l("Per customer"), "codes": _l("Codes to print now"), "partner_name": _l("Partner"),
    "segment_id": _l("Audience (segment)"), "channel": _l("Channel"), "subject_zh": _l("Subject (Chinese)"),
    "body_zh": _l("Text (Chinese)"), "subject_en": _l("Subject (English)"), "body_en": _l("Text (English)"),
    "coupon_batch_id": _l("Coupon"), "budget": _l("Budget"), "control_percent": _l("Control group (percent)"),
    "attribution_days": _l("Attribution window (days)"), "scheduled_at": _l("Send at"),
}
DEFAULT_BODY_ZH = "{{ name }}，您好！{{ store }}为您准备了一份心意：{{ coupon_label }}，券码 {{ coupon_code }}，{{ expires_on }}前到店使用。"
DEFAULT_BODY_EN = "Hello {{ name }}, {{ store }} has a gift for you: {{ coupon_label }}, code {{ coupon_code }}, valid until {{ expires_on }}."


def _errors(messages: dict) -> list[str]:
    """The schema's or the service's field errors as lines a manager reads."""
    lines = []
    for field, problems in (messages or {}).items():
        label = str(FIELD_LABELS.get(field, field))
        for problem in problems if isinstance(problems, list) else [problems]:
            lines.append(f"{label}: {translate(problem) if isinstance(problem, str) else problem}")
    return lines


def _local_end_of_day(store, value: str) -> str | None:
    """A date typed on the store's clock, as the aware end of that day (ISO), or None."""
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()
    return datetime.combine(day, time(23, 59, 59), tzinfo=store.tz).isoformat()


def _local_moment(store, value: str) -> str | None:
    """A `datetime-local` value on the store's clock, as an aware ISO time, or None."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M").replace(tzinfo=store.tz).isoformat()


def _blank_to_none(form, keys) -> dict:
    return {k: (form.get(k) or "").strip() or None for k in keys}


def _save(form, store, schema, keys, time_field: str, parse_time, write):
    """Check a composer's form with the API's schema (blank fields left out, `time_field` typed
    on the store's clock) and write it with the service, committed: (what `write` made, []), or
    (None, the lines a manager reads) with nothing written."""
    raw = _blank_to_none(form, keys)
    try:
        raw[time_field] = parse_time(store, form.get(time_field, ""))
        data = schema().load({k: v for k, v in raw.items() if v is not None})
        made = write(data)
        db.session.commit()
        return made, []
    except ValidationError as exc:
        return None, _errors(exc.messages)
    except ValueError:
        return None, [f"{FIELD_LABELS[time_field]}: {_('Not a valid date.')}"]
    except DomainError as exc:
        db.session.rollback()
        return None, _errors(exc.fields) or [describe(exc)]


class CouponBatchComposer(StoreView):
    plugin = "campaigns"
    min_role = "manager"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        store = current_store()
        errors = [] if store is not None else [_("Pick a store in the navbar first.")]
        form = request.form if request.method == "POST" else {}
        if request.method == "POST" and store is not None:
            batch, errors = _save(form, store, CouponBatchIn, ("name", "kind", "value", "gift", "min_spend",
                                  "valid_days", "per_customer_limit", "codes", "partner_name"),
                                  "valid_until", _local_end_of_day,
                                  lambda data: coupons.create_batch(db.session, store, data))
            if batch is not None:
                flash(_("Coupon batch %(name)s saved.", name=batch.name), "success")
                return redirect(url_for("campaigns_coupon_batches.index_view"))
        return self.render("campaigns/coupon_batch_form.html", errors=errors, form=form,
                           kinds=[(k, str(v)) for k, v in COUPON_KIND.items()])


class CampaignComposer(StoreView):
    plugin = "campaigns"
    min_role = "manager"

    def _choices(self, store):
        segments_here = db.session.scalars(select(Segment).where(Segment.store_id == store.id)
                                           .order_by(Segment.id.desc())).all()
        batches = db.session.scalars(select(CouponBatch).where(CouponBatch.store_id == store.id)
                                     .order_by(CouponBatch.id.desc())).all()
        return {"segments": segments_here, "batches": batches,
                "kinds": [(k, str(v)) for k, v in KIND.items()],
                "channels": [(name, str(CHANNEL.get(name, name))) for name in channels.available_channels()]}

    @expose("/", methods=["GET", "POST"])
    def index(self):
        store = current_store()
        if store is None:
            return self.render("campaigns/campaign_form.html", errors=[_("Pick a store in the navbar first.")],
                               form={}, choices=None)
        errors = []
        form = request.form if request.method == "POST" else {
            "control_percent": "10", "attribution_days": "30", "channel": "email",
            "body_zh": DEFAULT_BODY_ZH, "body_en": DEFAULT_BODY_EN,
            "subject_zh": _l("A gift from %(store)s", store=store.name), "subject_en": f"A gift from {store.name}"}
        if request.method == "POST":
            campaign, errors = _save(form, store, CampaignIn, ("name", "kind", "segment_id", "channel", "subject_zh",
                                     "body_zh", "subject_en", "body_en", "coupon_batch_id", "budget",
                                     "control_percent", "attribution_days", "partner_name"),
                                     "scheduled_at", _local_moment,
                                     lambda data: sending.create(db.session, store, data, registry_settings(store),
                                                                 actor=_current_name()))
            if campaign is not None:
                flash(_("Campaign saved as a draft: check it, then send."), "success")
                return redirect(url_for(".campaign", campaign_id=campaign.id))
        return self.render("campaigns/campaign_form.html", errors=errors, form=form, choices=self._choices(store))

    def _campaign(self, campaign_id: int) -> Campaign:
        """A campaign of the stores this page covers (an owner's chain view: any of theirs)."""
        campaign = db.session.get(Campaign, campaign_id) if campaign_id <= 2**31 - 1 else None
        if campaign is None or campaign.store_id not in scope_store_ids():
            raise NotFound("no such campaign")
        return campaign

    @expose("/<int:campaign_id>", methods=["GET"])
    def campaign(self, campaign_id):
        campaign = self._campaign(campaign_id)
        segment = db.session.get(Segment, campaign.segment_id)
        counts = dict(db.session.execute(select(Message.status, func.count()).where(Message.campaign_id == campaign.id)
                                         .group_by(Message.status)).all())
        control = db.session.scalar(select(func.count()).where(Recipient.campaign_id == campaign.id,
                                                               Recipient.is_control.is_(True))) or 0
        return self.render("campaigns/campaign_page.html", campaign=campaign, segment=segment, counts=counts,
                           control=control, labels=Labels,
                           batch=db.session.get(CouponBatch, campaign.coupon_batch_id) if campaign.coupon_batch_id else None)

    @expose("/<int:campaign_id>/send", methods=["POST"])
    def send(self, campaign_id):
        from plugins.campaigns.jobs import enqueue_campaign

        campaign = self._campaign(campaign_id)
        store = db.session.get(Store, campaign.store_id)
        try:
            sending.start(db.session, campaign, store, registry_settings(store), _ctx(store))
            go = campaign.status == "sending"
            reached = (campaign.audience_size or 0) - (campaign.excluded_no_consent or 0)
            control = db.session.scalar(select(func.count()).where(Recipient.campaign_id == campaign_id,
                                                                   Recipient.is_control.is_(True))) or 0
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(describe(exc), "error")
            return redirect(url_for(".campaign", campaign_id=campaign_id))
        if go:
            enqueue_campaign(campaign_id)  # without Redis this sends now, in this process
        flash(_("Sending started: %(n)d customers with consent, of whom %(c)d are held back as the control group.",
                n=reached, c=control), "success")
        return redirect(url_for(".campaign", campaign_id=campaign_id))


def registry_settings(store) -> dict:
    from core.admin.base import registry

    return registry().settings(store, "campaigns")


def _ctx(store):
    from core.admin.base import registry
    from core.plugins import HookContext

    return HookContext(session=db.session, store=store, actor=_current_name(), registry=registry(), plugin="campaigns")


def _current_name() -> str:
    from flask_login import current_user

    return getattr(current_user, "username", None) or "admin"


def register(admin) -> None:
    from plugins.campaigns.admin import CATEGORY

    admin.add_view(CampaignComposer(name=_l("New campaign"), category=CATEGORY, endpoint="campaigns_composer",
                                    url="/admin/campaigns/new"))
    admin.add_view(CouponBatchComposer(name=_l("New coupon batch"), category=CATEGORY,
                                       endpoint="campaigns_coupon_composer", url="/admin/campaigns/coupons/new"))
