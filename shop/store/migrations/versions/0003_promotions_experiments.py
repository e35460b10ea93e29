"""promotions, per-customer codes, redemptions, exposures, offer consents, experiments

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 06:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("reward_kind", sa.String(length=10), nullable=False),
        sa.Column("reward_value", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("global_cap", sa.Integer(), nullable=True),
        sa.Column("per_customer_cap", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("spent", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft','active','paused','ended')", name=op.f("ck_promotions_status")
        ),
        sa.CheckConstraint(
            "reward_kind IN ('percent','fixed')", name=op.f("ck_promotions_reward_kind")
        ),
        sa.CheckConstraint("reward_value > 0", name=op.f("ck_promotions_reward_positive")),
        sa.CheckConstraint(
            "per_customer_cap >= 1", name=op.f("ck_promotions_per_customer_cap_positive")
        ),
        sa.CheckConstraint("redemptions >= 0", name=op.f("ck_promotions_redemptions_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("name", name=op.f("uq_promotions_name")),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("guardrails", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("mde", sa.Float(), nullable=False),
        sa.Column("sample_size_per_arm", sa.Integer(), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft','running','stopped')", name=op.f("ck_experiments_status")
        ),
        sa.CheckConstraint(
            "metric IN ('conversion','revenue','redemption')", name=op.f("ck_experiments_metric")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("key", name=op.f("uq_experiments_key")),
    )
    op.create_table(
        "promotion_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("uses >= 0", name=op.f("ck_promotion_codes_uses_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_promotion_codes_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_codes_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promotion_codes_code")),
        sa.UniqueConstraint(
            "promotion_id", "customer_id", name="uq_promotion_codes_promotion_customer"
        ),
    )
    with op.batch_alter_table("promotion_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promotion_codes_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promotion_codes_promotion_id"), ["promotion_id"], unique=False
        )
    op.create_table(
        "promotion_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("discount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["promotion_codes.id"],
            name=op.f("fk_promotion_redemptions_code_id_promotion_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_promotion_redemptions_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_promotion_redemptions_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_redemptions_promotion_id_promotions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_redemptions")),
        sa.UniqueConstraint("order_id", name=op.f("uq_promotion_redemptions_order_id")),
    )
    with op.batch_alter_table("promotion_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promotion_redemptions_code_id"), ["code_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promotion_redemptions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promotion_redemptions_promotion_id"), ["promotion_id"], unique=False
        )
    op.create_table(
        "exposures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("arm", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_exposures_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_exposures_experiment_id_experiments"),
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_exposures_promotion_id_promotions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposures")),
    )
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.create_index("ix_exposures_customer_at", ["customer_id", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_exposures_experiment_id"), ["experiment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exposures_promotion_id"), ["promotion_id"], unique=False
        )
    op.create_table(
        "offer_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("choice IN ('opt_out','opt_in')", name=op.f("ck_offer_consents_choice")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_offer_consents_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_consents")),
    )
    with op.batch_alter_table("offer_consents", schema=None) as batch_op:
        batch_op.create_index("ix_offer_consents_customer_at", ["customer_id", "at"], unique=False)
    op.create_table(
        "experiment_assignments",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=40), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("exposed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_experiment_assignments_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_assignments_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "customer_id", name=op.f("pk_experiment_assignments")
        ),
    )


def downgrade() -> None:
    op.drop_table("experiment_assignments")
    with op.batch_alter_table("offer_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_consents_customer_at")
    op.drop_table("offer_consents")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exposures_promotion_id"))
        batch_op.drop_index(batch_op.f("ix_exposures_experiment_id"))
        batch_op.drop_index("ix_exposures_customer_at")
    op.drop_table("exposures")
    with op.batch_alter_table("promotion_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotion_redemptions_promotion_id"))
        batch_op.drop_index(batch_op.f("ix_promotion_redemptions_customer_id"))
        batch_op.drop_index(batch_op.f("ix_promotion_redemptions_code_id"))
    op.drop_table("promotion_redemptions")
    with op.batch_alter_table("promotion_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotion_codes_promotion_id"))
        batch_op.drop_index(batch_op.f("ix_promotion_codes_customer_id"))
    op.drop_table("promotion_codes")
    op.drop_table("experiments")
    op.drop_table("promotions")
