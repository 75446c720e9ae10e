"""store admin: order indexes for the admin lists and dashboard, and the daily revenue rollup

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00

- ix_orders_created_at_id: the admin orders list filtered by date pages by (created_at, id).
- ix_orders_flagged_id: a partial index over the few orders flagged for review.
- store_revenue_days: store takings per UTC day and currency, maintained by the store's services,
  backfilled here from the orders already paid.
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_orders_created_at_id", "orders", ["created_at", "id"])
    op.create_index("ix_orders_flagged_id", "orders", ["id"], postgresql_where=sa.text("review_reason IS NOT NULL"))
    op.create_table(
        "store_revenue_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders_paid", sa.Integer(), server_default="0", nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "currency"),
    )
    op.execute("""
        INSERT INTO store_revenue_days (day, currency, orders_paid, amount_paid, amount_refunded)
        SELECT (paid_at AT TIME ZONE 'UTC')::date, currency, count(*), sum(total_amount), sum(amount_refunded)
        FROM orders WHERE paid_at IS NOT NULL
        GROUP BY 1, 2
    """)


def downgrade():
    op.drop_table("store_revenue_days")
    op.drop_index("ix_orders_flagged_id", table_name="orders")
    op.drop_index("ix_orders_created_at_id", table_name="orders")
