"""The canonical model's contribution sources, and its long form for the warehouse."""

from __future__ import annotations

import polars as pl

from synclinqs_pipelines.mapping.engine import ROW

SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "PRETAX": ("pretax_cents",),
    "ROTH": ("roth_cents",),
    "CATCHUP_PRETAX": ("catchup_pretax_cents",),
    "CATCHUP_ROTH": ("catchup_roth_cents",),
    "AFTER_TAX": ("after_tax_cents",),
    "MATCH": ("match_cents",),
    "SAFE_HARBOR_MATCH": ("safe_harbor_match_cents",),
    "SAFE_HARBOR_NEC": ("safe_harbor_nec_cents",),
    "PROFIT_SHARING": ("profit_sharing_cents",),
    "QNEC": ("qnec_cents",),
    "QMAC": ("qmac_cents",),
    "LOAN": ("loan_1_cents", "loan_2_cents"),
}
SOURCE_CODES = tuple(SOURCE_COLUMNS)
MONEY_COLUMNS = tuple(c for cols in SOURCE_COLUMNS.values() for c in cols)
ELECTIVE = ("PRETAX", "ROTH")
CATCH_UP = ("CATCHUP_PRETAX", "CATCHUP_ROTH")
EMPLOYER = ("MATCH", "SAFE_HARBOR_MATCH", "SAFE_HARBOR_NEC", "PROFIT_SHARING", "QNEC", "QMAC")
# 415(c) annual additions: deferrals, after-tax and employer money; not catch-up, not loan repayments.
ANNUAL_ADDITIONS = tuple(c for c in SOURCE_CODES if c not in (*CATCH_UP, "LOAN"))
# The three amounts the IRS limits count, by the source codes that make them up.
LIMIT_SOURCES = {"elective": ELECTIVE, "catch_up": CATCH_UP, "additions": ANNUAL_ADDITIONS}


def to_long(canonical: pl.DataFrame, keep: tuple[str, ...] = (ROW, "ssn", "pay_date", "plan_code")) -> pl.DataFrame:
    """One row per employee row x source code (x loan) with a non-zero amount.

    Columns: the `keep` columns, source_code, amount_cents, loan_number. A loan without a number from
    the payroll file is numbered by its slot ("1", "2").
    """
    parts = []
    for code, columns in SOURCE_COLUMNS.items():
        for column in columns:
            if code == "LOAN":
                slot = column.split("_")[1]
                loan = pl.coalesce(pl.col(f"loan_{slot}_number"), pl.lit(slot))
            else:
                loan = pl.lit(None, dtype=pl.String)
            parts.append(
                canonical.lazy()
                .filter(pl.col(column).fill_null(0) != 0)
                .select(
                    *keep,
                    pl.lit(code).alias("source_code"),
                    pl.col(column).alias("amount_cents"),
                    loan.alias("loan_number"),
                )
            )
    return pl.concat(parts).collect()


def totals_by_source(canonical: pl.DataFrame) -> dict[str, int]:
    sums = canonical.select(
        [
            pl.sum_horizontal([pl.col(c).fill_null(0) for c in cols]).sum().alias(code)
            for code, cols in SOURCE_COLUMNS.items()
        ]
    ).row(0, named=True)
    return {code: int(v or 0) for code, v in sums.items()}
