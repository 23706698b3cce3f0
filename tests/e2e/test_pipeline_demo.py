"""The demo files, dropped in the inboxes, become warehouse rows and recordkeeper files without a click."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from synclinqs_pipelines.settings import get_settings
from tests.e2e.conftest import EXPECTED, evaluate, partition_rows, run_partition

pytestmark = pytest.mark.e2e

PAY_DATES = ("2026-01-09", "2026-01-23", "2026-02-06")
# (tenant, pay date) -> (contribution rows, total cents) of the demo data, pinned after checking them by
# hand against the generator (300/150/220 employees; the deliberate bad rows rejected, the rest loaded).
EXPECTED_SUMS: dict[tuple[str, str], tuple[int, int]] = {
    ("acme-manufacturing", "2026-01-09"): (828, 14467431),
    ("acme-manufacturing", "2026-01-23"): (828, 14467431),
    ("acme-manufacturing", "2026-02-06"): (813, 14225848),
    ("bluebird-health", "2026-01-09"): (433, 7508993),
    ("bluebird-health", "2026-01-23"): (422, 7294874),
    ("cedar-logistics", "2026-01-09"): (508, 9157159),
    ("cedar-logistics", "2026-01-23"): (508, 9157159),
    ("cedar-logistics", "2026-02-06"): (497, 9004728),
}


def _summary(warehouse, slug, pay_date):
    tenant = warehouse.tenant_by_slug(slug)
    with warehouse.tenant(tenant, actor="test") as conn:
        rows, cents = conn.execute(
            sa.text("SELECT count(*), coalesce(sum(amount_cents), 0) FROM core.contributions WHERE pay_date = :pd"),
            {"pd": dt.date.fromisoformat(pay_date)},
        ).one()
        export = conn.execute(
            sa.text(
                "SELECT file_name, record_count, control_total_cents, digest_sha256, uri"
                " FROM core.file_exports WHERE pay_date = :pd AND status = 'written'"
            ),
            {"pd": dt.date.fromisoformat(pay_date)},
        ).first()
    return int(rows), int(cents), export


def test_sensor_accepts_every_demo_file_and_requests_one_run_each(demo):
    assert len(demo.sensor_result.run_requests) == 9
    keys = sorted(r.run_key for r in demo.sensor_result.run_requests)
    assert all(k.startswith("payroll:") and len(k) == len("payroll:") + 64 for k in keys)
    assert len(set(keys)) == 9
    assert list(get_settings().inbox.rglob("*.csv")) == [] and list(get_settings().inbox.rglob("*.xlsx")) == []


def test_partitions_load_and_export_or_wait_by_error_rate(demo, warehouse):
    outcomes = {key: result.success for key, result in demo.results.items()}
    assert outcomes == {
        (t, d): not (t == "bluebird-health" and d == "2026-02-06")
        for t in ("acme-manufacturing", "bluebird-health", "cedar-logistics")
        for d in PAY_DATES
    }
    for (slug, pay_date), ok in outcomes.items():
        rows, cents, export = _summary(warehouse, slug, pay_date)
        if ok:
            assert rows > 0 and export is not None
            assert export.control_total_cents == cents, (slug, pay_date)
        else:
            assert (rows, export) == (0, None), "a batch over the error threshold must not load or export"


def test_warehouse_rows_and_sums_per_partition(demo, warehouse):
    got = {(slug, pd): _summary(warehouse, slug, pd)[:2] for slug, pd in demo.results}
    assert got == {
        ("acme-manufacturing", "2026-01-09"): EXPECTED_SUMS["acme-manufacturing", "2026-01-09"],
        ("acme-manufacturing", "2026-01-23"): EXPECTED_SUMS["acme-manufacturing", "2026-01-23"],
        ("acme-manufacturing", "2026-02-06"): EXPECTED_SUMS["acme-manufacturing", "2026-02-06"],
        ("bluebird-health", "2026-01-09"): EXPECTED_SUMS["bluebird-health", "2026-01-09"],
        ("bluebird-health", "2026-01-23"): EXPECTED_SUMS["bluebird-health", "2026-01-23"],
        ("bluebird-health", "2026-02-06"): (0, 0),
        ("cedar-logistics", "2026-01-09"): EXPECTED_SUMS["cedar-logistics", "2026-01-09"],
        ("cedar-logistics", "2026-01-23"): EXPECTED_SUMS["cedar-logistics", "2026-01-23"],
        ("cedar-logistics", "2026-02-06"): EXPECTED_SUMS["cedar-logistics", "2026-02-06"],
    }


def test_export_files_match_the_checked_in_bytes(demo, warehouse):
    compared = 0
    for slug, pay_date in demo.results:
        _, _, export = _summary(warehouse, slug, pay_date)
        if export is None:
            continue
        written = (get_settings().outbox / slug / export.file_name).read_bytes()
        assert hashlib.sha256(written).hexdigest() == export.digest_sha256
        expected = EXPECTED / slug / export.file_name
        assert written == expected.read_bytes(), f"{expected} differs from the export"
        compared += 1
    assert compared == 8


def test_errors_are_queryable_by_row_number_with_rule_codes(demo, warehouse):
    tenant = warehouse.tenant_by_slug("acme-manufacturing")
    with warehouse.tenant(tenant, actor="test") as conn:
        errors = conn.execute(
            sa.text(
                "SELECT q.source_row, q.field, q.rule_code, q.stage FROM core.error_queue q"
                " WHERE q.pay_date = '2026-02-06' AND q.severity = 'error' ORDER BY q.source_row"
            )
        ).all()
    got = [tuple(e) for e in errors]
    assert (5, "Termination Date", "CONTRIBUTION_AFTER_TERMINATION", "validation") in got
    assert (7, "401K Catch Up", "IRS_ROTH_CATCHUP_REQUIRED", "validation") in got
    assert ("INVALID_SSN", "mapping") in {(e[2], e[3]) for e in got}
    assert len(got) == 7
    blue = warehouse.tenant_by_slug("bluebird-health")
    with warehouse.tenant(blue, actor="test") as conn:
        held = conn.execute(
            sa.text(
                "SELECT count(DISTINCT source_row) FROM core.error_queue WHERE pay_date = '2026-02-06'"
                " AND severity = 'error'"
            )
        ).scalar_one()
    assert held == 22


def test_rematerializing_a_partition_leaves_identical_rows(demo, definitions, instance, warehouse):
    before = partition_rows(warehouse, "cedar-logistics", "2026-01-23")
    result = run_partition(definitions, instance, "cedar-logistics", "2026-01-23")
    assert result.success
    assert partition_rows(warehouse, "cedar-logistics", "2026-01-23") == before
    with warehouse.tenant(warehouse.tenant_by_slug("cedar-logistics"), actor="test") as conn:
        exports = conn.execute(
            sa.text("SELECT count(*) FROM core.file_exports WHERE pay_date = '2026-01-23'")
        ).scalar_one()
    assert exports == 1, "identical rows give the identical file, not a second export"


def test_same_file_renamed_adds_nothing_and_is_recorded_as_duplicate(demo, definitions, instance, warehouse):
    from synclinqs_pipelines.defs.landing.sensors import payroll_landing_sensor
    from synclinqs_pipelines.demo.generate import DEMO_TENANTS, demo_files

    name, data = list(demo_files(DEMO_TENANTS[0]).items())[0]
    before = partition_rows(warehouse, "acme-manufacturing", "2026-01-09")
    (get_settings().inbox / "acme-manufacturing" / f"COPY OF {name}").write_bytes(data)
    result = evaluate(payroll_landing_sensor, definitions, instance)
    assert result.run_requests == []
    assert partition_rows(warehouse, "acme-manufacturing", "2026-01-09") == before
    with warehouse.tenant(warehouse.tenant_by_slug("acme-manufacturing"), actor="test") as conn:
        dup = conn.execute(
            sa.text(
                "SELECT f.status, o.file_name FROM core.file_uploads f JOIN core.file_uploads o"
                " ON o.id = f.duplicate_of WHERE f.file_name = :n"
            ),
            {"n": f"COPY OF {name}"},
        ).one()
        note = (
            conn.execute(sa.text("SELECT title FROM core.notifications WHERE kind = 'duplicate_file'")).scalars().all()
        )
    assert tuple(dup) == ("duplicate", name)
    assert note == ["Duplicate file ignored"]


def test_off_cycle_file_adds_exactly_its_rows(demo, definitions, instance, warehouse):
    from synclinqs_pipelines.defs.landing.sensors import payroll_landing_sensor
    from synclinqs_pipelines.demo.generate import DEMO_TENANTS, encode, make_people, period_row, write_payroll

    acme = DEMO_TENANTS[0]
    people = make_people(acme.seed, acme.employees)[10:13]
    rows = [
        period_row(p, dt.date(2026, 1, 23), acme.plan_code)
        | {
            "pretax_cents": 5000,
            "roth_cents": 0,
            "catchup_pretax_cents": 0,
            "catchup_roth_cents": 0,
            "match_cents": 0,
            "loan_1_cents": 0,
            "loan_2_cents": 0,
            "gross_pay_cents": 100000,
            "plan_compensation_cents": 100000,
        }
        for p in people
    ]
    before = partition_rows(warehouse, "acme-manufacturing", "2026-01-23")
    inbox = get_settings().inbox / "acme-manufacturing"
    (inbox / "bonus_20260123.csv").write_bytes(write_payroll("adp_workforce_now", encode("adp_workforce_now", rows)))
    result = evaluate(payroll_landing_sensor, definitions, instance)
    [request] = result.run_requests
    assert run_partition(definitions, instance, "acme-manufacturing", "2026-01-23", request.tags).success
    after = partition_rows(warehouse, "acme-manufacturing", "2026-01-23")
    added = sorted(set(after) - set(before))
    assert sorted(set(before) - set(after)) == []
    assert [(a[0], a[1], a[2], a[5]) for a in added] == sorted(
        (p.external_id, "PRETAX", 5000, "bonus_20260123.csv") for p in people
    )


def test_s3_landing_zone_lists_reads_and_quarantines(tmp_path):
    """The S3 implementation against moto's in-process S3 (a cloud API, behind the same interface)."""
    import boto3
    from moto import mock_aws

    from synclinqs_pipelines.landing.zones import S3LandingZone, S3ObjectStore

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="landing")
        client.put_object(Bucket="landing", Key="inbox/acme/pay.csv", Body=b"a,b\n1,2\n")
        client.put_object(Bucket="landing", Key="inbox/acme/.pay2.csv.part", Body=b"partial")
        client.put_object(Bucket="landing", Key="inbox/stray.csv", Body=b"x")
        zone = S3LandingZone(client, "landing")
        files = zone.list(10)
        assert sorted((f.key, f.tenant_folder, f.kind) for f in files) == [
            ("acme/pay.csv", "acme", "payroll"),
            ("stray.csv", None, "payroll"),
        ]
        pay = next(f for f in files if f.key == "acme/pay.csv")
        assert zone.read(pay) == b"a,b\n1,2\n"
        stray = next(f for f in files if f.key == "stray.csv")
        uri = zone.quarantine(stray, "not in a tenant folder")
        assert uri.startswith("s3://landing/quarantine/_unknown/")
        assert [f.key for f in zone.list(10)] == ["acme/pay.csv"]
        store = S3ObjectStore(client, "landing", "archive/")
        assert store.get(store.put("acme/x.enc", b"secret")) == b"secret"


def test_unknown_tenant_folder_and_unreadable_file_are_quarantined_with_reasons(demo, definitions, instance, warehouse):
    from synclinqs_pipelines.defs.landing.sensors import payroll_landing_sensor

    inbox = get_settings().inbox
    (inbox / "no-such-tenant").mkdir(exist_ok=True)
    (inbox / "no-such-tenant" / "pay.csv").write_bytes(b"x,y\n1,2\n")
    (inbox / "cedar-logistics" / "garbage.csv").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 100)
    (inbox / "cedar-logistics" / ".uploading.csv.part").write_bytes(b"half a file")
    result = evaluate(payroll_landing_sensor, definitions, instance)
    assert result.run_requests == []
    quarantine = get_settings().quarantine
    reasons = sorted(p.read_text().strip() for p in quarantine.rglob("*.reason.txt"))
    assert "'no-such-tenant' is not a tenant folder; files go in <inbox>/<tenant-slug>/" in reasons
    assert "is neither UTF-8 nor Windows-1252 text; ask the sender to export the file as UTF-8 CSV" in reasons
    assert (inbox / "cedar-logistics" / ".uploading.csv.part").exists(), "an upload in progress is left alone"
    with warehouse.tenant(warehouse.tenant_by_slug("cedar-logistics"), actor="test") as conn:
        status = conn.execute(
            sa.text("SELECT status FROM core.file_uploads WHERE file_name = 'garbage.csv'")
        ).scalar_one()
    assert status == "quarantined"


def test_a_load_whose_pay_records_disagree_with_its_contributions_is_refused(demo, warehouse, keyring, monkeypatch):
    """The limit check reads the pay records' amounts; a load where they are not its contributions' stops."""
    import polars as pl

    from synclinqs_pipelines.landing.zones import LocalObjectStore
    from synclinqs_pipelines.mapping.catalog import get_catalog
    from synclinqs_pipelines.partition import (
        PartitionContext,
        load_rows,
        map_files,
        read_files,
        tenant_spec,
        validate_rows,
    )
    from synclinqs_pipelines.warehouse import loader

    before = partition_rows(warehouse, "cedar-logistics", "2026-01-23")
    catalog = get_catalog()
    ctx = PartitionContext(
        warehouse,
        keyring,
        catalog,
        warehouse.tenant_by_slug("cedar-logistics"),
        tenant_spec(catalog, "cedar-logistics"),
        dt.date(2026, 1, 23),
        "test-run",
    )
    mapped = map_files(ctx, read_files(ctx, LocalObjectStore(get_settings().archive)).frame)
    accepted = validate_rows(ctx, mapped.frame).frame
    right = loader.period_amounts()
    monkeypatch.setattr(loader, "period_amounts", lambda: {**right, "elective": right["elective"] + pl.lit(1)})
    with pytest.raises(RuntimeError, match="pay records' limit amounts .* disagree with the contributions loaded"):
        load_rows(ctx, mapped.frame, accepted)
    assert partition_rows(warehouse, "cedar-logistics", "2026-01-23") == before
