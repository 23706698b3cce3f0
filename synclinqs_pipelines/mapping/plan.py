"""From spec rules to plans: the one place that decides what a rule means.

A plan is a small intermediate form (which inputs, which transform steps with resolved parameters,
which expressions) built once per template. The vectorized engine (`engine.py`) and the row-at-a-time
reference interpreter (`reference.py`) both execute plans, so they cannot disagree on what a rule says,
only on how it is computed — which is what the property test checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from synclinqs_pipelines.mapping import expressions as ex
from synclinqs_pipelines.mapping import transforms as tf
from synclinqs_pipelines.mapping.spec import (
    CalculatedRule,
    ConditionalRule,
    DirectRule,
    FieldSpec,
    LookupRule,
    MultiFieldRule,
    Rule,
    SystemSpec,
    TransformationRule,
)

DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "ssn": pl.String(),
    "code": pl.String(),
    "email": pl.String(),
    "money": pl.Int64(),
    "integer": pl.Int64(),
    "date": pl.Date(),
    "percent": pl.Float64(),
    "decimal": pl.Float64(),
}

StepSpec = tuple[str, dict[str, Any]]


class PlanError(ValueError):
    """A rule that cannot be planned; `path` says where in the spec it sits."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def default_steps(source: FieldSpec, target: FieldSpec, source_is_text: bool) -> list[StepSpec]:
    """The conversion a `direct` rule applies, from the source field's type to the target's."""
    if not source_is_text:
        return []
    t = target.type
    if t == "money":
        return [("convert_to_cents", {"unit": source.format or "dollars"})]
    if t == "date":
        return [("parse_date", {"format": source.format or "auto"})]
    if t == "percent":
        return [("convert_to_decimal", {"divide_by": 1 if source.format == "fraction" else 100})]
    if t == "decimal":
        return [("convert_to_decimal", {"divide_by": 1})]
    if t == "integer":
        return [("to_integer", {})]
    if t == "ssn":
        return [("validate_ssn", {})]
    if t == "email":
        return [("validate_email", {})]
    if t == "code":
        return [("trim_whitespace", {}), ("uppercase", {})]
    return [("trim_whitespace", {})]


@dataclass(frozen=True)
class StepsPlan:
    """A source field through a chain of transforms (direct and transformation rules)."""

    source: str
    steps: list[StepSpec]


@dataclass(frozen=True)
class ConditionalPlan:
    cases: list[tuple[ex.Expression, Any, ex.Expression | None]]
    default: Any
    default_formula: ex.Expression | None


@dataclass(frozen=True)
class CalculatedPlan:
    formula: ex.Expression
    rounding: str


@dataclass(frozen=True)
class LookupPlan:
    source: str
    table: dict[str, Any]
    on_missing: str
    default: Any


@dataclass(frozen=True)
class MultiFieldPlan:
    sources: list[str]
    separator: str


Plan = StepsPlan | ConditionalPlan | CalculatedPlan | LookupPlan | MultiFieldPlan


@dataclass(frozen=True)
class FieldPlan:
    target: str
    label: str
    dtype: pl.DataType
    required: bool
    allowed: list[str] | None
    plan: Plan


@dataclass(frozen=True)
class MappingPlan:
    """Everything needed to map a frame of `source` fields to `destination` fields."""

    name: str
    source: SystemSpec
    destination: SystemSpec
    source_is_text: bool
    fields: list[FieldPlan]
    # Source fields that formulas and conditions read, parsed to their catalog type first.
    typed_inputs: dict[str, list[StepSpec]] = field(default_factory=dict)

    @property
    def output_schema(self) -> dict[str, pl.DataType]:
        """Every destination field, in catalog order: fields without a rule come out null."""
        return {f.name: DTYPES[f.type] for f in self.destination.fields if f.constant is None}

    @property
    def input_fields(self) -> set[str]:
        names: set[str] = set(self.typed_inputs)
        for fp in self.fields:
            p = fp.plan
            if isinstance(p, (StepsPlan, LookupPlan)):
                names.add(p.source)
                if isinstance(p, StepsPlan):
                    for step_name, params in p.steps:
                        names.update(tf.REGISTRY[step_name].input_fields(params))
            elif isinstance(p, MultiFieldPlan):
                names.update(p.sources)
        return names


def _typed_steps(source: FieldSpec, source_is_text: bool) -> list[StepSpec]:
    return default_steps(source, source, source_is_text)


def build_plan(
    name: str,
    rules: dict[str, Rule],
    source: SystemSpec,
    destination: SystemSpec,
    lookups: dict[str, dict[str, Any]] | None,
    *,
    rules_path: str = "rules",
) -> MappingPlan:
    """Check every rule against the two catalogs and turn it into a plan; errors name the rule path."""
    source_is_text = source.kind != "canonical"
    src_fields = {f.name: f for f in source.fields}
    known = set(src_fields)
    typed_inputs: dict[str, list[StepSpec]] = {}
    fields: list[FieldPlan] = []

    def need_source(path: str, fname: str) -> FieldSpec:
        if fname not in src_fields:
            raise PlanError(path, f"unknown source field '{fname}' of {source.system}")
        return src_fields[fname]

    def parse_expr(path: str, text: str) -> ex.Expression:
        try:
            expr = ex.parse(text, known)
        except ex.ExpressionError as exc:
            raise PlanError(path, str(exc)) from None
        for n in expr.names:
            typed_inputs[n] = _typed_steps(src_fields[n], source_is_text)
        return expr

    for target, rule in rules.items():
        path = f"{rules_path}.{target}"
        try:
            tfield = destination.field(target)
        except KeyError:
            raise PlanError(path, f"'{target}' is not a field of {destination.system}") from None
        label = tfield.header
        plan: Plan
        if isinstance(rule, DirectRule):
            sfield = need_source(f"{path}.source", rule.source)
            label = sfield.header
            plan = StepsPlan(rule.source, default_steps(sfield, tfield, source_is_text))
        elif isinstance(rule, TransformationRule):
            sfield = need_source(f"{path}.source", rule.source)
            label = sfield.header
            steps: list[StepSpec] = []
            for i, call in enumerate(rule.transforms):
                step_path = f"{path}.transforms[{i}]"
                tname, given = (call, {}) if isinstance(call, str) else next(iter(call.items()))
                if isinstance(call, dict) and len(call) != 1:
                    raise PlanError(step_path, "write one transform per list item: {name: {param: value}}")
                if tname not in tf.REGISTRY:
                    raise PlanError(step_path, f"unknown transform '{tname}'; known: {', '.join(sorted(tf.REGISTRY))}")
                try:
                    params = tf.resolve_params(tname, given)
                except ValueError as exc:
                    raise PlanError(step_path, str(exc)) from None
                if tname == "parse_date" and params["format"] not in (*tf.DATE_FORMATS, "auto"):
                    raise PlanError(
                        step_path, f"unknown date format {params['format']!r}; known: " + ", ".join(tf.DATE_FORMATS)
                    )
                for extra in tf.REGISTRY[tname].input_fields(params):
                    need_source(step_path, extra)
                steps.append((tname, params))
            plan = StepsPlan(rule.source, steps)
        elif isinstance(rule, ConditionalRule):
            cases = []
            for i, case in enumerate(rule.cases):
                cond = parse_expr(f"{path}.cases[{i}].when", case.when)
                formula = parse_expr(f"{path}.cases[{i}].formula", case.formula) if case.formula else None
                cases.append((cond, case.value, formula))
            default_formula = (
                parse_expr(f"{path}.default_formula", rule.default_formula) if rule.default_formula else None
            )
            plan = ConditionalPlan(cases, rule.default, default_formula)
        elif isinstance(rule, CalculatedRule):
            plan = CalculatedPlan(parse_expr(f"{path}.formula", rule.formula), rule.rounding)
        elif isinstance(rule, LookupRule):
            sfield = need_source(f"{path}.source", rule.source)
            label = sfield.header
            if rule.values is not None:
                table = rule.values
            elif lookups is not None and rule.table in lookups:
                table = lookups[rule.table]
            elif lookups is None:
                # No tenant given (a dry run): an empty table, so on_missing decides every row.
                table = {}
            else:
                raise PlanError(f"{path}.table", f"the tenant file has no lookup table '{rule.table}'")
            plan = LookupPlan(rule.source, {str(k): v for k, v in table.items()}, rule.on_missing, rule.default)
        elif isinstance(rule, MultiFieldRule):
            for i, s in enumerate(rule.sources):
                need_source(f"{path}.sources[{i}]", s)
            plan = MultiFieldPlan(list(rule.sources), rule.separator)
        else:  # pragma: no cover - the discriminated union admits nothing else
            raise PlanError(path, f"unknown rule type {type(rule).__name__}")
        fields.append(FieldPlan(target, label, DTYPES[tfield.type], tfield.required, tfield.allowed, plan))
    return MappingPlan(name, source, destination, source_is_text, fields, typed_inputs)


def typed_column(name: str) -> str:
    return f"__typed__{name}"
