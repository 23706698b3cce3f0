"""Large synthetic payroll files for benchmarks, generated with polars (seconds for a million rows)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

DATA_DIR = Path(__file__).resolve().parent / ".data"


def _money(cents: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def adp_frame(rows: int, pay_date: str = "01/09/2026", seed: int = 7) -> pl.DataFrame:
    """An ADP Workforce Now export of `rows` employees, valid throughout (bad rows are not the point)."""
    i = pl.int_range(0, rows, dtype=pl.Int64)
    h = (i * 2654435761 + seed) % 1_000_003
    gross = 150_000 + h % 450_000
    pretax = gross * (3 + h % 7) // 100
    roth = pl.when(h % 3 == 0).then(gross * 2 // 100).otherwise(0)
    loan = pl.when(h % 9 == 0).then(5_000 + h % 20_000).otherwise(0)
    frame = pl.select(
        pl.lit("ACM").alias("Company Code"),
        pl.format("E{}", i).alias("File Number"),
        pl.format(
            "7{}-{}-{}",
            (i // 1_000_000 % 100).cast(pl.String).str.zfill(2),
            (i // 10_000 % 100 + 1).cast(pl.String).str.zfill(2),
            (i % 10_000 + 1).cast(pl.String).str.zfill(4),
        ).alias("Tax ID"),
        pl.format("Last{}", h % 5000).alias("Last Name"),
        pl.format("First{}", h % 3000).alias("First Name"),
        pl.lit("").alias("Middle Name"),
        pl.format(
            "{}/{}/{}",
            (h % 12 + 1).cast(pl.String).str.zfill(2),
            (h % 28 + 1).cast(pl.String).str.zfill(2),
            1950 + h % 50,
        ).alias("Birth Date"),
        pl.lit("03/01/2015").alias("Hire Date"),
        pl.lit("").alias("Rehire Date"),
        pl.lit("").alias("Termination Date"),
        pl.lit("A").alias("Position Status"),
        pl.lit(pay_date).alias("Pay Date"),
        pl.lit("12/27/2025").alias("Period Start Date"),
        pl.lit(pay_date).alias("Period End Date"),
        pl.lit("B").alias("Pay Frequency"),
        _money(gross).alias("Gross Pay"),
        _money(gross).alias("401K Eligible Wages"),
        pl.lit("80.00").alias("Hours Worked"),
        _money(pretax).alias("401K"),
        _money(roth).alias("Roth 401K"),
        _money(pl.when(h % 4 == 0).then(20_000).otherwise(0)).alias("401K Catch Up"),
        pl.lit("0.00").alias("Roth Catch Up"),
        _money(loan).alias("401K Loan 1"),
        pl.lit("0.00").alias("401K Loan 2"),
        _money(pretax // 2).alias("Employer Match"),
        _money(gross * 3 // 100).alias("Safe Harbor Match"),
        (3 + h % 7).cast(pl.String).alias("401K Deferral %"),
        pl.when(h % 3 == 0).then(pl.lit("2")).otherwise(pl.lit("0")).alias("Roth Deferral %"),
        _money(gross * 26).alias("Prior Year FICA Wages"),
        pl.lit("401K").alias("Plan Code"),
    )
    return frame


def adp_file(rows: int) -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"adp_{rows}.csv"
    if not path.exists():
        adp_frame(rows).write_csv(path)
    return path
