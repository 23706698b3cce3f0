"""A run killed (SIGKILL, a real process death) in the middle of its load loses nothing and doubles nothing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import partition_rows, run_partition

pytestmark = pytest.mark.e2e
SLUG, PAY_DATE = "cedar-logistics", "2026-02-06"


def _waiting_load(conn: sa.Connection) -> int | None:
    pid = conn.execute(
        sa.text(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE 'DELETE FROM core.pay_records%' LIMIT 1"
        )
    ).scalar()
    conn.commit()  # pg_stat_activity is a snapshot per transaction
    return pid


def test_killed_load_leaves_the_partition_as_it_was_and_a_rerun_matches_a_clean_run(
    demo, definitions, instance, warehouse, tmp_path
):
    clean = partition_rows(warehouse, SLUG, PAY_DATE)
    assert len(clean) == 497
    tenant = warehouse.tenant_by_slug(SLUG)

    # Hold the partition's pay records: the run's load deletes its contributions first, then waits here,
    # with half its work done inside an open transaction.
    blocker = warehouse.engine.connect()
    hold = blocker.begin()
    blocker.execute(sa.text("SELECT set_config('app.current_organization_id', :o, true)"), {"o": str(tenant.id)})
    blocker.execute(
        sa.text("SELECT id FROM core.pay_records WHERE pay_date = :pd FOR UPDATE"),
        {"pd": dt.date.fromisoformat(PAY_DATE)},
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "synclinqs_pipelines.cli", "pipeline", "run", "--tenant", SLUG, "--pay-date", PAY_DATE],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "run.log").open("wb"),
    )
    backend = None
    try:
        with warehouse.engine.connect() as watch:
            deadline = time.time() + 120
            while backend is None and time.time() < deadline and proc.poll() is None:
                backend = _waiting_load(watch)
                time.sleep(0.2)
        assert backend is not None, (tmp_path / "run.log").read_text()[-3000:]
        with warehouse.tenant(warehouse.tenant_by_slug(SLUG), actor="test") as conn:
            # Seen from outside, mid-load, the partition is untouched.
            assert (
                conn.execute(
                    sa.text("SELECT count(*) FROM core.contributions WHERE pay_date = :pd"),
                    {"pd": dt.date.fromisoformat(PAY_DATE)},
                ).scalar_one()
                == 497
            )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        hold.rollback()
        blocker.close()
    with warehouse.engine.connect() as watch:
        deadline = time.time() + 60
        while (
            time.time() < deadline
            and watch.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": backend}
            ).scalar_one()
        ):
            watch.commit()
            time.sleep(0.2)
    assert proc.returncode == -signal.SIGKILL
    assert partition_rows(warehouse, SLUG, PAY_DATE) == clean, "nothing lost, nothing doubled"

    assert run_partition(definitions, instance, SLUG, PAY_DATE).success
    assert partition_rows(warehouse, SLUG, PAY_DATE) == clean
