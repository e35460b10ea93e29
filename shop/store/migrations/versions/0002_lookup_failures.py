"""failed guest look-ups, counted across conversations

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("email_key", sa.String(length=32), nullable=True),
        sa.Column("order_key", sa.String(length=32), nullable=True),
        sa.Column("client_key", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_failures")),
    )
    with op.batch_alter_table("lookup_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_lookup_failures_email_key_at", ["email_key", "at"], unique=False)
        batch_op.create_index("ix_lookup_failures_order_key_at", ["order_key", "at"], unique=False)
        batch_op.create_index(
            "ix_lookup_failures_client_key_at", ["client_key", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lookup_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_lookup_failures_client_key_at")
        batch_op.drop_index("ix_lookup_failures_order_key_at")
        batch_op.drop_index("ix_lookup_failures_email_key_at")
        batch_op.drop_index(batch_op.f("ix_lookup_failures_at"))
    op.drop_table("lookup_failures")
