"""job outbox: jobs enqueued while Redis was unreachable, handed to Redis when it is back

Revision ID: core_0004_job_outbox
Revises: core_0003_classification
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0004_job_outbox"
down_revision = "core_0003_classification"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", core.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_outbox")),
    )


def downgrade():
    op.drop_table("job_outbox")
