"""The vectorized mapping engine: a plan compiled to polars expressions and run over the whole batch.

Every field becomes one value expression and one error-code expression, selected together in one lazy
query, so polars evaluates the fields in parallel and shares common subexpressions. Rows with an error
leave the output and appear in the error frame as (row, field, code, message); nothing stops the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from synclinqs_pipelines.mapping import expressions as ex
from synclinqs_pipelines.mapping import transforms as tf
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
    typed_column,
)

ROW = "__row"
ERROR_SCHEMA = {"row": pl.Int64, "field": pl.String, "code": pl.String, "message": pl.String}


@dataclass
class MappingResult:
    frame: pl.DataFrame  # mapped rows without errors, with ROW
    errors: pl.DataFrame  # row, field, code, message
    rows_in: int

    @property
    def rows_out(self) -> int:
        return self.frame.height

    @property
    def rows_rejected(self) -> int:
        if self.errors.is_empty():
            return 0
        return int(self.errors.filter(pl.col("row").is_not_null())["row"].n_unique())

    def errors_by_code(self) -> dict[str, int]:
        if self.errors.is_empty():
            return {}
        counts = self.errors.group_by("code").len().sort("code")
        return dict(zip(counts["code"].to_list(), counts["len"].to_list(), strict=True))


def empty_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


def error_message_expr(code: pl.Expr, label: str) -> pl.Expr:
    return pl.lit(label + " ") + code.replace_strict(MESSAGES, default=pl.lit("failed rule ") + code)


def _detect_date_format(frame: pl.DataFrame, source: pl.Expr) -> tuple[str | None, bool]:
    present = frame.select(tf._blank_to_null(source).is_not_null().sum()).item()
    counts = frame.select(
        **{f"f{i}": tf.parse_date_expr(source, fmt).is_not_null().sum() for i, fmt in enumerate(tf.DATE_FORMATS)}
    ).row(0)
    return tf.choose_date_format(dict(zip(tf.DATE_FORMATS, counts, strict=True)), present)


class _Builder:
    def __init__(self, plan: MappingPlan, frame: pl.DataFrame, lookups_ok: bool = True) -> None:
        self.plan = plan
        self.frame = frame
        self.column_errors: list[tuple[str, str]] = []
        self._date_cache: dict[str, tuple[str | None, bool]] = {}

    def resolve_steps(self, source: str, steps: list[StepSpec], label: str) -> list[StepSpec] | None:
        """Replace parse_date 'auto' with the column's detected format; None when it is ambiguous."""
        out: list[StepSpec] = []
        for name, params in steps:
            if name == "parse_date" and params["format"] == "auto":
                if source not in self._date_cache:
                    self._date_cache[source] = _detect_date_format(self.frame, pl.col(source))
                fmt, ambiguous = self._date_cache[source]
                if ambiguous:
                    self.column_errors.append((label, "AMBIGUOUS_DATE_FORMAT"))
                    return None
                params = {**params, "format": fmt or "%m/%d/%Y"}
            out.append((name, params))
        return out

    def run_steps(self, start: pl.Expr, steps: list[StepSpec]) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
        value = start
        errors: list[tuple[pl.Expr, str]] = []
        for name, params in steps:
            step = tf.REGISTRY[name].vector(value, params, pl.col)
            errors.extend(step.errors)
            value = step.value
        return value, errors

    def field(self, fp: FieldPlan) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
        p = fp.plan
        if isinstance(p, StepsPlan):
            steps = self.resolve_steps(p.source, p.steps, fp.label)
            if steps is None:
                return pl.lit(None, dtype=fp.dtype), []
            return self.run_steps(pl.col(p.source), steps)
        if isinstance(p, LookupPlan):
            key = tf._blank_to_null(pl.col(p.source))
            keys = list(p.table)
            found = key.is_in(keys) if keys else pl.lit(False)
            mapped = key.replace_strict(keys, list(p.table.values()), default=None) if keys else pl.lit(None)
            if p.on_missing == "error":
                return mapped, [(key.is_not_null() & ~found, "LOOKUP_MISSING")]
            fallback = key if p.on_missing == "source" else pl.lit(p.default)
            return pl.when(found).then(mapped).otherwise(fallback), []
        if isinstance(p, MultiFieldPlan):
            joined = pl.concat_str([tf._blank_to_null(pl.col(s)) for s in p.sources], separator=p.separator,
                                   ignore_nulls=True)
            return pl.when(joined == "").then(None).otherwise(joined), []
        if isinstance(p, CalculatedPlan):
            return ex.round_polars(ex.to_polars(p.formula, self.typed), p.rounding), []
        if isinstance(p, ConditionalPlan):
            default = (
                ex.to_polars(p.default_formula, self.typed) if p.default_formula else pl.lit(p.default)
            )
            chain: Any = None
            for cond, value, formula in p.cases:
                result = ex.to_polars(formula, self.typed) if formula else pl.lit(value)
                test = ex.to_polars(cond, self.typed).fill_null(False)
                chain = pl.when(test).then(result) if chain is None else chain.when(test).then(result)
            return chain.otherwise(default), []
        raise TypeError(type(p))  # pragma: no cover

    @staticmethod
    def typed(name: str) -> pl.Expr:
        return pl.col(typed_column(name))


def _code_expr(errors: list[tuple[pl.Expr, str]]) -> pl.Expr | None:
    if not errors:
        return None
    chain: Any = None
    for mask, code in errors:
        m = mask.fill_null(False)
        chain = pl.when(m).then(pl.lit(code)) if chain is None else chain.when(m).then(pl.lit(code))
    return chain.otherwise(pl.lit(None, dtype=pl.String))


def conform(frame: pl.DataFrame, plan: MappingPlan) -> pl.DataFrame:
    """ROW plus every destination field in catalog order, typed; fields without a rule are null."""
    return frame.select(
        ROW,
        *[
            pl.col(name) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in plan.output_schema.items()
        ],
    )


def run(plan: MappingPlan, frame: pl.DataFrame) -> MappingResult:
    """Map `frame` (source fields plus ROW) with `plan`."""
    builder = _Builder(plan, frame)
    lf = frame.lazy()
    if plan.typed_inputs:
        typed = []
        for name, steps in plan.typed_inputs.items():
            resolved = builder.resolve_steps(name, steps, plan.source.field(name).header)
            value, _ = builder.run_steps(pl.col(name), resolved or [])
            typed.append(value.alias(typed_column(name)))
        lf = lf.with_columns(typed)

    selects: list[pl.Expr] = [pl.col(ROW)]
    error_cols: list[tuple[str, str]] = []
    for i, fp in enumerate(plan.fields):
        value, errors = builder.field(fp)
        value = value.cast(fp.dtype, strict=False)
        if fp.allowed is not None:
            errors = [*errors, (value.is_not_null() & ~value.is_in(fp.allowed), "INVALID_CODE")]
        if fp.required:
            errors = [*errors, (value.is_null(), "REQUIRED_FIELD_MISSING")]
        selects.append(value.alias(fp.target))
        code = _code_expr(errors)
        if code is not None:
            column = f"__err{i}"
            selects.append(code.alias(column))
            error_cols.append((column, fp.label))

    out = lf.select(selects).collect()
    return _split(out, plan, error_cols, builder.column_errors)


def _split(out: pl.DataFrame, plan: MappingPlan, error_cols: list[tuple[str, str]],
           column_errors: list[tuple[str, str]]) -> MappingResult:
    parts = [
        out.lazy()
        .filter(pl.col(column).is_not_null())
        .select(
            pl.col(ROW).cast(pl.Int64).alias("row"),
            pl.lit(label).alias("field"),
            pl.col(column).alias("code"),
            error_message_expr(pl.col(column), label).alias("message"),
        )
        for column, label in error_cols
    ]
    if column_errors:
        parts.append(
            pl.DataFrame(
                {
                    "row": [None] * len(column_errors),
                    "field": [label for label, _ in column_errors],
                    "code": [code for _, code in column_errors],
                    "message": [f"{label} {MESSAGES[code]}" for label, code in column_errors],
                },
                schema=ERROR_SCHEMA,
            ).lazy()
        )
    errors = (
        pl.concat(parts).collect().unique(keep="first", maintain_order=True).sort("row", nulls_last=False)
        if parts
        else empty_errors()
    )
    bad = [pl.col(c).is_not_null() for c, _ in error_cols]
    good = out.filter(~pl.any_horizontal(bad)) if bad else out
    return MappingResult(
        frame=conform(good, plan),
        errors=errors,
        rows_in=out.height,
    )
