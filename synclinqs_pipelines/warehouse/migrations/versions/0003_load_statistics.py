"""Planner statistics for a partition's rows inside the load that wrote them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from alembic import op

from synclinqs_pipelines.warehouse.migrations.sqltools import run_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQL = """
-- A load inserts a million rows and then, in the same transaction, checks them (control totals,
-- duplicates, orphans, IRS limits). Autovacuum cannot see uncommitted rows, so without this the planner
-- believes the partition holds the few rows of its last statistics and chooses nested loops over a
-- million rows. ANALYZE inside the transaction counts the transaction's own rows. Only the table owner
-- may ANALYZE (PostgreSQL 17 adds a MAINTAIN privilege; 15 and 16 do not have it), hence a definer
-- function, which analyzes only the tables and partitions holding the caller's tenant's rows of that
-- pay date, and skips a table another load is analyzing rather than wait for it.
CREATE FUNCTION core.analyze_partition(p_pay_date date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_org uuid := core.current_organization_id();
    v_table regclass;
    v_count integer := 0;
BEGIN
    IF v_org IS NULL THEN
        RAISE EXCEPTION 'analyze_partition needs a tenant context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR v_table IN
        SELECT t FROM (
            (SELECT c.tableoid::regclass AS t FROM core.contributions c
              WHERE c.organization_id = v_org AND c.pay_date = p_pay_date LIMIT 1)
            UNION
            (SELECT r.tableoid::regclass FROM core.pay_records r
              WHERE r.organization_id = v_org AND r.pay_date = p_pay_date LIMIT 1)
            UNION SELECT 'core.employees'::regclass
            UNION SELECT 'core.loans'::regclass) tables
    LOOP
        EXECUTE format('ANALYZE (SKIP_LOCKED) %s', v_table);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;
REVOKE ALL ON FUNCTION core.analyze_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.analyze_partition(date) TO synclinqs_pipeline;
"""


def upgrade() -> None:
    run_sql(op.get_bind(), SQL)


def downgrade() -> None:
    raise NotImplementedError("SyncLinqs migrations are forward-only; restore from a backup instead")
