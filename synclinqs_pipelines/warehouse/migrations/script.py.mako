"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql(op.get_bind(), """
    """)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")
