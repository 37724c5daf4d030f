"""Erasure (PIPL art. 47): the person's data goes from every table of the core and of every
installed plugin; the store's accounts keep the sales, detached from the person."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, or_, select, update

from core.audit import audit
from core.errors import Unprocessable
from core.models import (
    Activity, Consent, Customer, CustomerTag, Event, EventDelivery, Refund, Sale, Visit, WebhookDelivery, utcnow,
)
from core.plugins import HookContext
from core.privacy.models import PrivacyRequest
from core.webhooks import emit_event


def erase_customer(session, customer: Customer, *, user=None, actor: str = "system", reason: str = "request") -> dict:
    """Erase `customer` in the caller's transaction and return what was done (no personal data).

    Plugins go first (`customer_erased`, every installed plugin, enabled or not); if one fails,
    the caller rolls back and nothing is erased: half an erasure would be reported as done."""
    customer_id = customer.id
    # Once this transaction commits, SQLite's write-ahead log still holds the old pages:
    # checkpoint it then (core/app.py), so the erased values leave the disk too.
    session.info["storecrm_checkpoint_after_commit"] = True
    reg = current_app.extensions["storecrm.plugins"]
    ctx = HookContext(session=session, store=customer.home_store, user=user, actor=actor, registry=reg)
    from core.migrate import plugins_with_tables

    plugins = plugins_with_tables(current_app, session, reg.implementers("customer_erased", reg.manifests))
    for name in plugins:
        try:
            with session.begin_nested():
                reg.caller_for("customer_erased", name)(customer_id=customer_id, ctx=ctx.for_plugin(name))
        except Exception as exc:
            current_app.logger.exception("plugin %s failed to erase customer %s", name, customer_id)
            raise Unprocessable(f"the {name} module could not erase its data; nothing was erased",
                                details={"plugin": name}) from exc

    sale_ids = select(Sale.id).where(Sale.customer_id == customer_id).scalar_subquery()
    refund_ids = select(Refund.id).where(Refund.sale_id.in_(sale_ids)).scalar_subquery()
    # Events about the person or their sales may carry old profile values in their payloads.
    event_ids = select(Event.id).where(or_(
        (Event.subject_type == "customer") & (Event.subject_id == customer_id),
        (Event.subject_type == "sale") & Event.subject_id.in_(sale_ids),
        (Event.subject_type == "refund") & Event.subject_id.in_(refund_ids),
    )).scalar_subquery()
    session.execute(update(EventDelivery).where(EventDelivery.event_id.in_(event_ids)).values(last_error=None),
                    execution_options={"synchronize_session": False})
    session.execute(update(Event).where(Event.id.in_(event_ids)).values(payload={}),
                    execution_options={"synchronize_session": False})
    sales = session.execute(update(Sale).where(Sale.customer_id == customer_id).values(customer_id=None, note=None),
                            execution_options={"synchronize_session": False}).rowcount
    visits = session.execute(
        update(Visit).where(Visit.customer_id == customer_id).values(customer_id=None, notes=None, purpose=None),
        execution_options={"synchronize_session": False}).rowcount
    activities = session.execute(delete(Activity).where(Activity.customer_id == customer_id),
                                 execution_options={"synchronize_session": False}).rowcount
    session.execute(delete(Consent).where(Consent.customer_id == customer_id),
                    execution_options={"synchronize_session": False})
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id),
                    execution_options={"synchronize_session": False})
    # The request stays as proof that it was answered, without saying whose it was.
    session.execute(update(PrivacyRequest).where(PrivacyRequest.customer_id == customer_id)
                    .values(customer_id=None, note=None), execution_options={"synchronize_session": False})

    _follow_foreign_keys(session, customer_id)

    # Webhook bodies not sent yet (or kept for a replay) may hold the person's masked data:
    # they are dropped; such a delivery sends the ids only. Then the subscribers learn of it.
    session.execute(update(WebhookDelivery).where(WebhookDelivery.customer_id == customer_id).values(body=None),
                    execution_options={"synchronize_session": False})
    anonymise(customer)
    session.flush()
    emit_event(session, customer.home_store_id, "customer.erased",
               {"customer_id": customer_id, "erased_at": customer.erased_at.isoformat()}, customer_id=customer_id)
    session.expire(customer, ["tag_rows"])
    summary = {"customer_id": customer_id, "erased_at": customer.erased_at, "sales_detached": sales,
               "visits_detached": visits, "activities_deleted": activities, "plugins": plugins}
    # An anonymous record: the id, the date and the counts; nothing that names the person.
    audit("erase", actor=user or actor, target=("customer", customer_id), store=customer.home_store_id,
          session=session, details={"reason": reason, "sales_detached": sales, "visits_detached": visits,
                                    "plugins": plugins})
    return summary


def _follow_foreign_keys(session, customer_id: int) -> None:
    """Any other core table pointing at the person (classification, tables added later) is
    treated as deleting the person would treat it: CASCADE rows go, SET NULL rows are detached.
    Plugin tables are the plugins' own business, through `customer_erased`."""
    from core.extensions import db
    from core.migrate import table_owner

    for table in db.metadata.sorted_tables:
        if table.name == Customer.__tablename__ or table_owner(table.name, current_app) != "core":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name != Customer.__tablename__:
                continue
            rule = (fk.ondelete or "").upper()
            if rule == "CASCADE":
                session.execute(table.delete().where(fk.parent == customer_id))
            elif rule == "SET NULL":
                session.execute(table.update().where(fk.parent == customer_id).values({fk.parent.name: None}))


def anonymise(customer: Customer) -> None:
    """Blank every personal field; the row stays as a tombstone so ids in the books stay valid."""
    customer.name = ""
    customer.code = None
    customer.gender = None
    customer.birth_year = customer.birth_month = customer.birth_day = None
    customer.set_phone(None)  # the phone can register again as a new person
    customer.set_email(None)
    customer.address = None
    customer.wechat_id = None
    customer.occupation = customer.household = customer.personality = None
    customer.hobbies = []
    customer.needs = customer.notes = None
    customer.preferences = {}
    customer.erased_at = utcnow()
    customer.updated_at = customer.erased_at
