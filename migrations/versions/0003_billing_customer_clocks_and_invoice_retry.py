"""billing self-service: Stripe's per-customer clock and the invoice's next payment attempt

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('billing_customer_clocks',
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('ahead_seconds', sa.BigInteger(), nullable=False),
    sa.Column('latest_stripe_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('stripe_customer_id')
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_payment_attempt', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('next_payment_attempt')
    op.drop_table('billing_customer_clocks')
