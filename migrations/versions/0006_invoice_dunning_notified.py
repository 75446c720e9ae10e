"""invoices.dunning_notified: one dunning notice per failed payment attempt

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("invoices", sa.Column("dunning_notified", sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column("invoices", "dunning_notified")
