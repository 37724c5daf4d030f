"""classification cuts: each scope's store-relative cuts, so a sale classifies one customer

Revision ID: core_0005_classification_cuts
Revises: core_0004_job_outbox
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0005_classification_cuts"
down_revision = "core_0004_job_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "classification_cut",
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("high_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("medium_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("f_cuts", sa.JSON(), nullable=True),
        sa.Column("m_cuts", sa.JSON(), nullable=True),
        sa.Column("r_cuts", sa.JSON(), nullable=True),
        sa.Column("at_risk_gap_days", sa.Integer(), nullable=True),
        sa.Column("churned_gap_days", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("scope_id", name=op.f("pk_classification_cut")),
    )


def downgrade():
    op.drop_table("classification_cut")
