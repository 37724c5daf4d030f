"""webhooks: subscriptions and their deliveries; sync: `updated_at` on sales and products, indexed
(with the customers' one) for `updated_since`

Revision ID: core_0016_webhooks24_webhooks
Revises: core_0015_counter13_phone_last4
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import core.crypto
import core.models.types

revision = "core_0016_webhooks24_webhooks"
down_revision = "core_0015_counter13_phone_last4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("store_id", sa.Integer, sa.ForeignKey("store.id", ondelete="CASCADE")),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("secret", core.crypto.EncryptedText(), nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by_user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="SET NULL")),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_subscription_store_id", "webhook_subscription", ["store_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("event.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.Integer),
        sa.Column("body", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", core.models.types.UTCDateTime()),
        sa.Column("window_started_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", core.models.types.UTCDateTime()),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_subscription_event"),
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_delivery_order", "webhook_delivery", ["subscription_id", "customer_id", "id"])
    op.create_index("ix_webhook_delivery_event_id", "webhook_delivery", ["event_id"])

    # Sync: what changed since a time. Sales change on a refund; products on an edit.
    with op.batch_alter_table("sale") as batch:
        batch.add_column(sa.Column("updated_at", core.models.types.UTCDateTime()))
    op.execute("UPDATE sale SET updated_at = created_at")
    with op.batch_alter_table("sale") as batch:
        batch.alter_column("updated_at", existing_type=core.models.types.UTCDateTime(), nullable=False)
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("updated_at", core.models.types.UTCDateTime()))
    op.execute(sa.text("UPDATE product SET updated_at = :now").bindparams(
        now=datetime.now(timezone.utc).replace(tzinfo=None)))
    with op.batch_alter_table("product") as batch:
        batch.alter_column("updated_at", existing_type=core.models.types.UTCDateTime(), nullable=False)
    op.create_index("ix_sale_updated_at", "sale", ["updated_at"])
    op.create_index("ix_product_updated_at", "product", ["updated_at"])
    op.create_index("ix_customer_updated_at", "customer", ["updated_at"])


def downgrade():
    op.drop_index("ix_customer_updated_at", "customer")
    op.drop_index("ix_product_updated_at", "product")
    op.drop_index("ix_sale_updated_at", "sale")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("updated_at")
    with op.batch_alter_table("sale") as batch:
        batch.drop_column("updated_at")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
