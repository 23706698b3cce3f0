"""Each pay record carries the row's money as the IRS limits count it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Year-to-date totals (validation reads them before a load, the limit check after it) summed the
# tenant's contributions of the whole plan year: eight rows per employee and pay date, a scan that grows
# every payroll (1.6 million rows at the second pay date of a 100,000-employee tenant, 21 million at the
# 26th). The pay record is one row per employee, pay date and file, written from the same payroll row in
# the same transaction as its contributions; it now carries that row's elective deferrals, catch-up and
# annual additions (`rules.period_amounts`), so the totals read an eighth of the rows.
#
# Existing rows are filled from their contributions (matched by file and row). The owner bypasses the
# tenant policy for this one statement only: FORCE is lifted and restored inside this transaction.
SQL = """
ALTER TABLE core.pay_records
    ADD COLUMN elective_cents bigint, ADD COLUMN catch_up_cents bigint, ADD COLUMN additions_cents bigint;

ALTER TABLE core.pay_records NO FORCE ROW LEVEL SECURITY;
ALTER TABLE core.contributions NO FORCE ROW LEVEL SECURITY;
UPDATE core.pay_records p
   SET elective_cents = coalesce(c.elective, 0), catch_up_cents = coalesce(c.catch_up, 0),
       additions_cents = coalesce(c.additions, 0)
  FROM (SELECT organization_id, pay_date, file_upload_id, source_row, employee_id,
               sum(amount_cents) FILTER (WHERE source_code IN ('PRETAX', 'ROTH')) AS elective,
               sum(amount_cents) FILTER (WHERE source_code IN ('CATCHUP_PRETAX', 'CATCHUP_ROTH')) AS catch_up,
               sum(amount_cents) FILTER (WHERE source_code NOT IN ('CATCHUP_PRETAX', 'CATCHUP_ROTH', 'LOAN'))
                   AS additions
          FROM core.contributions WHERE deleted_at IS NULL
         GROUP BY organization_id, pay_date, file_upload_id, source_row, employee_id) c
 WHERE c.organization_id = p.organization_id AND c.pay_date = p.pay_date AND c.employee_id = p.employee_id
   AND c.file_upload_id IS NOT DISTINCT FROM p.file_upload_id AND c.source_row = p.source_row;
UPDATE core.pay_records SET elective_cents = 0, catch_up_cents = 0, additions_cents = 0
 WHERE elective_cents IS NULL;
ALTER TABLE core.contributions FORCE ROW LEVEL SECURITY;
ALTER TABLE core.pay_records FORCE ROW LEVEL SECURITY;

ALTER TABLE core.pay_records
    ALTER COLUMN elective_cents SET NOT NULL, ALTER COLUMN catch_up_cents SET NOT NULL,
    ALTER COLUMN additions_cents SET NOT NULL;
"""


def upgrade() -> None:
    run_sql(op.get_bind(), SQL)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")
