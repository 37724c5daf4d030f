"""Resetting a sandbox (test) store: its data goes, the store, its settings and its people stay.

What goes, in the caller's one transaction (docs/api.md, "Sandbox"):
- every plugin's data of the store, through the `sandbox_reset` hook (each plugin its own);
- the store's sales (their lines, payments, adjustments and refunds), visits, events (with
  their reactions and webhook deliveries), customer links and activities written there;
- the store's customers: those whose home store it is and whom no other store sees (a
  customer seen by a live store is a real one and stays);
- the stored Idempotency-Key answers of the store's tokens (they name deleted sales).

A store that is not a sandbox is refused (409). Another store's rows are never touched: every
statement is bounded by this store's id or by its own customers.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, exists, or_, select

from core.audit import audit
from core.errors import Conflict, Unprocessable
from core.models import Activity, ApiToken, Customer, CustomerStoreLink, Event, IdempotencyKey, Sale, Store, Visit
from core.plugins import HookContext


def sandbox_customer_ids(store: Store):
    """SELECT of the ids of `store`'s own customers: home store here, seen by no other store."""
    elsewhere = or_(
        exists().where(CustomerStoreLink.customer_id == Customer.id, CustomerStoreLink.store_id != store.id),
        exists().where(Sale.customer_id == Customer.id, Sale.store_id != store.id),
        exists().where(Visit.customer_id == Customer.id, Visit.store_id != store.id),
    )
    return select(Customer.id).where(Customer.home_store_id == store.id, ~elsewhere)


def delete_rows(session, statements: list[tuple[str, object]], into: dict | None = None) -> dict[str, int]:
    """Run DELETE statements in order; rows deleted per table name, added to `into`. Plugins'
    `sandbox_reset` use it too."""
    counts = {} if into is None else into
    for table, stmt in statements:
        rows = session.execute(stmt, execution_options={"synchronize_session": False}).rowcount or 0
        counts[table] = counts.get(table, 0) + rows
    return counts


def reset_sandbox(session, store: Store, *, user=None, actor: str = "system") -> dict:
    """Delete `store`'s data in the caller's transaction (the caller commits) and return the
    rows deleted per table. Conflict (409) when the store is not a sandbox; Unprocessable
    (422) naming the plugin when one fails (the caller rolls back: nothing is deleted)."""
    if not store.sandbox:
        raise Conflict(_("Store %(code)s is not a test store (sandbox): only a sandbox can be reset.", code=store.code),
                       details={"store": store.code})
    from core.migrate import plugins_with_tables

    reg = current_app.extensions["storecrm.plugins"]
    ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=reg)
    customer_ids = sandbox_customer_ids(store)
    deleted: dict[str, int] = {}
    for name in plugins_with_tables(current_app, session, reg.implementers("sandbox_reset", reg.manifests)):
        try:
            with session.begin_nested():
                counts = reg.caller_for("sandbox_reset", name)(store=store, customer_ids=customer_ids,
                                                               ctx=ctx.for_plugin(name))
        except Exception as exc:
            current_app.logger.exception("plugin %s failed to reset sandbox store %s", name, store.code)
            raise Unprocessable(_("The %(plugin)s module could not delete its data; nothing was reset.", plugin=name),
                                details={"plugin": name}) from exc
        for table, rows in (counts[0] if counts else {}).items():  # pluggy: [result] or [] for None
            deleted[table] = deleted.get(table, 0) + int(rows)

    tokens = select(ApiToken.id).where(ApiToken.store_id == store.id)
    core = [
        # Events go with their reactions and webhook deliveries (ON DELETE CASCADE).
        ("event", delete(Event).where(Event.store_id == store.id)),
        ("activity", delete(Activity).where(or_(Activity.store_id == store.id, Activity.customer_id.in_(customer_ids)))),
        ("customer_store_link", delete(CustomerStoreLink).where(CustomerStoreLink.store_id == store.id)),
        # Lines, payments, adjustments and refunds go with their sale (ON DELETE CASCADE).
        ("sale", delete(Sale).where(Sale.store_id == store.id)),
        ("visit", delete(Visit).where(Visit.store_id == store.id)),
        # Tags, consents and classes go with the customer (ON DELETE CASCADE).
        ("customer", delete(Customer).where(Customer.id.in_(customer_ids))),
        ("api_idempotency_key", delete(IdempotencyKey).where(IdempotencyKey.token_id.in_(tokens))),
    ]
    delete_rows(session, core, into=deleted)
    session.expire_all()
    deleted = {table: rows for table, rows in sorted(deleted.items()) if rows}
    audit("sandbox_reset", actor=user or actor, target=store, store=store, session=session,
          details={"deleted": deleted})
    return deleted
