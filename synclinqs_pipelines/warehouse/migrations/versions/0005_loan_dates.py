"""Loans are a register of (employee, loan number); their payment dates are read from contributions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Keeping first/last payment dates on the loan row meant rewriting every repaying loan on every pay date
# (200,000 updates, each with its audit diff, for 100,000 employees: 12 s of a 30 s load) to store what
# min/max(pay_date) over the loan's contributions already says. No reader used the columns. dbt's
# staging views select every column of core.loans, so they are dropped with the columns; the next dbt
# build creates them again.
SQL = """
ALTER TABLE core.loans DROP COLUMN first_payment_date CASCADE, DROP COLUMN last_payment_date CASCADE;
"""


def upgrade() -> None:
    run_sql(op.get_bind(), SQL)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")
