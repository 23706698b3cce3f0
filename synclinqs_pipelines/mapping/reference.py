"""A straightforward row-at-a-time interpreter of mapping plans.

It is the oracle the vectorized engine is tested against, and the baseline of the mapping benchmark:
plain Python over dictionaries, no polars expressions. It must never be used on a production path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from synclinqs_pipelines.mapping import expressions as ex
from synclinqs_pipelines.mapping import transforms as tf
from synclinqs_pipelines.mapping.engine import ERROR_SCHEMA, ROW, MappingResult, conform, empty_errors
from synclinqs_pipelines.mapping.errors import MESSAGES
from synclinqs_pipelines.mapping.plan import (
    CalculatedPlan,
    ConditionalPlan,
    FieldPlan,
    LookupPlan,
    MappingPlan,
    MultiFieldPlan,
    StepSpec,
    StepsPlan,
)


def _detect(rows: list[dict[str, Any]], source: str) -> tuple[str | None, bool]:
    values = [r[source] for r in rows]
    present = sum(1 for v in values if tf._blank_scalar(v) is not None)
    counts = {fmt: sum(1 for v in values if tf.parse_date_scalar(v, fmt) is not None) for fmt in tf.DATE_FORMATS}
    return tf.choose_date_format(counts, present)


def _coerce(value: Any, dtype: pl.DataType) -> Any:
    """The reference counterpart of `cast(dtype, strict=False)` for the values plans produce."""
    if value is None:
        return None
    if dtype == pl.Int64:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value == value and abs(value) < 2**63 else None
        return None
    if dtype == pl.Float64:
        return float(value) if isinstance(value, (int, float)) else None
    if dtype == pl.String:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return value


def run(plan: MappingPlan, frame: pl.DataFrame) -> MappingResult:
    rows = frame.to_dicts()
    column_errors: list[tuple[str, str]] = []
    date_formats: dict[str, tuple[str | None, bool]] = {}
    ambiguous_reported: set[str] = set()

    def resolve(source: str, steps: list[StepSpec], label: str) -> list[StepSpec] | None:
        out: list[StepSpec] = []
        for name, params in steps:
            if name == "parse_date" and params["format"] == "auto":
                if source not in date_formats:
                    date_formats[source] = _detect(rows, source)
                fmt, ambiguous = date_formats[source]
                if ambiguous:
                    if label not in ambiguous_reported:
                        ambiguous_reported.add(label)
                        column_errors.append((label, "AMBIGUOUS_DATE_FORMAT"))
                    return None
                params = {**params, "format": fmt or "%m/%d/%Y"}
            out.append((name, params))
        return out

    resolved_typed = {
        name: resolve(name, steps, plan.source.field(name).header) for name, steps in plan.typed_inputs.items()
    }
    resolved_fields: dict[str, list[StepSpec] | None] = {}
    for fp in plan.fields:
        if isinstance(fp.plan, StepsPlan):
            resolved_fields[fp.target] = resolve(fp.plan.source, fp.plan.steps, fp.label)

    out_rows: list[dict[str, Any]] = []
    error_rows: list[dict[str, Any]] = []
    for row in rows:
        typed: dict[str, Any] = {}
        for name, steps in resolved_typed.items():
            typed[name] = _run_steps(row[name], steps or [], row)[0]
        mapped: dict[str, Any] = {ROW: row[ROW]}
        row_errors: list[tuple[str, str]] = []
        for fp in plan.fields:
            value, code = _field(fp, row, typed, resolved_fields.get(fp.target))
            value = _coerce(value, fp.dtype)
            if code is None and fp.allowed is not None and value is not None and value not in fp.allowed:
                code = "INVALID_CODE"
            if code is None and fp.required and value is None:
                code = "REQUIRED_FIELD_MISSING"
            if code is not None:
                row_errors.append((fp.label, code))
                value = None
            mapped[fp.target] = value
        seen: set[tuple[str, str]] = set()
        for label, code in row_errors:
            if (label, code) in seen:
                continue
            seen.add((label, code))
            error_rows.append({"row": row[ROW], "field": label, "code": code, "message": f"{label} {MESSAGES[code]}"})
        if not row_errors:
            out_rows.append(mapped)

    schema = {ROW: frame.schema[ROW], **{fp.target: fp.dtype for fp in plan.fields}}
    errors = [
        {"row": None, "field": label, "code": code, "message": f"{label} {MESSAGES[code]}"}
        for label, code in column_errors
    ] + error_rows
    mapped_frame = pl.DataFrame(out_rows, schema=schema, orient="row") if out_rows else pl.DataFrame(schema=schema)
    return MappingResult(
        frame=conform(mapped_frame, plan),
        errors=pl.DataFrame(errors, schema=ERROR_SCHEMA) if errors else empty_errors(),
        rows_in=len(rows),
    )


def _run_steps(value: Any, steps: list[StepSpec], row: Mapping[str, Any]) -> tuple[Any, str | None]:
    for name, params in steps:
        value, code = tf.REGISTRY[name].scalar(value, params, row)
        if code is not None:
            return None, code
    return value, None


def _field(
    fp: FieldPlan, row: Mapping[str, Any], typed: Mapping[str, Any], steps: list[StepSpec] | None
) -> tuple[Any, str | None]:
    p = fp.plan
    if isinstance(p, StepsPlan):
        if steps is None:
            return None, None
        return _run_steps(row[p.source], steps, row)
    if isinstance(p, LookupPlan):
        key = tf._blank_scalar(row[p.source])
        if key is None:
            return None, None
        if key in p.table:
            return p.table[key], None
        if p.on_missing == "error":
            return None, "LOOKUP_MISSING"
        return (key if p.on_missing == "source" else p.default), None
    if isinstance(p, MultiFieldPlan):
        parts = [tf._blank_scalar(row[s]) for s in p.sources]
        return (p.separator.join(x for x in parts if x is not None) or None), None
    if isinstance(p, CalculatedPlan):
        return ex.round_scalar(ex.evaluate(p.formula, typed), p.rounding), None
    if isinstance(p, ConditionalPlan):
        for cond, value, formula in p.cases:
            if ex.evaluate(cond, typed) is True:
                return (ex.evaluate(formula, typed) if formula else value), None
        return (ex.evaluate(p.default_formula, typed) if p.default_formula else p.default), None
    raise TypeError(type(p))  # pragma: no cover
