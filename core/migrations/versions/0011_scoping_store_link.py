"""customer_store_link: a store sees a customer who presented their full phone or member
card at its counter (domain.md, "Privacy and access"); who linked whom, where and when

Revision ID: core_0011_scoping_store_link
Revises: core_0010_sale_line_cost
"""
from alembic import op
import sqlalchemy as sa

import core.models.types

revision = "core_0011_scoping_store_link"
down_revision = "core_0010_sale_line_cost"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_store_link",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("store_id", sa.Integer, sa.ForeignKey("store.id", ondelete="CASCADE"), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("linked_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("linked_by_user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="SET NULL")),
        sa.Column("linked_by", sa.String(120), nullable=False),
        sa.UniqueConstraint("customer_id", "store_id", name="uq_customer_store_link"),
    )
    op.create_index("ix_customer_store_link_customer_id", "customer_store_link", ["customer_id"])
    op.create_index("ix_customer_store_link_store_id", "customer_store_link", ["store_id"])


def downgrade():
    op.drop_table("customer_store_link")
