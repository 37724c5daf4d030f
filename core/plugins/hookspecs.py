"""Every hook a storecrm plugin can implement: the whole contract, in one module.

Hooks fall in five groups. Registration hooks run once at start-up for every installed
plugin. Checks run for the plugins enabled in a store before the core writes a sale. Event hooks run
for the plugins enabled in the store where the event happened: after the commit, from the
outbox (the default), or, for an implementation marked `@in_transaction`, inside the
transaction that wrote it, never undoing it (see "Events" below). Personal-data hooks
run on every installed plugin, enabled or not. Contribution hooks collect what enabled
plugins add to a quote, a page or a report.

`ctx` is a `core.plugins.HookContext`: `ctx.session`, `ctx.store`, `ctx.user`,
`ctx.event_id`, `ctx.plugin` and `ctx.settings()` (this plugin's settings for the store).
Implementations may accept only the arguments they use.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("storecrm")

# --- Registration: once at start-up, every installed plugin -----------------------------


@hookspec
def register_blueprints(app):
    """Called once while the app is built. Register Flask blueprints on `app`, e.g. an API
    blueprint made with `core.api.plugin_blueprint(name)`, which answers 404 in stores that
    have not enabled the plugin. Returns nothing."""


@hookspec
def register_admin_views(admin, app):
    """Called once while the admin is built. Add Flask-Admin views to `admin`; give each the
    plugin's name as `plugin` so its menu shows only in stores that enabled it. Returns nothing."""


@hookspec
def register_cli_commands(cli):
    """Called once when the `storecrm` command group is built. Add click commands or groups
    to `cli` (a `flask.cli.AppGroup`). Returns nothing."""


@hookspec
def register_jobs(scheduler):
    """Called once when the worker or in-process scheduler starts. Register periodic jobs with
    `scheduler.every(func, seconds=...)` or `scheduler.cron(func, "0 3 * * *")`; `func` is an
    importable function taking no arguments, run inside an app context. Returns nothing."""


@hookspec
def webhook_event_types():
    """Called once at start-up. Return a list of the events this plugin emits to webhook
    subscribers, each a dict `{"type": "<plugin>.<event>", "label": lazy_gettext(...)}` (the
    type starts with the plugin's name). Emit one with `core.webhooks.emit_event(session,
    store, type, data, customer_id=...)` in the transaction that made the change: it is sent
    after the commit, from the outbox, to the subscribers of that type."""


@hookspec
def register_message_channels():
    """Called once at start-up. Return a list of message channels (objects with `name` and
    `send(message) -> str` returning a provider id) that campaigns can send through."""


# --- Checks: plugins enabled in the sale's store, before anything of the sale is written -----


@hookspec
def sale_validate(sale, customer, ctx):
    """Called for every sale about to be recorded (till or batch), once the core has built and
    checked it (lines, totals, payments; `customer` resolved: a `Customer` or None) and before
    the sale is flushed: `sale` has no id yet, so read `customer`, not `sale.customer_id`.
    Refuse the sale by raising `core.errors.Unprocessable` (or another `DomainError`) with
    `fields`: that is the till's answer and nothing is written. `sale.adjustments` are already
    the plugins' own (`sale_quote`, recomputed by the core); check here what a till states
    outside them, e.g. a payment in points against the balance and the program's cap. Row locks taken here (SELECT
    ... FOR UPDATE) hold until the sale commits. Read and lock only: any other exception is
    logged and the sale goes through. Returns nothing."""


# --- Events: plugins enabled in the event's store ----------------------------------------------
# Each implementation is one of two kinds (docs/hooks.md, "Event hooks"). Unmarked:
# delivered after the commit, in a transaction of its own (in-process without Redis, by an rq
# worker draining the outbox with it), in order per customer, seconds later. Marked
# `@in_transaction` (from core.plugins, under @hookimpl): run inside the writing transaction in
# a savepoint, only for what the till's answer or the next sale's check needs at once (points,
# a stock decrement, a coupon marked used). Both are idempotent per (plugin, event): a failure
# is recorded on the delivery and retried with backoff; the change itself always stays.


@hookspec
def sale_recorded(sale, ctx):
    """Called once the core wrote `sale` (a `core.models.Sale` with lines, adjustments and
    payments) and its event row: after the commit by default, or inside the sale's transaction
    in this plugin's savepoint when marked `@in_transaction` (only what the till's answer or
    the next sale's check needs). Raise to fail the delivery: the sale stays and the delivery
    is retried. Returns nothing."""


@hookspec
def sale_refunded(sale, refund, ctx):
    """Called after `refund` (a `core.models.Refund` with its lines) of `sale` was written.
    Reverse exactly what the refunded lines caused (points, stock, figures). Returns nothing."""


@hookspec
def visit_recorded(visit, ctx):
    """Called after a `core.models.Visit` was written. Returns nothing."""


@hookspec
def customer_created(customer, ctx):
    """Called after a new `core.models.Customer` was written (API, admin, import, or a till
    naming an unknown phone). `ctx.store` is the store it was created in. Returns nothing."""


@hookspec
def customer_updated(customer, changes, ctx):
    """Called after a profile changed. `changes` maps each changed field to `(old, new)`;
    personal fields carry `None` in place of values. Returns nothing."""


@hookspec
def plugin_enabled(store, ctx):
    """Called when this plugin is switched on for `store`, inside the toggle's transaction:
    seed defaults here (e.g. the three default tiers). Raising rolls the toggle back."""


@hookspec
def plugin_disabled(store, ctx):
    """Called when this plugin is switched off for `store`. Its data stays; re-enabling
    finds it. Returns nothing."""


# --- Personal data: every installed plugin, whatever the stores enabled --------------------


@hookspec
def customer_export(customer, ctx):
    """Called when a person's data is exported. Return a JSON-serialisable dict of everything
    this plugin stores about `customer`, or None when it holds nothing."""


@hookspec
def customer_erased(customer_id, ctx):
    """Called when a person is erased, before the core anonymises the profile. Delete or
    anonymise every personal value this plugin holds for `customer_id`. Returns nothing."""


@hookspec
def sandbox_reset(store, customer_ids, ctx):
    """Called when an owner resets sandbox (test) store `store`, in the reset's one transaction,
    before the core deletes that store's sales, visits, events and customers; every installed
    plugin with tables, enabled there or not. Delete this plugin's data of `store` (its
    records: complaints, stock moves, campaigns sent...) and of the customers `customer_ids`
    (a SELECT of ids, use `.in_(customer_ids)`; they are about to be deleted), set-based. Keep
    the store's settings, and never touch another store's rows. Return a dict of table name to
    rows deleted (`{"feedback_complaint": 3}`), which the reset's audit entry counts, or None."""


@hookspec
def customer_merged(kept, merged, ctx):
    """Called when profile `merged` is folded into `kept` (both `Customer`), before `merged`
    is removed. Move this plugin's records to `kept`. Return a dict of table name to rows moved
    (`{"membership_points_entry": 12}`), which the merge's answer counts with the core's, or None."""


# --- Contributions: enabled plugins, results collected --------------------------------------


@hookspec
def sale_quote(cart, customer, ctx):
    """The server decides every amount: the only way a plugin changes what a sale costs.
    Called by `POST /sales/quote` (nothing is written) AND again by the core inside the sale's
    own transaction, for every sale that carries `options` or `adjustments`: the sale is
    written only when the till's posted adjustments equal these (source, code, amount), else
    422 naming each that differs; the computed ones are stored, never the till's `data`.
    `cart` is `{"lines": [...], "subtotal": Decimal, "options": {...}}` — `options` is what the
    till asks for (e.g. `{"redeem_points": 500}`, `{"coupon": "AB12CD"}`); `customer` a
    `Customer` or None. Compute from the cart, the customer, the options and your own rows,
    never from a figure the till sent; lock the rows you read (SELECT ... FOR UPDATE: a
    balance, a coupon's use) so they hold until the sale commits; give the same answer for
    the same state. Write nothing (mark a coupon used in `sale_recorded`). Return a list of
    adjustments `{"source": <your plugin name>, "code", "label", "amount": Decimal (negative
    for a discount), "data": JSON-able dict}`. Raise `core.errors.Unprocessable` to refuse."""


@hookspec
def sale_result(sale, ctx):
    """Called when the API answers for a sale (new, repeated or refunded). Return a dict that
    appears under `effects[<plugin>]`, e.g. points earned and the new balance, or None."""


@hookspec
def customer_panels(customer, ctx):
    """Called when the admin renders a customer page. Return a list of panels
    `{"title": str, "html": Markup, "order": int}` (render with the plugin's templates)."""


@hookspec
def timeline_text(activities, ctx):
    """Called when the admin shows a customer's timeline, once per installed plugin (enabled in
    the store or not: the entries are the customer's history) with the `Activity` rows on it
    that the plugin wrote (`activity.source` is its name). Return a dict of activity id to
    `{"title": str, "body": str | None}` in the current language (`gettext`), for the entries
    the plugin words itself (the rest keep their stored title and body), or None."""


@hookspec
def dashboard_widgets(store, period, ctx):
    """Called when a dashboard renders; `store` is None for the chain view, `period` a
    `(start, end)` pair of dates. Return a list of widgets
    `{"title": str, "value": str, "note": str?, "link": url?}` tiles (`link`: the list the figure
    counts, computed with the same definition and scope, so the two agree) or `{"title": str, "chart": {"type": "bar"|"line"|
    "doughnut"|"pie", "labels": [...], "datasets": [{"label": str, "data": [numbers]}]}}` charts (Chart.js)."""


@hookspec
def segment_filters():
    """Called when campaigns builds an audience. Return a list of filters
    `{"name", "label", "params": {...}, "apply": callable(select, params, ctx) -> select}`."""


@hookspec
def customer_priority(customer_ids, purpose, ctx):
    """Called when a page orders or marks customers by priority: `purpose` is `"counter"` (the
    counter lookup shows a priority badge) or `"complaints"` (feedback's complaint queue puts
    these customers' open complaints first). `customer_ids` is a list of ids (at most a page's
    worth). Return `{customer_id: rank}` for the customers this plugin gives priority (rank >= 1,
    higher first; membership: the tier's place among the tiers with the priority-service perk),
    or None. Callers take the highest rank any plugin gives; absent means no priority."""


@hookspec
def kpi_metrics(staff, period, ctx):
    """Called when staff_kpi reports on `staff` (a `User`) for `period` `(first_day, last_day)`:
    local dates of `ctx.store`'s calendar, both inclusive. Return a dict of metric name to value
    (e.g. `{"avg_rating": Decimal("4.6")}`); a name without a dot is filed under the plugin."""


# --- Requests between plugins: enabled plugins, the first that takes it answers True ---------


@hookspec
def customer_notification(customer, topic, data, ctx):
    """Called when a plugin asks that `customer` be told something (e.g. membership's
    `membership.upgrade` with `data={"tier": "silver", ...}`), inside the caller's transaction.
    A plugin that owns message channels (campaigns) sends or queues it, respecting consent,
    and returns True; others return None. The caller stops at the first True.

    The words the customer reads: `data["texts"] = {"zh": (subject, body), "en": (subject,
    body)}`, in which `{{ name }}` and `{{ store }}` are the customer's name and the store's. The
    channel owner picks the customer's language; a topic without `texts` is sent in the channel
    owner's own words for it, if it has some."""


@hookspec
def staff_notification(users, topic, data, ctx):
    """Called when a plugin asks that staff members be told something that needs action:
    feedback's `feedback.sla_breach` (a complaint past its SLA), inventory's
    `inventory.below_safety` (a product under its safety stock). `users` is a list of `User`
    (usually the store's managers), `data` a JSON-serialisable dict the message is rendered
    from. A plugin that owns message channels (campaigns) sends or queues it and returns True;
    others return None. The caller stops at the first True; with no taker it keeps its own
    record (an alert row, a dashboard tile), which it must do in any case."""


@hookspec
def issue_coupon(customer, spec, ctx):
    """Called when a plugin asks for a coupon for `customer` without importing the plugin that
    owns coupons, e.g. feedback's compensation when a complaint is resolved. `spec` is
    `{"kind": "amount"|"percent", "value": Decimal, "valid_days": int, "reason": str,
    "min_spend": Decimal?}`. The owner of coupons (campaigns) creates one, inside the caller's
    transaction, and returns `{"code": str, "label": str, "expires_on": "YYYY-MM-DD"}`; others
    return None. The caller takes the first answer."""


@hookspec
def stock_change(store, sku, quantity, reason, source_key, ctx):
    """Called when a plugin hands goods over or takes them back outside a sale (membership's
    rewards catalogue: a reward exchanged for points, then returned), inside the caller's
    transaction. `quantity` is signed (negative: out of stock), `sku` a catalogue product,
    `reason` a person's sentence for the stock ledger, `source_key` unique per change (the same
    key twice moves stock once). A plugin that keeps stock (inventory) moves it and returns
    True, refusing with `core.errors.Unprocessable` when taking out more than the store has;
    others return None. The caller stops at the first True; with no taker stock is not kept."""


@hookspec
def kpi_metric_definitions():
    """Called once at start-up (like the registration hooks) on every installed plugin that
    contributes `kpi_metrics`. Return a list of `{"name": "feedback.avg_rating", "label":
    lazy_gettext(...), "format": "decimal"|"percent"|"count"|"money", "higher_is_better": bool}`
    so staff_kpi can label, format and rank the values without knowing the plugin."""


@hookspec
def demo_seed(store, rng, today, ctx):
    """Called by `storecrm demo` once per store where this plugin is enabled, after the demo's
    customers, sales and visits exist, inside one transaction. Add believable data of the
    plugin's own (suppliers and stock, complaints, targets, a past campaign); `rng` is a
    seeded `random.Random`, `today` the store's local date. Must be idempotent: a second
    `storecrm demo` adds nothing. Returns nothing."""
