"""The IRS limits live in Python (validation) and in a dbt seed (marts); they must say the same."""

from __future__ import annotations

import csv
from pathlib import Path

from synclinqs_pipelines.validation.limits import LIMITS, catch_up_limit

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "irs_limits.csv"


def test_dbt_seed_matches_the_validation_limits():
    with SEED.open() as fh:
        seed = {int(r["plan_year"]): r for r in csv.DictReader(fh)}
    assert sorted(seed) == sorted(LIMITS)
    for year, limits in LIMITS.items():
        row = seed[year]
        assert int(row["elective_402g_cents"]) == limits.elective_402g
        assert int(row["catch_up_50_cents"]) == limits.catch_up_50
        assert (int(row["catch_up_60_63_cents"]) if row["catch_up_60_63_cents"] else None) == limits.catch_up_60_63
        assert int(row["annual_additions_415c_cents"]) == limits.annual_additions_415c
        assert int(row["compensation_401a17_cents"]) == limits.compensation_401a17


def test_reference_figures_for_2026():
    l26 = LIMITS[2026]
    assert (
        l26.elective_402g,
        l26.catch_up_50,
        l26.catch_up_60_63,
        l26.annual_additions_415c,
        l26.compensation_401a17,
        l26.roth_catch_up_wage_threshold,
    ) == (2_450_000, 800_000, 1_125_000, 7_200_000, 36_000_000, 15_000_000)
    assert [catch_up_limit(l26, age) for age in (49, 50, 59, 60, 63, 64)] == [
        0,
        800_000,
        800_000,
        1_125_000,
        1_125_000,
        800_000,
    ]
