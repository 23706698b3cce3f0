"""Business rules over a partition's canonical rows: vectorized, each with a code, a severity and a message.

An `error` rejects the row (it goes to the error queue with its row number); a `warning` accepts it and
flags it. IRS limits are checked on year-to-date totals: what the warehouse holds for the plan year
from other pay dates, plus this batch's earlier rows for the same employee, plus the row itself.
Messages name the field and the rule, never a value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from synclinqs_pipelines.mapping.canonical import EMPLOYER, LIMIT_SOURCES, SOURCE_COLUMNS
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.errors import MESSAGES as MAPPING_MESSAGES
from synclinqs_pipelines.validation.limits import limits_for
from synclinqs_pipelines.validation.schemas import CanonicalSchema, schema_failures

FILE = "__file"
FILE_SEQ = "__file_seq"
SSN_INDEX = "__ssn_bi"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    field: str
    message: str


RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        Rule(
            "PAY_DATE_MISMATCH",
            "error",
            "pay_date",
            "differs from the pay date of the batch; send each pay date in its own file",
        ),
        Rule("UNKNOWN_PLAN", "error", "plan_code", "is not one of the tenant's plans"),
        Rule(
            "BIRTH_DATE_IMPLAUSIBLE",
            "error",
            "birth_date",
            "makes the employee younger than 14 or older than 100 on the pay date",
        ),
        Rule(
            "DUPLICATE_EMPLOYEE_IN_FILE",
            "error",
            "ssn",
            "appears more than once in this file; the first occurrence was kept",
        ),
        Rule(
            "DUPLICATE_CONTRIBUTION",
            "error",
            "ssn",
            "has the same contributions for this pay date in another file already accepted",
        ),
        Rule(
            "CONTRIBUTION_AFTER_TERMINATION",
            "error",
            "termination_date",
            "is before the pay period, yet employee deferrals were withheld",
        ),
        Rule("ROTH_NOT_IN_PLAN", "error", "roth_cents", "holds Roth money but the plan has no Roth option"),
        Rule(
            "IRS_402G_EXCEEDED",
            "error",
            "pretax_cents",
            "would take the year's pre-tax plus Roth deferrals over the 402(g) limit",
        ),
        Rule(
            "IRS_CATCHUP_NOT_ELIGIBLE",
            "error",
            "catchup_pretax_cents",
            "is catch-up money for an employee under 50 at the end of the year",
        ),
        Rule(
            "IRS_CATCHUP_LIMIT_EXCEEDED",
            "error",
            "catchup_pretax_cents",
            "would take the year's catch-up over the limit for the employee's age (50+, or 60-63)",
        ),
        Rule(
            "IRS_ROTH_CATCHUP_REQUIRED",
            "error",
            "catchup_pretax_cents",
            "is pre-tax catch-up, but prior-year FICA wages are above the threshold: catch-up must be Roth "
            "(SECURE 2.0 section 603)",
        ),
        Rule(
            "IRS_CATCHUP_ROTH_UNAVAILABLE",
            "error",
            "catchup_pretax_cents",
            "is catch-up money, but prior-year FICA wages are above the threshold and the plan has no Roth "
            "option, so no catch-up is allowed",
        ),
        Rule(
            "IRS_415C_EXCEEDED",
            "error",
            "match_cents",
            "would take the year's annual additions (deferrals, after-tax and employer money) over the 415(c) limit",
        ),
        Rule(
            "IRS_401A17_COMP_LIMIT",
            "warning",
            "plan_compensation_cents",
            "takes the year's plan compensation over the 401(a)(17) limit; employer money on the excess is not allowed",
        ),
        Rule(
            "ROTH_CATCHUP_WAGES_UNKNOWN",
            "warning",
            "prior_year_fica_cents",
            "is empty for an employee making catch-up contributions; the Roth catch-up rule could not be checked",
        ),
        Rule(
            "IRS_LIMITS_UNKNOWN",
            "warning",
            "pay_date",
            "is in a plan year without IRS limits in SyncLinqs; the nearest known year's limits were used",
        ),
    ]
}
SCHEMA_SEVERITY = "error"
ERROR_SCHEMA = {
    "file": pl.String,
    "row": pl.Int64,
    "field": pl.String,
    "code": pl.String,
    "severity": pl.String,
    "message": pl.String,
}


@dataclass(frozen=True)
class PlanFacts:
    has_roth: bool


@dataclass(frozen=True)
class ValidationContext:
    pay_date: dt.date
    plans: dict[str, PlanFacts]
    # One row per employee (SSN_INDEX) with ytd_elective, ytd_catch_up, ytd_additions, ytd_plan_comp:
    # the plan year's totals from the warehouse, this pay date excluded.
    ytd: pl.DataFrame
    labels: dict[str, str] = field(default_factory=dict)  # canonical field -> the source file's header


@dataclass
class ValidationResult:
    accepted: pl.DataFrame
    errors: pl.DataFrame  # file, row, field, code, severity, message (warnings included)

    @property
    def rejected_rows(self) -> int:
        bad = self.errors.filter(pl.col("severity") == "error")
        return bad.select("file", "row").unique().height if bad.height else 0

    def counts_by_code(self) -> dict[str, int]:
        if self.errors.is_empty():
            return {}
        c = self.errors.group_by("code").len().sort("code")
        return dict(zip(c["code"].to_list(), c["len"].to_list(), strict=True))


YTD_SCHEMA = {
    SSN_INDEX: pl.Binary,
    "ytd_elective": pl.Int64,
    "ytd_catch_up": pl.Int64,
    "ytd_additions": pl.Int64,
    "ytd_plan_comp": pl.Int64,
}


def _z(column: str) -> pl.Expr:
    return pl.col(column).fill_null(0)


def period_amounts() -> dict[str, pl.Expr]:
    """A row's money as the limits count it: elective deferrals (402(g)), catch-up, and annual additions
    (415(c)). The load keeps these on each pay record, so year-to-date totals read one row per employee
    and pay date."""
    return {
        name: pl.sum_horizontal(_z(c) for code in codes for c in SOURCE_COLUMNS[code])
        for name, codes in LIMIT_SOURCES.items()
    }


def validate(frame: pl.DataFrame, ctx: ValidationContext, schema: CanonicalSchema) -> ValidationResult:
    """Apply the schema and every rule; rows with an error leave `accepted`, warnings stay with a flag."""
    year = ctx.pay_date.year
    limits, known = limits_for(year)
    df = frame.with_row_index("__pos").with_columns(
        *(expr.alias(f"__{name}") for name, expr in period_amounts().items()),
        (pl.lit(year) - pl.col("birth_date").dt.year()).alias("__age"),
    )
    ytd = ctx.ytd if ctx.ytd.height else pl.DataFrame(schema=YTD_SCHEMA)
    df = (
        df.join(ytd, on=SSN_INDEX, how="left")
        .with_columns([_z(c) for c in ("ytd_elective", "ytd_catch_up", "ytd_additions", "ytd_plan_comp")])
        .sort(FILE_SEQ, ROW)
    )
    # Year to date including this batch's earlier rows for the same employee (an off-cycle file).
    running = {
        name: pl.col(name).cum_sum().over(SSN_INDEX) + pl.col(f"ytd_{key}")
        for name, key in (("__elective", "elective"), ("__catch_up", "catch_up"), ("__additions", "additions"))
    }
    df = df.with_columns(
        running["__elective"].alias("__ytd_elective"),
        running["__catch_up"].alias("__ytd_catch_up"),
        running["__additions"].alias("__ytd_additions"),
        (_z("plan_compensation_cents").cum_sum().over(SSN_INDEX) + pl.col("ytd_plan_comp")).alias("__ytd_comp"),
    )
    catch_up_allowed = (
        pl.when(pl.col("__age") < 50)
        .then(0)
        .when(pl.col("__age").is_between(60, 63) & (limits.catch_up_60_63 is not None))
        .then(limits.catch_up_60_63 or limits.catch_up_50)
        .otherwise(limits.catch_up_50)
    )
    plan_codes = list(ctx.plans)
    roth_plans = [code for code, facts in ctx.plans.items() if facts.has_roth]
    high_earner = (
        pl.lit(False)
        if limits.roth_catch_up_wage_threshold is None
        else pl.col("prior_year_fica_cents") > limits.roth_catch_up_wage_threshold
    )
    period_start = pl.coalesce(pl.col("period_start_date"), pl.col("pay_date"))
    deferring = (pl.col("__elective") + pl.col("__catch_up") + _z("after_tax_cents")) > 0
    first_in_file = pl.col(ROW).rank("ordinal").over(FILE, SSN_INDEX) == 1
    same_amounts = [
        SSN_INDEX,
        "pretax_cents",
        "roth_cents",
        "catchup_pretax_cents",
        "catchup_roth_cents",
        "after_tax_cents",
        *[f"{s.lower()}_cents" for s in EMPLOYER],
        "loan_1_cents",
        "loan_2_cents",
    ]
    masks: dict[str, pl.Expr] = {
        "PAY_DATE_MISMATCH": pl.col("pay_date") != pl.lit(ctx.pay_date),
        "UNKNOWN_PLAN": ~pl.col("plan_code").is_in(plan_codes),
        "BIRTH_DATE_IMPLAUSIBLE": ~pl.col("__age").is_between(14, 100),
        "DUPLICATE_EMPLOYEE_IN_FILE": ~first_in_file,
        "DUPLICATE_CONTRIBUTION": (pl.col(FILE_SEQ) > pl.col(FILE_SEQ).min().over(same_amounts)),
        "CONTRIBUTION_AFTER_TERMINATION": (pl.col("termination_date") < period_start) & deferring,
        "ROTH_NOT_IN_PLAN": ((_z("roth_cents") + _z("catchup_roth_cents")) > 0)
        & ~pl.col("plan_code").is_in(roth_plans),
        "IRS_402G_EXCEEDED": pl.col("__ytd_elective") > limits.elective_402g,
        "IRS_CATCHUP_NOT_ELIGIBLE": (pl.col("__catch_up") > 0) & (pl.col("__age") < 50),
        "IRS_CATCHUP_LIMIT_EXCEEDED": (pl.col("__catch_up") > 0)
        & (pl.col("__age") >= 50)
        & (pl.col("__ytd_catch_up") > catch_up_allowed),
        "IRS_ROTH_CATCHUP_REQUIRED": high_earner
        & (_z("catchup_pretax_cents") > 0)
        & pl.col("plan_code").is_in(roth_plans),
        "IRS_CATCHUP_ROTH_UNAVAILABLE": high_earner
        & (pl.col("__catch_up") > 0)
        & ~pl.col("plan_code").is_in(roth_plans),
        "IRS_415C_EXCEEDED": pl.col("__ytd_additions") > limits.annual_additions_415c,
        "IRS_401A17_COMP_LIMIT": pl.col("__ytd_comp") > limits.compensation_401a17,
        "ROTH_CATCHUP_WAGES_UNKNOWN": (pl.col("__catch_up") > 0)
        & pl.col("prior_year_fica_cents").is_null()
        & pl.lit(limits.roth_catch_up_wage_threshold is not None),
        "IRS_LIMITS_UNKNOWN": pl.lit(not known),
    }
    flagged = df.select(FILE, ROW, "__pos", *[mask.fill_null(False).alias(code) for code, mask in masks.items()])
    parts = []
    for code in masks:
        rule = RULES[code]
        label = ctx.labels.get(rule.field, rule.field)
        hits = flagged.filter(pl.col(code))
        if hits.height:
            parts.append(
                hits.select(
                    FILE,
                    pl.col(ROW).cast(pl.Int64),
                    pl.lit(label).alias("field"),
                    pl.lit(code).alias("code"),
                    pl.lit(rule.severity).alias("severity"),
                    pl.lit(f"{label} {rule.message}").alias("message"),
                )
            )
    failures = schema_failures(frame, schema)
    if failures.height:
        positions = frame.with_row_index("position").select(pl.col("position").cast(pl.Int64), FILE, ROW)
        failures = failures.join(positions, on="position")
        parts.append(
            failures.select(
                FILE,
                pl.col(ROW).cast(pl.Int64),
                pl.col("field").replace_strict(ctx.labels, default=pl.col("field")).alias("field"),
                "code",
                pl.lit(SCHEMA_SEVERITY).alias("severity"),
                (
                    pl.col("field").replace_strict(ctx.labels, default=pl.col("field"))
                    + " "
                    + pl.col("code").replace_strict(MAPPING_MESSAGES, default=pl.lit("failed a schema check"))
                ).alias("message"),
            )
        )
    errors = (
        pl.concat(parts).rename({FILE: "file", ROW: "row"}).sort("file", "row", "code")
        if parts
        else pl.DataFrame(schema=ERROR_SCHEMA)
    )
    rejected = errors.filter(pl.col("severity") == "error").select(pl.col("file").alias(FILE), pl.col("row").alias(ROW))
    accepted = frame.join(rejected.unique(), on=[FILE, ROW], how="anti") if rejected.height else frame
    return ValidationResult(accepted=accepted, errors=errors.cast(ERROR_SCHEMA))  # type: ignore[arg-type]
