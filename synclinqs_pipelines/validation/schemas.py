"""pandera schemas generated from the canonical field catalog.

The schema checks what the catalog says of each field (type, required, allowed codes) plus value ranges
by kind of field. pandera's failure report carries the failing values; only the column, the check and
the row index are read from it, so no value reaches an error message.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from synclinqs_pipelines.mapping.canonical import MONEY_COLUMNS
from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.plan import DTYPES
from synclinqs_pipelines.mapping.spec import SystemSpec

COMPENSATION = ("gross_pay_cents", "plan_compensation_cents", "prior_year_fica_cents")


@dataclass(frozen=True)
class CanonicalSchema:
    schema: pa.DataFrameSchema
    codes: dict[tuple[str, int], str]  # (column, check number) -> rule code


def build_schema(canonical: SystemSpec) -> CanonicalSchema:
    columns: dict[str, pa.Column] = {}
    codes: dict[tuple[str, int], str] = {}
    for f in canonical.fields:
        checks: list[tuple[pa.Check, str]] = []
        if f.name in MONEY_COLUMNS:
            checks.append((pa.Check.ge(0), "NEGATIVE_AMOUNT"))
        elif f.name in COMPENSATION:
            checks.append((pa.Check.ge(0), "NEGATIVE_COMPENSATION"))
        elif f.type == "percent":
            checks.append((pa.Check.in_range(0, 1), "PERCENT_OUT_OF_RANGE"))
        elif f.name == "hours":
            checks.append((pa.Check.in_range(0, 744), "HOURS_OUT_OF_RANGE"))
        elif f.type == "ssn":
            checks.append((pa.Check.str_matches(r"^[0-9]{9}$"), "INVALID_SSN"))
        if f.allowed:
            checks.append((pa.Check.isin(f.allowed), "INVALID_CODE"))
        for number, (_, code) in enumerate(checks):
            codes[(f.name, number)] = code
        columns[f.name] = pa.Column(DTYPES[f.type], checks=[c for c, _ in checks], nullable=not f.required)
    return CanonicalSchema(pa.DataFrameSchema(columns, strict=False, coerce=False), codes)


def schema_failures(frame: pl.DataFrame, schema: CanonicalSchema) -> pl.DataFrame:
    """(position, field, code) for every failing value; position is the row's index in `frame`."""
    try:
        schema.schema.validate(frame.drop(ROW, strict=False), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.select("column", "check", "check_number", "index")
    else:
        return pl.DataFrame(schema={"position": pl.Int64, "field": pl.String, "code": pl.String})
    if cases["index"].null_count():
        wrong = sorted(set(cases.filter(pl.col("index").is_null())["column"].to_list()))
        # A whole-column failure (wrong type) is a defect of the mapping, not of the data.
        raise TypeError(f"canonical columns with the wrong type: {', '.join(str(w) for w in wrong)}")
    rows = []
    for column, check, number, index in cases.iter_rows():
        code = "REQUIRED_FIELD_MISSING" if check == "not_nullable" else schema.codes.get((column, number), "SCHEMA")
        rows.append((int(index), column, code))
    return pl.DataFrame(rows, schema={"position": pl.Int64, "field": pl.String, "code": pl.String}, orient="row")
