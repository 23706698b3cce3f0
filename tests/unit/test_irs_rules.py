"""The IRS case table: each case accepted or rejected with the right rule code.

Limits (REFERENCE.md): 2026 402(g) $24,500, catch-up $8,000 at 50+, $11,250 at 60-63, 415(c) $72,000,
401(a)(17) $360,000; Roth catch-up required when 2025 FICA wages exceed $150,000. 2025: $23,500, $7,500,
$11,250, $70,000, no Roth catch-up test yet. 2024: no 60-63 catch-up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from synclinqs_pipelines.mapping import engine
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.validation.rules import (
    FILE,
    FILE_SEQ,
    SSN_INDEX,
    YTD_SCHEMA,
    PlanFacts,
    ValidationContext,
    validate,
)
from synclinqs_pipelines.validation.schemas import build_schema

CATALOG = SpecCatalog(Path(__file__).resolve().parents[2] / "mapping_specs")
SCHEMA = build_schema(CATALOG.canonical)
PLAN = engine.conform(pl.DataFrame({ROW: [1]}), CATALOG.resolve("adp_to_fidelity").inbound).schema


def D(cents_dollars: float) -> int:
    return round(cents_dollars * 100)


def row(pay_date: dt.date, birth: dt.date, **amounts: object) -> dict[str, object]:
    base: dict[str, object] = {name: None for name in PLAN}
    base.update(
        {
            ROW: 2,
            "external_id": "E1",
            "ssn": "701010001",
            "first_name": "Ann",
            "last_name": "Lee",
            "birth_date": birth,
            "hire_date": dt.date(2010, 1, 1),
            "plan_code": "401K",
            "pay_date": pay_date,
            "employment_status": "A",
            "gross_pay_cents": D(5000),
            "plan_compensation_cents": D(5000),
            "prior_year_fica_cents": D(100_000),
        }
    )
    base.update(amounts)
    return base


def run(
    pay_date: dt.date, birth: dt.date, ytd: dict[str, int] | None = None, has_roth: bool = True, **amounts: object
) -> list[str]:
    frame = pl.DataFrame([row(pay_date, birth, **amounts)], schema=PLAN).with_columns(
        pl.lit("f1").alias(FILE), pl.lit(0).alias(FILE_SEQ), pl.lit(b"bi").alias(SSN_INDEX)
    )
    ytd_frame = pl.DataFrame(
        [
            {
                SSN_INDEX: b"bi",
                "ytd_elective": 0,
                "ytd_catch_up": 0,
                "ytd_additions": 0,
                "ytd_plan_comp": 0,
                **(ytd or {}),
            }
        ],
        schema=YTD_SCHEMA,
    )
    ctx = ValidationContext(pay_date, {"401K": PlanFacts(has_roth=has_roth)}, ytd_frame, {})
    result = validate(frame, ctx, SCHEMA)
    codes = sorted(result.errors["code"].to_list())
    assert (result.accepted.height == 1) == (not result.errors.filter(pl.col("severity") == "error").height)
    return codes


JUNE_2026, JUNE_2025, JUNE_2024 = dt.date(2026, 6, 5), dt.date(2025, 6, 6), dt.date(2024, 6, 7)
AGE_40, AGE_55, AGE_61, AGE_64 = dt.date(1986, 3, 1), dt.date(1971, 3, 1), dt.date(1965, 3, 1), dt.date(1962, 3, 1)

CASES = [
    # 402(g): pre-tax + Roth over the year, crossing mid-year
    ("402g under the limit", JUNE_2026, AGE_40, {"ytd_elective": D(24_000)}, {"pretax_cents": D(400)}, []),
    (
        "402g exactly at the limit",
        JUNE_2026,
        AGE_40,
        {"ytd_elective": D(24_000)},
        {"pretax_cents": D(300), "roth_cents": D(200)},
        [],
    ),
    (
        "402g crossed by this pay date",
        JUNE_2026,
        AGE_40,
        {"ytd_elective": D(24_000)},
        {"pretax_cents": D(300), "roth_cents": D(201)},
        ["IRS_402G_EXCEEDED"],
    ),
    (
        "402g 2025 limit is lower",
        JUNE_2025,
        AGE_40,
        {"ytd_elective": D(23_400)},
        {"pretax_cents": D(200)},
        ["IRS_402G_EXCEEDED"],
    ),
    # catch-up by age attained by December 31
    ("catch-up under 50", JUNE_2026, AGE_40, {}, {"catchup_pretax_cents": D(100)}, ["IRS_CATCHUP_NOT_ELIGIBLE"]),
    ("catch-up turning 50 on Dec 31", JUNE_2026, dt.date(1976, 12, 31), {}, {"catchup_pretax_cents": D(100)}, []),
    ("catch-up 50+ at the limit", JUNE_2026, AGE_55, {"ytd_catch_up": D(7_800)}, {"catchup_pretax_cents": D(200)}, []),
    (
        "catch-up 50+ over the limit",
        JUNE_2026,
        AGE_55,
        {"ytd_catch_up": D(7_800)},
        {"catchup_pretax_cents": D(200.01)},
        ["IRS_CATCHUP_LIMIT_EXCEEDED"],
    ),
    (
        "super catch-up 61 within 11,250",
        JUNE_2026,
        AGE_61,
        {"ytd_catch_up": D(11_000)},
        {"catchup_pretax_cents": D(250)},
        [],
    ),
    (
        "super catch-up 61 over 11,250",
        JUNE_2026,
        AGE_61,
        {"ytd_catch_up": D(11_000)},
        {"catchup_pretax_cents": D(251)},
        ["IRS_CATCHUP_LIMIT_EXCEEDED"],
    ),
    (
        "age 64 is back to 8,000",
        JUNE_2026,
        AGE_64,
        {"ytd_catch_up": D(7_900)},
        {"catchup_pretax_cents": D(250)},
        ["IRS_CATCHUP_LIMIT_EXCEEDED"],
    ),
    (
        "no 60-63 catch-up in 2024",
        JUNE_2024,
        dt.date(1963, 3, 1),
        {"ytd_catch_up": D(7_400)},
        {"catchup_pretax_cents": D(200)},
        ["IRS_CATCHUP_LIMIT_EXCEEDED"],
    ),
    (
        "60-63 catch-up exists in 2025",
        JUNE_2025,
        dt.date(1964, 3, 1),
        {"ytd_catch_up": D(7_400)},
        {"catchup_pretax_cents": D(200)},
        [],
    ),
    # 415(c): deferrals, after-tax and employer money; catch-up and loans excluded
    (
        "415c with employer money over",
        JUNE_2026,
        AGE_55,
        {"ytd_additions": D(71_000)},
        {"pretax_cents": D(500), "match_cents": D(600)},
        ["IRS_415C_EXCEEDED"],
    ),
    (
        "415c exactly at the limit",
        JUNE_2026,
        AGE_55,
        {"ytd_additions": D(71_000)},
        {"pretax_cents": D(500), "safe_harbor_nec_cents": D(500)},
        [],
    ),
    (
        "415c ignores catch-up and loans",
        JUNE_2026,
        AGE_55,
        {"ytd_additions": D(71_900)},
        {"pretax_cents": D(100), "catchup_pretax_cents": D(2_000), "loan_1_cents": D(300)},
        [],
    ),
    # SECURE 2.0 Roth catch-up, from 2026, on prior-year FICA wages above $150,000
    (
        "Roth catch-up: exactly 150,000 is not above",
        JUNE_2026,
        AGE_55,
        {},
        {"catchup_pretax_cents": D(100), "prior_year_fica_cents": D(150_000)},
        [],
    ),
    (
        "Roth catch-up: pre-tax catch-up above 150,000",
        JUNE_2026,
        AGE_55,
        {},
        {"catchup_pretax_cents": D(100), "prior_year_fica_cents": D(150_000.01)},
        ["IRS_ROTH_CATCHUP_REQUIRED"],
    ),
    (
        "Roth catch-up: made as Roth",
        JUNE_2026,
        AGE_55,
        {},
        {"catchup_roth_cents": D(100), "prior_year_fica_cents": D(210_000)},
        [],
    ),
    (
        "Roth catch-up: 2025 transition",
        JUNE_2025,
        AGE_55,
        {},
        {"catchup_pretax_cents": D(100), "prior_year_fica_cents": D(210_000)},
        [],
    ),
    (
        "Roth catch-up: wages unknown",
        JUNE_2026,
        AGE_55,
        {},
        {"catchup_pretax_cents": D(100), "prior_year_fica_cents": None},
        ["ROTH_CATCHUP_WAGES_UNKNOWN"],
    ),
    # 401(a)(17): a warning, the row is accepted
    (
        "401(a)(17) compensation over the limit",
        JUNE_2026,
        AGE_40,
        {"ytd_plan_comp": D(358_000)},
        {"plan_compensation_cents": D(5_000), "pretax_cents": D(100)},
        ["IRS_401A17_COMP_LIMIT"],
    ),
]


@pytest.mark.parametrize(("name", "pay_date", "birth", "ytd", "amounts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_irs_case(name, pay_date, birth, ytd, amounts, expected):
    assert run(pay_date, birth, ytd, **amounts) == expected


def test_plan_without_roth_refuses_a_high_earners_catch_up_and_any_roth():
    assert run(
        JUNE_2026, AGE_55, {}, has_roth=False, catchup_pretax_cents=D(100), prior_year_fica_cents=D(200_000)
    ) == ["IRS_CATCHUP_ROTH_UNAVAILABLE"]
    assert run(JUNE_2026, AGE_40, {}, has_roth=False, roth_cents=D(100)) == ["ROTH_NOT_IN_PLAN"]


def test_unknown_plan_year_is_flagged_and_uses_the_nearest_limits():
    assert run(dt.date(2027, 1, 8), AGE_40, {"ytd_elective": D(24_000)}, pretax_cents=D(600)) == [
        "IRS_402G_EXCEEDED",
        "IRS_LIMITS_UNKNOWN",
    ]


def test_messages_name_field_and_rule_but_no_value():
    frame = pl.DataFrame([row(JUNE_2026, AGE_40, pretax_cents=D(30_000))], schema=PLAN).with_columns(
        pl.lit("f1").alias(FILE), pl.lit(0).alias(FILE_SEQ), pl.lit(b"bi").alias(SSN_INDEX)
    )
    ctx = ValidationContext(
        JUNE_2026, {"401K": PlanFacts(True)}, pl.DataFrame(schema=YTD_SCHEMA), {"pretax_cents": "401K"}
    )
    [error] = validate(frame, ctx, SCHEMA).errors.rows(named=True)
    assert error["message"] == "401K would take the year's pre-tax plus Roth deferrals over the 402(g) limit"
    assert "701010001" not in str(error) and "Lee" not in str(error) and "30000" not in str(error)
