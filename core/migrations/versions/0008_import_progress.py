"""import runs: when a run last showed progress, so a run whose worker died can be failed

Revision ID: core_0008_import_progress
Revises: core_0007_import_runs
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0008_import_progress"
down_revision = "core_0007_import_runs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_at", core.models.types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_column("progress_at")
