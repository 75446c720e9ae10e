"""admin: the action audit log, and indexes matching the admin lists' filters

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-04 10:00:00

The admin lists page by keyset on id (newest first), filtered by status, type, user or date.
Status and type already have (status, id) / (type, id) indexes from 0001; the per-user filters
get (user_id, id) so "this user's newest rows" is one index range scan, and the date filters
get an index on the date each list filters by.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "admin_actions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("admin_email", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=False),
        sa.Column("target_id", sa.String(length=255), nullable=False),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["admin_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["subject_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admin_actions_subject_user_id_id", "admin_actions", ["subject_user_id", "id"])
    op.create_index("ix_admin_actions_target", "admin_actions", ["target_type", "target_id"])

    op.create_index("ix_subscriptions_user_id_id", "subscriptions", ["user_id", "id"])
    op.create_index("ix_subscriptions_stripe_created", "subscriptions", ["stripe_created"])
    op.create_index("ix_invoices_user_id_id", "invoices", ["user_id", "id"])
    op.create_index("ix_webhook_events_user_id_id", "webhook_events", ["user_id", "id"])
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])


def downgrade():
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
    op.drop_index("ix_webhook_events_user_id_id", table_name="webhook_events")
    op.drop_index("ix_invoices_user_id_id", table_name="invoices")
    op.drop_index("ix_subscriptions_stripe_created", table_name="subscriptions")
    op.drop_index("ix_subscriptions_user_id_id", table_name="subscriptions")
    op.drop_index("ix_admin_actions_target", table_name="admin_actions")
    op.drop_index("ix_admin_actions_subject_user_id_id", table_name="admin_actions")
    op.drop_table("admin_actions")
