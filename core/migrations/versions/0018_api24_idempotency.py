"""api: Idempotency-Key answers per token; a sale keeps the fingerprint of what was posted

Revision ID: core_0018_api24_idempotency
Revises: core_0017_ops22_periodic_imports
"""
from alembic import op
import sqlalchemy as sa

from core.models.types import UTCDateTime

revision = "core_0018_api24_idempotency"
down_revision = "core_0017_ops22_periodic_imports"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("api_token.id", ondelete="CASCADE",
                                                          name=op.f("fk_api_idempotency_key_token_id_api_token")),
                  nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(500), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_key")),
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_api_idempotency_key_token_key")),
    )
    op.create_index("ix_api_idempotency_key_created_at", "api_idempotency_key", ["created_at"])
    with op.batch_alter_table("sale") as batch:
        batch.add_column(sa.Column("request_fingerprint", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("sale") as batch:
        batch.drop_column("request_fingerprint")
    op.drop_index("ix_api_idempotency_key_created_at", table_name="api_idempotency_key")
    op.drop_table("api_idempotency_key")
