"""privacy: data-subject requests, retention setting, append-only audit log

Revision ID: core_0002_privacy
Revises: core_0001
"""
from alembic import op
import sqlalchemy as sa
import core.models.types

revision = "core_0002_privacy"
down_revision = "core_0001"
branch_labels = None
depends_on = None

# Which audit columns may change: none, except the foreign keys' ON DELETE SET NULL when a
# user account or a store is removed (the row itself still says who, by name).
_FROZEN = ["id", "at", "actor", "ip", "action", "target_type", "target_id"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'audit_log is append-only: rows cannot be deleted';
  END IF;
  IF %s
     OR NEW.details::text IS DISTINCT FROM OLD.details::text
     OR (NEW.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id)
     OR (NEW.store_id IS NOT NULL AND NEW.store_id IS DISTINCT FROM OLD.store_id) THEN
    RAISE EXCEPTION 'audit_log is append-only: rows cannot be changed';
  END IF;
  RETURN NEW;
END $$;
""" % " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN)

SQLITE_UPDATE_GUARD = " OR ".join(
    [f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN + ["details"]]
    + ["(NEW.user_id IS NOT NULL AND NEW.user_id IS NOT OLD.user_id)",
       "(NEW.store_id IS NOT NULL AND NEW.store_id IS NOT OLD.store_id)"]
)


def upgrade():
    op.create_table(
        "privacy_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("received_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("due_at", core.models.types.UTCDateTime(), nullable=False),
        sa.Column("closed_at", core.models.types.UTCDateTime(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name=op.f("fk_privacy_request_store_id_store"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_privacy_request_customer_id_customer"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user_account.id"], name=op.f("fk_privacy_request_created_by_user_id_user_account"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["closed_by_user_id"], ["user_account.id"], name=op.f("fk_privacy_request_closed_by_user_id_user_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request")),
    )
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_request_store_id"), ["store_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_request_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_privacy_request_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "store_privacy",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", core.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name=op.f("fk_store_privacy_store_id_store"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_store_privacy")),
    )

    # The audit log is append-only in the database itself, whatever code or console writes to it.
    # (SQLite: a batch migration that recreates audit_log must recreate these triggers.)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")
    else:
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN "
                   "SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted'); END")
        op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log WHEN {SQLITE_UPDATE_GUARD} BEGIN "
                   "SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("store_privacy")
    with op.batch_alter_table("privacy_request", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_request_status_due")
        batch_op.drop_index(batch_op.f("ix_privacy_request_customer_id"))
        batch_op.drop_index(batch_op.f("ix_privacy_request_store_id"))
    op.drop_table("privacy_request")
