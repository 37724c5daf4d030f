"""Which customers get priority service (`customer_priority`): asked of the plugins enabled in
a store, by the counter lookup (a badge) and by feedback's complaint queue (order)."""

from __future__ import annotations

from core.plugins import HookContext

PURPOSES = ("counter", "complaints")


def customer_priorities(session, registry, store, customer_ids, purpose: str, *, user=None,
                        actor: str = "system") -> dict[int, int]:
    """{customer_id: rank} (higher first) that the plugins enabled in `store` give for `purpose`;
    the highest rank any gives wins. No store, no ids or no answer: {}. A failing plugin is
    logged and left out: a page that orders by priority must still open."""
    ids = sorted({int(i) for i in customer_ids if i is not None})
    if store is None or not ids or purpose not in PURPOSES:
        return {}
    ctx = HookContext(session=session, store=store, user=user, actor=actor, registry=registry)
    ranks: dict[int, int] = {}
    for name in registry.implementers("customer_priority", registry.enabled_in(store)):
        for answer in registry.call_guarded("customer_priority", name, ctx, customer_ids=ids, purpose=purpose):
            for customer_id, rank in (answer or {}).items():
                if int(rank) >= 1:
                    ranks[int(customer_id)] = max(ranks.get(int(customer_id), 0), int(rank))
    return ranks
