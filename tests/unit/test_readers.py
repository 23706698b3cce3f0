"""Reading payroll files: encodings, line endings, quoting, XLSX, fixed-width, whole-file errors."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.errors import MappingFileError
from synclinqs_pipelines.mapping.readers import read_source

CATALOG = SpecCatalog(Path(__file__).resolve().parents[2] / "mapping_specs")
ADP = CATALOG.system("adp")
HEADER = (
    "Company Code,File Number,Tax ID,Last Name,First Name,Middle Name,Birth Date,Hire Date,Rehire Date,"
    "Termination Date,Position Status,Pay Date,Period Start Date,Period End Date,Pay Frequency,Gross Pay,"
    "401K Eligible Wages,Hours Worked,401K,Roth 401K,401K Catch Up,Roth Catch Up,401K Loan 1,401K Loan 2,"
    "Employer Match,Safe Harbor Match,401K Deferral %,Roth Deferral %,Prior Year FICA Wages,Plan Code"
)
ROW1 = (
    'ACM,1001,123-45-6789,"Núñez, Jr.",José,,05/06/1970,01/02/2010,,,A,01/09/2026,12/27/2025,01/09/2026,B,'
    '"3,425.11","3,425.11",80.00,102.75,0.00,300.00,0.00,125.37,0.00,85.63,0.00,3,0,"210,000.00",401K'
)
ROW2 = ROW1.replace("1001,123-45-6789", "1002,123456780")


def _adp(text: str, encoding: str = "utf-8", bom: bool = False, newline: str = "\n") -> bytes:
    data = text.replace("\n", newline).encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.parametrize(
    ("encoding", "bom", "newline", "trailing"),
    [
        ("utf-8", False, "\n", ""),
        ("utf-8", True, "\r\n", ""),
        ("cp1252", False, "\r\n", "\r\n\r\n"),
        ("utf-8", False, "\n", "\n\n\n"),
    ],
    ids=["utf8-lf", "utf8-bom-crlf", "cp1252-crlf-blank-lines", "trailing-blank-lines"],
)
def test_csv_variants_read_the_same_rows(encoding, bom, newline, trailing):
    data = _adp(f"{HEADER}\n{ROW1}\n{ROW2}\n", encoding, bom, newline) + trailing.encode()
    frame = read_source(data, ADP, "adp.csv")
    assert frame.height == 2
    assert frame[engine.ROW].to_list() == [2, 3]
    assert frame["last_name"].to_list() == ["Núñez, Jr.", "Núñez, Jr."]
    assert frame["first_name"][0] == "José"
    assert frame["gross_pay"][0] == "3,425.11"
    assert frame["plan_code"].to_list() == ["401K", "401K"]


def test_header_aliases_and_case_are_accepted():
    header = HEADER.replace("Tax ID", "SOCIAL SECURITY NUMBER").replace("Pay Date", "check date")
    frame = read_source(_adp(f"{header}\n{ROW1}\n"), ADP, "adp.csv")
    assert frame["tax_id"][0] == "123-45-6789" and frame["pay_date"][0] == "01/09/2026"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (HEADER.encode() + b"\n", "has no data rows"),
        (b"Company Code,File Number\nACM,1\n", "missing required column(s) 'Tax ID', 'Last Name'"),
        (b"\x81\x8d\x8f\x90\x9d" * 10, "neither UTF-8 nor Windows-1252"),
    ],
    ids=["empty", "blank", "header-only", "missing-columns", "binary"],
)
def test_whole_file_problems_are_one_clear_error(data, problem):
    with pytest.raises(MappingFileError) as exc:
        read_source(data, ADP, "drop/adp.csv")
    assert str(exc.value).startswith("drop/adp.csv: ")
    assert problem in str(exc.value)


def test_xlsx_with_typed_cells_reads_as_text():
    import datetime as dt

    frame = pl.DataFrame(
        {
            "Client ID": ["70012345"],
            "Employee ID": ["E1"],
            "SSN": ["123-45-6789"],
            "Last Name": ["Lee"],
            "First Name": ["Ann"],
            "Date of Birth": [dt.date(1970, 5, 6)],
            "Date of Hire": [dt.date(2010, 1, 2)],
            "Check Date": [dt.date(2026, 1, 9)],
            "401k Pre-Tax": [102.75],
            "Plan ID": ["BH401K"],
        }
    )
    buf = io.BytesIO()
    frame.write_excel(buf)
    got = read_source(buf.getvalue(), CATALOG.system("paychex"), "p.xlsx")
    assert (got["check_date"][0], got["pretax"][0], got[engine.ROW][0]) == ("2026-01-09", "102.75", 2)


def test_fixed_width_reads_detail_records_by_position():
    system = CATALOG.system("ukg")
    detail = (
        "D"
        + "401K".ljust(10)
        + "E1".ljust(10)
        + "123456789"
        + "Lee".ljust(25)
        + "Ann".ljust(20)
        + "M"
        + "19700506"
        + "20100102"
        + " " * 8
        + " " * 8
        + "A"
        + "20260109"
        + "20251227"
        + "20260109"
        + "B"
        + "00000342511"
        + "00000342511"
        + "0008000"
        + "00000010275"
        + "00000000000"
        + "00000030000"
        + "00000000000"
        + "00000012537"
        + "501  "
        + "00000008563"
        + "03000"
        + "00000"
        + "00021000000"
    )
    assert len(detail) == 255
    text = "H20260109\n" + detail + "\n" + "T000000001\n"
    frame = read_source(text.encode(), system, "ukg.txt")
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert (row[engine.ROW], row["ssn"], row["last_name"], row["gross"], row["loan_number"]) == (
        2,
        "123456789",
        "Lee",
        "00000342511",
        "501",
    )
    resolved = CATALOG.resolve("ukg_to_fidelity")
    mapped = engine.run(resolved.inbound, frame).frame.row(0, named=True)
    assert (mapped["gross_pay_cents"], mapped["hours"], mapped["pretax_pct"], mapped["loan_1_cents"]) == (
        342511,
        80.0,
        0.03,
        12537,
    )


def test_fixed_width_short_lines_are_a_whole_file_error():
    with pytest.raises(MappingFileError, match="records of at most 10 characters; the fixed-width layout needs 117"):
        read_source(b"Dtoo short\n", CATALOG.system("ukg"), "ukg.txt")
