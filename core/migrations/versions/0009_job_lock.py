"""job lock: one row per long job that is running (the nightly reclassification), on SQLite

Revision ID: core_0009_job_lock
Revises: core_0008_import_progress
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0009_job_lock"
down_revision = "core_0008_import_progress"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_lock",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("acquired_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", core.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_lock")),
    )


def downgrade():
    op.drop_table("job_lock")
