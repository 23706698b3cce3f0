"""Recordkeeper files, byte for byte where the layout is public."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.export import export_batch

CATALOG = SpecCatalog(Path(__file__).resolve().parents[2] / "mapping_specs")
CONTEXT = {
    "tenant": "acme",
    "pay_date": dt.date(2026, 1, 9),
    "file_date": dt.date(2026, 1, 12),
    "plan_number": "12345",
    "client_id": "ACME01",
    "site_code": "S1",
    "sequence": 1,
}


def canonical(**overrides) -> pl.DataFrame:
    base = {name: None for name in CATALOG.canonical.field_names}
    base.update(
        {
            "external_id": "E1",
            "ssn": "123456789",
            "first_name": "Ann",
            "middle_name": "Marie",
            "last_name": "Lee",
            "birth_date": dt.date(1970, 5, 6),
            "hire_date": dt.date(2010, 1, 2),
            "plan_code": "401K",
            "pay_date": dt.date(2026, 1, 9),
            "employment_status": "A",
            "pay_frequency": "B",
            "gross_pay_cents": 342511,
            "plan_compensation_cents": 342511,
            "hours": 80.0,
            "pretax_cents": 10275,
            "roth_cents": 6850,
            "catchup_pretax_cents": 30000,
            "catchup_roth_cents": 1000,
            "match_cents": 8563,
            "loan_1_cents": 12537,
            "loan_1_number": "501",
            "loan_2_cents": 8000,
            "pretax_pct": 0.03,
            "roth_pct": 0.02,
            "prior_year_fica_cents": 21000000,
        }
    )
    base.update(overrides)
    schema = {
        ROW: pl.Int64,
        **{
            n: t
            for n, t in engine.conform(
                pl.DataFrame({ROW: [1]}), CATALOG.resolve("adp_to_fidelity").inbound
            ).schema.items()
            if n != ROW
        },
    }
    return pl.DataFrame([{ROW: 2, **base}], schema=schema)


def test_ascensus_first_line_35_columns_catch_up_and_loans_never_dropped():
    resolved = CATALOG.resolve("adp_to_ascensus")
    result = export_batch(resolved, canonical(), CONTEXT)
    lines = result.rendered.data.decode().split("\r\n")
    assert lines[0] == "ACME01,01/09/2026,S1,1"
    header = lines[1].split(",")
    assert len(header) == 35
    assert header[:9] == [
        "SOCIAL SECURITY",
        "LAST NAME",
        "FIRST NAME",
        "MI",
        "DIVISIONAL CODE",
        "TOTAL COMPENSATION",
        "EMPLOYEE 401(K)",
        "ROTH 401(K)",
        "LOAN PAYMENT AMOUNT",
    ]
    assert header[13:16] == ["CLIENT SPECIFIC"] * 3 and header[-1] == "EMPLOYEE WORK EMAIL"
    row = lines[2].split(",")
    assert row[:9] == ["123-45-6789", "Lee", "Ann", "M", "", "3425.11", "402.75", "78.50", "205.37"]
    assert row[22] == "05/06/1970" and row[23] == "01/02/2010" and row[30] == "Y"
    assert lines[3:] == [""]
    # Every cent of the contribution sources is in the file.
    assert result.rendered.control_total_cents == 10275 + 6850 + 30000 + 1000 + 8563 + 12537 + 8000


def test_relius_columns_in_public_order():
    resolved = CATALOG.resolve("gusto_to_relius")
    data = export_batch(resolved, canonical(), CONTEXT).rendered.data.decode()
    header, row = data.split("\r\n")[:2]
    assert header.split(",") == [
        "PLANID",
        "First Name",
        "Middle Name",
        "Last Name",
        "SSN",
        "Address 1",
        "Address 2",
        "City",
        "State",
        "Zip",
        "Birth Date",
        "Hire Date",
        "Rehire Date",
        "Termination Date",
        "Check Date",
        "Payroll Sequence",
        "Payroll Begin Date",
        "Payroll End Date",
        "Payroll Frequency",
        "Gross Earnings",
        "Hours",
        "Employee Deferral",
        "Employee Roth",
        "Loan Payments",
        "Employer Match",
        "Employer Non-elective",
        "Safe Harbor Match",
        "Safe Harbor Non-elective",
        "QNEC",
        "QMAC",
    ]
    assert row.split(",")[21:24] == ["402.75", "78.50", "205.37"]


def test_money_a_layout_cannot_carry_is_held_not_dropped():
    resolved = CATALOG.resolve("adp_to_relius")
    frame = pl.concat([canonical(), canonical(after_tax_cents=5000).with_columns(pl.lit(3, dtype=pl.Int64).alias(ROW))])
    result = export_batch(resolved, frame, CONTEXT)
    assert result.rendered.record_count == 1
    assert result.errors.select("row", "field", "code").rows() == [(3, "AFTER_TAX amount", "SOURCE_NOT_SUPPORTED")]


def test_fidelity_header_and_trailer_carry_count_and_control_total():
    resolved = CATALOG.resolve("adp_to_fidelity")
    frame = pl.concat([canonical(), canonical(ssn="123456780").with_columns(pl.lit(3, dtype=pl.Int64).alias(ROW))])
    result = export_batch(resolved, frame, CONTEXT)
    lines = result.rendered.data.decode().split("\r\n")
    assert lines[0] == "H,12345,01/09/2026,01/12/2026"
    assert lines[1].startswith("PLAN NUMBER,SSN,EMPLOYEE ID,LAST NAME")
    total = 2 * (10275 + 6850 + 30000 + 1000 + 8563 + 12537 + 8000)
    assert lines[-2] == f"T,2,{total // 100}.{total % 100:02d}"
    assert result.rendered.file_name == "FID_12345_20260109_001.csv"


def test_vanguard_fixed_width_zero_filled_implied_decimals():
    resolved = CATALOG.resolve("paychex_to_vanguard")
    result = export_batch(resolved, canonical(), CONTEXT | {"plan_number": "091234"})
    header, detail, trailer, end = result.rendered.data.decode().split("\r\n")
    assert header == "H091234" + "01092026" + "01122026" + "001"
    assert len(detail) == 232
    assert detail[0] == "D" and detail[1:7] == "401K  " and detail[7:16] == "123456789"
    assert detail[83:94] == "00000010275"  # pre-tax 102.75, positions 84-94
    assert detail[214:221] == "0008000"  # hours 80.00, implied decimals
    total = 10275 + 6850 + 30000 + 1000 + 8563 + 12537 + 8000
    assert trailer == "T" + "000000001" + str(total).zfill(15)
    assert end == ""


def test_value_too_long_for_a_fixed_width_field_holds_the_row():
    resolved = CATALOG.resolve("gusto_to_empower")
    long_name = canonical(first_name="Maximiliana-Josephine-Anastasia")
    result = export_batch(resolved, long_name, CONTEXT)
    assert result.rendered.record_count == 0
    assert result.errors.select("row", "field", "code").rows() == [(2, "first_name", "VALUE_TOO_LONG")]


@pytest.mark.parametrize("template", ["adp_to_principal", "adp_to_tiaa", "adp_to_paykonnect", "adp_to_empower"])
def test_every_layout_carries_every_cent(template):
    resolved = CATALOG.resolve(template)
    result = export_batch(resolved, canonical(), CONTEXT)
    assert result.rendered.record_count == 1
    assert result.rendered.control_total_cents == 10275 + 6850 + 30000 + 1000 + 8563 + 12537 + 8000


# What canonical() carries, per source and loan number ("2": loan 2 has no number, the export numbers it).
SENT = {
    ("PRETAX", ""): 10275,
    ("ROTH", ""): 6850,
    ("CATCHUP_PRETAX", ""): 30000,
    ("CATCHUP_ROTH", ""): 1000,
    ("MATCH", ""): 8563,
    ("LOAN", "501"): 12537,
    ("LOAN", "2"): 8000,
}


def test_combined_columns_are_grouped_the_way_the_recordkeeper_confirms_them():
    assert CATALOG.system("ascensus").confirmation_grouping() == {
        "sources": {"CATCHUP_PRETAX": "PRETAX", "CATCHUP_ROTH": "ROTH"},
        "loans_by_number": False,
    }
    assert CATALOG.system("fidelity").confirmation_grouping() == {"sources": {}, "loans_by_number": True}


@pytest.mark.parametrize("recordkeeper", sorted(CATALOG.known_systems("recordkeeper")))
def test_a_confirmation_of_the_export_reconciles_at_the_recordkeepers_grain(recordkeeper):
    """What the (demo) recordkeeper confirms from the file's bytes equals what was sent, once the sent
    amounts are grouped by the layout's confirmation grouping, as the dbt matching does."""
    from synclinqs_pipelines.demo.recordkeeper import confirm_export
    from synclinqs_pipelines.reconciliation.confirmations import read_confirmations

    system = CATALOG.system(recordkeeper)
    data = export_batch(CATALOG.resolve(f"adp_to_{recordkeeper}"), canonical(), CONTEXT).rendered.data
    confirmed = read_confirmations(confirm_export(data, system, CONTEXT["pay_date"]).data, "c.csv", system)
    assert confirmed.errors.is_empty()
    grouping = system.confirmation_grouping()

    def key(code: str, loan: str | None) -> tuple[str, str]:
        return grouping["sources"].get(code, code), (loan or "") if grouping["loans_by_number"] else ""

    expected: dict[tuple[str, str], int] = {}
    for (code, loan), cents in SENT.items():
        expected[key(code, loan)] = expected.get(key(code, loan), 0) + cents
    got: dict[tuple[str, str], int] = {}
    for code, loan, cents in confirmed.frame.select("source_code", "loan_number", "amount_cents").rows():
        got[key(code, loan)] = got.get(key(code, loan), 0) + cents
    assert got == expected


@pytest.mark.parametrize("template", ["adp_to_fidelity", "adp_to_vanguard", "gusto_to_empower", "ukg_to_ascensus"])
def test_single_valued_columns_print_the_same_bytes_as_row_by_row(template, monkeypatch):
    """Columns holding one value (or none) are formatted once; the file must not change by a byte."""
    from synclinqs_pipelines.mapping import writers

    rows = pl.concat(
        [
            canonical(),
            canonical(external_id="E2", ssn="123456780", gross_pay_cents=-5, match_cents=0, roth_pct=0.0555),
            canonical(external_id="E3", ssn="123456781", gross_pay_cents=99, match_cents=None, hire_date=None),
        ]
    ).with_columns(pl.int_range(2, 5).alias(ROW))
    resolved = CATALOG.resolve(template)
    fast = export_batch(resolved, rows, CONTEXT).rendered.data
    monkeypatch.setattr(writers, "_single_valued", lambda frame, fields: {})
    slow = export_batch(resolved, rows, CONTEXT).rendered.data
    assert fast == slow
    assert fast.count(b"\n") >= 3
