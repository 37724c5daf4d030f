"""Duplicate customer profiles: finding likely ones, and folding one profile into another.

Likely duplicates are profiles with the same phone after normalisation (possible only for
rows written before normalisation or under an old key), the same email, or the same name and
birthday. Merging moves everything the core holds about `merged` (sales, visits, timeline,
consent history, tags, data-subject requests) to `kept`, fills `kept`'s empty fields from
`merged`, asks every installed plugin to move its records (`customer_merged`, also where the
plugin is switched off), writes the audit log and a timeline line, and removes `merged`."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import aliased

from core.audit import audit
from core.errors import InvalidInput, NotFound
from core.extensions import db
from core.models import Customer, CustomerStoreLink, CustomerTag, Sale, WebhookDelivery
from core.plugins import HookContext
from core.webhooks import emit_event

# Core tables whose customer_id moves as is. Tags are unioned, classes recomputed, and the
# plugins' tables are the plugins' own business (customer_merged).
_SPECIAL = {"customer_tag", "customer_class", "customer_store_link"}
_FILLABLE = ("gender", "birth_year", "birth_month", "birth_day", "wechat_id", "occupation", "household",
             "personality", "needs", "notes", "source_channel", "home_store_id")


def find_duplicates(session, limit: int = 100) -> list[dict]:
    """Pairs of live profiles that are likely one person: [{"ids": [a, b], "reason"}]."""
    a, b = aliased(Customer), aliased(Customer)
    live = and_(a.erased_at.is_(None), b.erased_at.is_(None), a.id < b.id)
    rules = [
        ("same phone", a.phone_hash == b.phone_hash),
        ("same email", a.email_hash == b.email_hash),
        ("same name and birthday", and_(a.name == b.name, a.name != "", a.birth_month.is_not(None),
                                        a.birth_month == b.birth_month, a.birth_day == b.birth_day,
                                        func.coalesce(a.birth_year, 0) == func.coalesce(b.birth_year, 0))),
    ]
    found: dict[tuple[int, int], list[str]] = {}
    for reason, condition in rules:
        for x, y in session.execute(select(a.id, b.id).where(live, condition).order_by(a.id, b.id).limit(limit)):
            found.setdefault((x, y), []).append(reason)
    return [{"ids": [x, y], "reasons": reasons} for (x, y), reasons in sorted(found.items())[:limit]]


def _core_tables_with_customer(app):
    from core.migrate import table_owner

    for table in db.metadata.sorted_tables:
        if table.name in _SPECIAL or table.name == "customer" or table_owner(table.name, app) != "core":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "customer" and fk.column.name == "id":
                yield table, fk.parent


def merge_customers(session, kept: Customer, merged: Customer, *, user=None, actor: str = "system") -> dict:
    """Fold `merged` into `kept` in the caller's transaction. Returns what moved, per table."""
    if kept.id == merged.id:
        raise InvalidInput("a profile cannot be merged into itself", fields={"merge_id": ["Pick another profile."]})
    for who in (kept, merged):
        if who.erased_at is not None:
            raise NotFound(f"customer {who.id} not found")
    app = current_app._get_current_object()
    moved: dict[str, int] = {}
    summary = {"id": merged.id, "name": merged.name, "code": merged.code}
    # The plugins first, while both profiles exist as they were.
    registry = app.extensions["storecrm.plugins"]
    ctx = HookContext(session=session, store=kept.home_store, user=user, actor=actor, registry=registry)
    from core.migrate import plugins_with_tables

    answers = registry.collect("customer_merged", plugins_with_tables(app, session, list(registry.manifests)), ctx,
                               kept=kept, merged=merged)
    session.flush()
    for plugin, counts in answers.items():  # a plugin may say how many of its rows it moved
        if isinstance(counts, dict):
            for table_name, count in counts.items():
                if count:
                    moved[table_name] = moved.get(table_name, 0) + int(count)
    for table, column in _core_tables_with_customer(app):
        result = session.execute(update(table).where(column == merged.id).values({column.name: kept.id}))
        if result.rowcount:
            moved[table.name] = moved.get(table.name, 0) + result.rowcount
    kept_tags = set(kept.tags)
    for tag in merged.tags:
        if tag not in kept_tags:
            session.add(CustomerTag(customer_id=kept.id, tag=tag))
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == merged.id))
    # The stores that saw either profile see the merged one: links move, one per store.
    already = select(CustomerStoreLink.store_id).where(CustomerStoreLink.customer_id == kept.id)
    links = session.execute(update(CustomerStoreLink).where(CustomerStoreLink.customer_id == merged.id,
                                                            CustomerStoreLink.store_id.not_in(already))
                            .values(customer_id=kept.id)).rowcount
    if links:
        moved["customer_store_link"] = links
    session.expire_all()  # the bulk updates above bypassed the identity map
    _fill_profile(session, kept, merged)
    stores = set(session.scalars(select(Sale.store_id).where(Sale.customer_id == kept.id).distinct()))
    session.expire(kept, ["tag_rows"])
    audit("customer_merge", actor=user or actor, target=kept, details={"merged": summary, "moved": moved})
    from core.services.customers import add_activity

    add_activity(session, kept, "merge", f"merged with profile #{merged.id} {merged.name}".strip(), user=user,
                 data={"merged": summary, "moved": moved})
    # Webhook deliveries are keyed by customer (their order, an erasure's scrubbing): they follow too.
    session.execute(update(WebhookDelivery).where(WebhookDelivery.customer_id == merged.id)
                    .values(customer_id=kept.id), execution_options={"synchronize_session": False})
    session.delete(merged)
    session.flush()
    emit_event(session, kept.home_store_id, "customer.merged", {"kept_id": kept.id, "merged_id": merged.id},
               customer_id=kept.id)
    from core.classification.one_customer import update_customer

    for store_id in sorted(stores) or [None]:
        update_customer(session, kept.id, store_id)
    return {"kept": kept.id, "merged": merged.id, "moved": moved}


def _fill_profile(session, kept: Customer, merged: Customer) -> None:
    """`kept` keeps what it has; empty fields take `merged`'s; lists and preferences join."""
    code, phone, email, address = merged.code, merged.phone, merged.email, merged.address
    # Unique columns: free them on `merged` before `kept` takes them.
    merged.code = None
    merged.set_phone(None)
    session.flush()
    for field in _FILLABLE:
        if getattr(kept, field) in (None, "") and getattr(merged, field) not in (None, ""):
            setattr(kept, field, getattr(merged, field))
    if not kept.code and code:
        kept.code = code
    if not kept.phone and phone:
        kept.set_phone(phone)
    if not kept.email and email:
        kept.set_email(email)
    if not kept.address and address:
        kept.address = address
    if not kept.name and merged.name:
        kept.name = merged.name
    kept.hobbies = list(dict.fromkeys([*(kept.hobbies or []), *(merged.hobbies or [])]))
    kept.preferences = {**(merged.preferences or {}), **(kept.preferences or {})}


def attach_commands(cli) -> None:
    """`storecrm customers duplicates` and `storecrm customers merge KEPT MERGED`."""
    import click
    from flask.cli import with_appcontext

    group = cli.commands.get("customers")
    if group is None:
        group = click.Group("customers", help="Customer profiles.")
        cli.add_command(group)

    @group.command("duplicates")
    @with_appcontext
    def duplicates():
        """List likely duplicate profiles (same phone, email, or name and birthday)."""
        pairs = find_duplicates(db.session, limit=1000)
        for pair in pairs:
            a, b = (db.session.get(Customer, i) for i in pair["ids"])
            click.echo(f"{a.id} {a.name} {a.code or ''}\t{b.id} {b.name} {b.code or ''}\t{', '.join(pair['reasons'])}")
        click.echo(f"{len(pairs)} likely duplicate pairs" + ("; merge with `storecrm customers merge KEPT MERGED`" if pairs else ""))

    @group.command("merge")
    @click.argument("kept_id", type=int)
    @click.argument("merged_id", type=int)
    @click.option("--yes", is_flag=True, help="do not ask for confirmation")
    @with_appcontext
    def merge(kept_id, merged_id, yes):
        """Fold profile MERGED_ID into KEPT_ID (everything moves; MERGED_ID is removed)."""
        from core.errors import DomainError

        kept, merged = db.session.get(Customer, kept_id), db.session.get(Customer, merged_id)
        if kept is None or merged is None:
            raise click.ClickException(f"no customer {kept_id if kept is None else merged_id}")
        if not yes:
            click.confirm(f"Merge #{merged.id} {merged.name} into #{kept.id} {kept.name}?", abort=True)
        try:
            result = merge_customers(db.session, kept, merged, actor="cli")
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        moved = ", ".join(f"{n} {t}" for t, n in sorted(result["moved"].items())) or "nothing else"
        click.echo(f"merged #{merged_id} into #{kept_id}: moved {moved}")
