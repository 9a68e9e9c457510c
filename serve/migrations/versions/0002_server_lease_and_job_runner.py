"""The server lease (``server_leases``) and the server that started a job (``jobs.runner``), issue 18 bug 2.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the ``server_leases`` table and the nullable ``jobs.runner`` column (existing jobs keep no runner)."""
    op.create_table(
        "server_leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("runner", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop ``jobs.runner`` and the ``server_leases`` table."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("runner")
    op.drop_table("server_leases")
