"""ops: periodic job slots claimed once (periodic_run); import uploads kept encrypted in the database (import_chunk)

Revision ID: core_0017_ops22_periodic_imports
Revises: core_0016_webhooks24_webhooks
"""
from alembic import op
import sqlalchemy as sa

revision = "core_0017_ops22_periodic_imports"
down_revision = "core_0016_webhooks24_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "periodic_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("slot", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(120), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("job", "scope", "slot", name=op.f("uq_periodic_run_job_scope_slot")),
    )
    op.create_table(
        "import_chunk",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_run_id", sa.Integer(), sa.ForeignKey("import_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("part", sa.String(8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("import_run_id", "part", "seq", name=op.f("uq_import_chunk_import_run_id_part_seq")),
    )


def downgrade():
    op.drop_table("import_chunk")
    op.drop_table("periodic_run")
