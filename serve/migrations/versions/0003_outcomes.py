"""Outcomes of launched plans (issue 17 item 1): one row per plan, customer and arm.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``outcomes`` table."""
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=True),
        sa.Column("clicked", sa.Boolean(), nullable=True),
        sa.Column("converted", sa.Boolean(), nullable=True),
        sa.Column("revenue", sa.Float(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "customer_id", "arm", name="uq_outcomes_plan_customer_arm"),
    )
    op.create_index("ix_outcomes_plan_id", "outcomes", ["plan_id"])


def downgrade() -> None:
    """Drop the ``outcomes`` table."""
    op.drop_index("ix_outcomes_plan_id", table_name="outcomes")
    op.drop_table("outcomes")
