"""The partition loader: exact replacement, and PII re-encrypted only when it changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.validation.rules import FILE, FILE_SEQ
from synclinqs_pipelines.warehouse import loader

pytestmark = pytest.mark.integration
CATALOG = SpecCatalog(Path(__file__).resolve().parents[2] / "mapping_specs")
SCHEMA = engine.conform(pl.DataFrame({ROW: [1]}), CATALOG.resolve("adp_to_fidelity").inbound).schema
PAY = dt.date(2026, 3, 6)


def frame(file_id: str, people: list[tuple[str, str, int]]) -> pl.DataFrame:
    rows = []
    for i, (ssn, last, pretax) in enumerate(people):
        row = {c: None for c in SCHEMA}
        row.update(
            {
                ROW: i + 2,
                "external_id": f"E{ssn[-3:]}",
                "ssn": ssn,
                "first_name": "Ann",
                "last_name": last,
                "birth_date": dt.date(1980, 1, 1),
                "hire_date": dt.date(2010, 1, 1),
                "plan_code": "401K",
                "pay_date": PAY,
                "pretax_cents": pretax,
                "match_cents": 100,
                "loan_1_cents": 500,
                "loan_1_number": "7",
                "pretax_pct": 0.05,
                "gross_pay_cents": 300000,
                "plan_compensation_cents": 300000,
            }
        )
        rows.append(row)
    return pl.DataFrame(rows, schema=SCHEMA).with_columns(pl.lit(file_id).alias(FILE), pl.lit(0).alias(FILE_SEQ))


def _file(warehouse, tenant) -> str:
    with warehouse.tenant(tenant, actor="test") as conn:
        return str(
            conn.execute(
                sa.text(
                    "INSERT INTO core.file_uploads (organization_id, file_name, landing_uri, digest_sha256, size_bytes,"
                    " pay_date, status) VALUES (:o, 'f.csv', 'file:///f.csv', :d, 1, :pd, 'received') RETURNING id"
                ),
                {"o": tenant.id, "d": "a" * 64, "pd": PAY},
            ).scalar_one()
        )


def load(warehouse, keyring, tenant, rows):  # type: ignore[no-untyped-def]
    with warehouse.tenant(tenant, actor="test") as conn:
        cipher = keyring.cipher(conn, tenant.id)
        report = loader.load_partition(conn, tenant.id, PAY, loader.with_ssn_index(rows, cipher), cipher)
        pay = sorted(
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT e.external_id, p.elective_cents, p.catch_up_cents, p.additions_cents FROM core.pay_records p"
                    " JOIN core.employees e ON e.id = p.employee_id"
                )
            )
        )
        employees = {
            r.external_id: r
            for r in conn.execute(sa.text("SELECT external_id, last_name_encrypted, ssn_encrypted FROM core.employees"))
        }
        contributions = sorted(
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT e.external_id, c.source_code, c.amount_cents, l.loan_number FROM core.contributions c"
                    " JOIN core.employees e ON e.id = c.employee_id LEFT JOIN core.loans l ON l.id = c.loan_id"
                )
            )
        )
    return report, employees, contributions, cipher, pay


def test_reload_replaces_exactly_and_reencrypts_only_changed_pii(warehouse, keyring, make_tenant):
    tenant = make_tenant("loader")
    file_id = _file(warehouse, tenant)
    first = frame(file_id, [("701020001", "Alder", 1000), ("701020002", "Birch", 2000)])
    report, employees, contributions, cipher, pay = load(warehouse, keyring, tenant, first)
    assert (report.employees_inserted, report.employees_encrypted, report.contributions, report.loans) == (2, 2, 6, 2)
    assert contributions == [
        ("E001", "LOAN", 500, "7"),
        ("E001", "MATCH", 100, None),
        ("E001", "PRETAX", 1000, None),
        ("E002", "LOAN", 500, "7"),
        ("E002", "MATCH", 100, None),
        ("E002", "PRETAX", 2000, None),
    ]
    # Each pay record carries its row's money as the limits count it: deferrals, catch-up, and annual
    # additions (deferrals and employer money, no loan repayments).
    assert pay == [("E001", 1000, 0, 1100), ("E002", 2000, 0, 2100)]

    # Same rows again: nothing inserted, nothing re-encrypted, the same contributions.
    report2, employees2, contributions2, _, _ = load(warehouse, keyring, tenant, first)
    assert (report2.employees_inserted, report2.employees_updated, report2.employees_encrypted) == (0, 0, 0)
    assert report2.loans == 0  # both loans are registered already: nothing rewritten
    assert contributions2 == contributions
    assert employees2["E001"].ssn_encrypted == employees["E001"].ssn_encrypted

    # One last name changes and one amount: only that employee's ciphertexts change.
    changed = frame(file_id, [("701020001", "Alder-Ng", 1000), ("701020002", "Birch", 2500)])
    report3, employees3, contributions3, _, pay3 = load(warehouse, keyring, tenant, changed)
    assert (report3.employees_updated, report3.employees_encrypted) == (1, 1)
    assert (
        cipher.decrypt(loader.EMPLOYEES, "last_name_encrypted", bytes(employees3["E001"].last_name_encrypted))
        == "Alder-Ng"
    )
    assert employees3["E002"].last_name_encrypted == employees["E002"].last_name_encrypted
    assert ("E002", "PRETAX", 2500, None) in contributions3 and ("E002", "PRETAX", 2000, None) not in contributions3
    assert len(contributions3) == 6
    assert pay3 == [("E001", 1000, 0, 1100), ("E002", 2500, 0, 2600)]


def test_a_later_pay_date_registers_new_loans_and_leaves_known_ones_untouched(warehouse, keyring, make_tenant):
    tenant = make_tenant("loans")
    file_id = _file(warehouse, tenant)
    report, _, _, _, _ = load(warehouse, keyring, tenant, frame(file_id, [("701030001", "Alder", 1000)]))
    assert report.loans == 1

    def loans():  # type: ignore[no-untyped-def]
        with warehouse.tenant(tenant, actor="test") as conn:
            return conn.execute(
                sa.text("SELECT loan_number, id, xmin::text FROM core.loans ORDER BY loan_number")
            ).all()

    before = loans()
    later = PAY + dt.timedelta(days=14)
    rows = (
        frame(file_id, [("701030001", "Alder", 1000)])
        .with_columns(
            pl.lit(later).alias("pay_date"), pl.lit("8").alias("loan_2_number"), pl.lit(300).alias("loan_2_cents")
        )
        .cast({c: SCHEMA[c] for c in ("pay_date", "loan_2_number", "loan_2_cents")})
    )
    with warehouse.tenant(tenant, actor="test") as conn:
        cipher = keyring.cipher(conn, tenant.id)
        report = loader.load_partition(conn, tenant.id, later, loader.with_ssn_index(rows, cipher), cipher)
        stored = conn.execute(
            sa.text(
                "SELECT c.pay_date, c.amount_cents, l.loan_number FROM core.contributions c"
                " JOIN core.loans l ON l.id = c.loan_id ORDER BY c.pay_date, l.loan_number"
            )
        ).all()
    after = loans()
    # Loan 7 is the same row, not rewritten (same id and row version); loan 8 is new.
    assert report.loans == 1
    assert after[0] == before[0] and [r.loan_number for r in after] == ["7", "8"]
    assert [tuple(r) for r in stored] == [(PAY, 500, "7"), (later, 500, "7"), (later, 300, "8")]


def test_year_to_date_totals_and_the_limit_check_read_what_was_loaded(warehouse, keyring, make_tenant):
    """Validation's year-to-date read and the post-load limit check, from the stored pay records."""
    from synclinqs_pipelines.partition import irs_breaches
    from synclinqs_pipelines.validation.rules import SSN_INDEX

    tenant = make_tenant("ytd")
    file_id = _file(warehouse, tenant)
    later = PAY + dt.timedelta(days=14)
    # Employee 1 defers $10,000 then $15,000: $25,000 for 2026, over the $24,500 402(g) limit. Employee 2
    # defers $1,000 twice. Each row also has $1 of match and a $5 loan repayment (not an annual addition).
    first = frame(file_id, [("701040001", "Alder", 1_000_000), ("701040002", "Birch", 100_000)])
    second = frame(file_id, [("701040001", "Alder", 1_500_000), ("701040002", "Birch", 100_000)]).with_columns(
        pl.lit(later).cast(SCHEMA["pay_date"]).alias("pay_date")
    )
    with warehouse.tenant(tenant, actor="test") as conn:  # one load per transaction, as in the pipeline
        cipher = keyring.cipher(conn, tenant.id)
        first, second = loader.with_ssn_index(first, cipher), loader.with_ssn_index(second, cipher)
        loader.load_partition(conn, tenant.id, PAY, first, cipher)
        assert irs_breaches(conn, tenant.id, PAY) == 0
    with warehouse.tenant(tenant, actor="test") as conn:
        loader.load_partition(conn, tenant.id, later, second, cipher)
    with warehouse.tenant(tenant, actor="test") as conn:
        breaches = {pd: irs_breaches(conn, tenant.id, pd) for pd in (PAY, later)}
        ytd_for_later = loader.ytd_totals(conn, tenant.id, later)
        ytd_for_first = loader.ytd_totals(conn, tenant.id, PAY)
    # The loader takes what it is given (validation rejects such a row first): the check finds employee 1
    # over the limit in both of the year's partitions he is paid in.
    assert breaches == {PAY: 1, later: 1}

    def by_employee(ytd: pl.DataFrame, rows: pl.DataFrame) -> list[tuple[str, int, int, int, int]]:
        named = ytd.join(rows.select(SSN_INDEX, "external_id"), on=SSN_INDEX)
        return sorted(
            named.select("external_id", "ytd_elective", "ytd_catch_up", "ytd_additions", "ytd_plan_comp").rows()
        )

    # Every other pay date of the year, not the one being validated (its rows are replaced).
    assert by_employee(ytd_for_later, first) == [
        ("E001", 1_000_000, 0, 1_000_100, 300_000),
        ("E002", 100_000, 0, 100_100, 300_000),
    ]
    assert by_employee(ytd_for_first, first) == [
        ("E001", 1_500_000, 0, 1_500_100, 300_000),
        ("E002", 100_000, 0, 100_100, 300_000),
    ]
