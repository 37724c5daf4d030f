"""admin sign-in sessions kept on the server; a store's allowed clock skew for sale times

Revision ID: core_0012_hardening_sessions
Revises: core_0011_scoping_store_link
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0012_hardening_sessions"
down_revision = "core_0011_scoping_store_link"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("store") as batch:
        batch.add_column(sa.Column("sale_clock_ahead_minutes", sa.Integer, nullable=False, server_default="1440"))


def downgrade():
    with op.batch_alter_table("store") as batch:
        batch.drop_column("sale_clock_ahead_minutes")
    op.drop_table("user_session")
