"""The bulk fact tables keep only the indexes their readers use.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Every reader of contributions and pay records filters by tenant and pay date (year-to-date totals, the
# load's replace and checks, exports) or aggregates whole years (the dbt marts): the (organization_id,
# pay_date, employee_id) index serves the first, partition pruning the second. The (employee_id,
# plan_year) indexes served no query and cost about a second of every million-row load.
SQL = """
DROP INDEX IF EXISTS core.contributions_employee_year;
DROP INDEX IF EXISTS core.pay_records_employee_year;
"""


def upgrade() -> None:
    run_sql(op.get_bind(), SQL)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")
