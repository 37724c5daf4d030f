"""stampcard tables

Revision ID: stampcard_0001
Revises:
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "stampcard_0001"
down_revision = None
branch_labels = ("stampcard",)  # the plugin's own branch: `storecrm db revision --branch stampcard`
depends_on = "core_0001"


def upgrade():
    op.create_table(
        "stampcard_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_stampcard_stamp_customer_id", "stampcard_stamp", ["customer_id"])


def downgrade():
    op.drop_table("stampcard_stamp")
