"""stores: a sandbox (test store) flag

Revision ID: core_0019_sandbox24_sandbox
Revises: core_0018_api24_idempotency
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0019_sandbox24_sandbox"
down_revision = "core_0018_api24_idempotency"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("store") as batch:
        batch.add_column(sa.Column("sandbox", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("store") as batch:
        batch.drop_column("sandbox")
