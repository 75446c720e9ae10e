"""webhook inbox: queued_at, so that intake only stores and the worker's pump queues

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:00:00

- webhook_events.queued_at: when the event's job was handed to RQ; NULL means stored and not
  yet queued. Intake now writes the row only; the pump in each worker queues NULL rows.
- webhook_events.job_id: the RQ job that applies the event when it is not the event's own
  (`webhook-event-<id>`): under a backlog the pump queues events in batches, one job each.
  The sweep asks RQ about this job to tell a waiting event from a lost one.
- ix_webhook_events_unqueued: a partial index over the few rows waiting for the pump.
- Rows already stored were queued at intake by the previous code, so they are backfilled with
  their received_at; any of them left unprocessed is still found by the sweep.
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("webhook_events", sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_events", sa.Column("job_id", sa.String(length=100), nullable=True))
    op.execute("UPDATE webhook_events SET queued_at = received_at")
    op.create_index("ix_webhook_events_unqueued", "webhook_events", ["id"],
                    postgresql_where=sa.text("queued_at IS NULL"))


def downgrade():
    op.drop_index("ix_webhook_events_unqueued", table_name="webhook_events")
    op.drop_column("webhook_events", "job_id")
    op.drop_column("webhook_events", "queued_at")
