"""Conditions and formulas in mapping specs: parsed once, then compiled to polars or evaluated per row.

The language is a small, Python-shaped subset: field names, string/number/boolean/None literals,
`+ - * /`, comparisons (`== != < <= > >=`, `in [...]`), `and or not`, `x if cond else y`, and the
functions `coalesce`, `upper`, `lower`, `abs`, `is_null`. Text is parsed with `ast.parse` into a tree that
is walked and translated: nothing is ever `eval`'d, and an unknown name or construct is a spec error when
the spec loads.

Null semantics are SQL's: arithmetic and comparison with null give null, `and`/`or` are three-valued,
division by zero gives null, and a null condition counts as false. `evaluate` (row at a time) and
`to_polars` (vectorized) implement the same semantics; a property test holds them together.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl


class ExpressionError(ValueError):
    """A formula or condition that cannot be used; the message says what to change."""


_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
FUNCTIONS = ("coalesce", "upper", "lower", "abs", "is_null")


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.expr
    names: frozenset[str]


def parse(text: str, known_fields: set[str] | None = None) -> Expression:
    """Parse and check an expression; unknown names are refused when `known_fields` is given."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse '{text}': {exc.msg} at column {exc.offset}") from None
    names: set[str] = set()
    _check(tree, names, text)
    if known_fields is not None:
        unknown = sorted(names - known_fields)
        if unknown:
            raise ExpressionError(
                f"'{text}' refers to unknown field(s) {', '.join(unknown)}; known fields: "
                + ", ".join(sorted(known_fields))
            )
    return Expression(text=text, tree=tree, names=frozenset(names))


def _check(node: ast.AST, names: set[str], text: str) -> None:
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None"):
            return
        names.add(node.id)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ExpressionError(f"'{text}': literal {node.value!r} is not allowed")
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINOPS):
            raise ExpressionError(f"'{text}': operator {type(node.op).__name__} is not allowed (use + - * /)")
        _check(node.left, names, text)
        _check(node.right, names, text)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            raise ExpressionError(f"'{text}': unary {type(node.op).__name__} is not allowed")
        _check(node.operand, names, text)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, names, text)
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or not isinstance(node.ops[0], _CMPOPS):
            raise ExpressionError(f"'{text}': use one comparison at a time (a < b and b < c)")
        _check(node.left, names, text)
        right = node.comparators[0]
        if isinstance(node.ops[0], (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple)) or not all(isinstance(e, ast.Constant) for e in right.elts):
                raise ExpressionError(f"'{text}': 'in' needs a list of literals, such as in ['A', 'L']")
        else:
            _check(right, names, text)
    elif isinstance(node, ast.IfExp):
        for part in (node.test, node.body, node.orelse):
            _check(part, names, text)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise ExpressionError(f"'{text}': only the functions {', '.join(FUNCTIONS)} can be called")
        for a in node.args:
            _check(a, names, text)
    else:
        raise ExpressionError(f"'{text}': {type(node).__name__} is not allowed in a formula")


# ----------------------------------------------------------------------------------------------------
# Vectorized: translate to a polars expression.


def to_polars(expr: Expression, column: Callable[[str], pl.Expr] = pl.col) -> pl.Expr:
    return _pl(expr.tree, column)


def _pl(node: ast.expr, column: Callable[[str], pl.Expr]) -> pl.Expr:
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return pl.lit(node.id == "True")
        if node.id == "None":
            return pl.lit(None)
        return column(node.id)
    if isinstance(node, ast.Constant):
        return pl.lit(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _pl(node.left, column), _pl(node.right, column)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        right_f = right.cast(pl.Float64)
        return pl.when(right_f != 0).then(left.cast(pl.Float64) / right_f).otherwise(None)
    if isinstance(node, ast.UnaryOp):
        operand = _pl(node.operand, column)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.Not):
            return ~operand
        return operand
    if isinstance(node, ast.BoolOp):
        parts = [_pl(v, column) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if isinstance(node.op, ast.And) else (out | p)
        return out
    if isinstance(node, ast.Compare):
        left = _pl(node.left, column)
        op = node.ops[0]
        right_node = node.comparators[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            values = [e.value for e in right_node.elts]  # type: ignore[attr-defined]
            member = pl.when(left.is_null()).then(None).otherwise(left.is_in(values))
            return ~member if isinstance(op, ast.NotIn) else member
        right = _pl(right_node, column)
        ops: dict[type, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
            ast.Eq: lambda a, b: a == b,
            ast.NotEq: lambda a, b: a != b,
            ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b,
            ast.Gt: lambda a, b: a > b,
            ast.GtE: lambda a, b: a >= b,
        }
        return ops[type(op)](left, right)
    if isinstance(node, ast.IfExp):
        return pl.when(_pl(node.test, column)).then(_pl(node.body, column)).otherwise(_pl(node.orelse, column))
    if isinstance(node, ast.Call):
        args = [_pl(a, column) for a in node.args]
        name = node.func.id  # type: ignore[attr-defined]
        if name == "coalesce":
            return pl.coalesce(args)
        if name == "upper":
            return args[0].str.to_uppercase()
        if name == "lower":
            return args[0].str.to_lowercase()
        if name == "abs":
            return args[0].abs()
        return args[0].is_null()
    raise ExpressionError(f"unsupported node {type(node).__name__}")  # pragma: no cover - _check refused it


# ----------------------------------------------------------------------------------------------------
# Row at a time: the reference interpreter's evaluator.


def evaluate(expr: Expression, row: Mapping[str, Any]) -> Any:
    return _ev(expr.tree, row)


def _and(values: list[Any]) -> bool | None:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _or(values: list[Any]) -> bool | None:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _ev(node: ast.expr, row: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id == "None":
            return None
        return row[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        a, b = _ev(node.left, row), _ev(node.right, row)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        return None if float(b) == 0 else float(a) / float(b)
    if isinstance(node, ast.UnaryOp):
        v = _ev(node.operand, row)
        if v is None:
            return None
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.Not):
            return not v
        return v
    if isinstance(node, ast.BoolOp):
        values = [_ev(v, row) for v in node.values]
        return _and(values) if isinstance(node.op, ast.And) else _or(values)
    if isinstance(node, ast.Compare):
        a = _ev(node.left, row)
        op = node.ops[0]
        if isinstance(op, (ast.In, ast.NotIn)):
            if a is None:
                return None
            member = a in [e.value for e in node.comparators[0].elts]  # type: ignore[attr-defined]
            return (not member) if isinstance(op, ast.NotIn) else member
        b = _ev(node.comparators[0], row)
        if a is None or b is None:
            return None
        if isinstance(op, ast.Eq):
            return a == b
        if isinstance(op, ast.NotEq):
            return a != b
        if isinstance(op, ast.Lt):
            return a < b
        if isinstance(op, ast.LtE):
            return a <= b
        if isinstance(op, ast.Gt):
            return a > b
        return a >= b
    if isinstance(node, ast.IfExp):
        return _ev(node.body, row) if _ev(node.test, row) is True else _ev(node.orelse, row)
    if isinstance(node, ast.Call):
        args = [_ev(a, row) for a in node.args]
        name = node.func.id  # type: ignore[attr-defined]
        if name == "coalesce":
            return next((a for a in args if a is not None), None)
        if name == "is_null":
            return args[0] is None
        if args[0] is None:
            return None
        if name == "upper":
            return str(args[0]).upper()
        if name == "lower":
            return str(args[0]).lower()
        return abs(args[0])
    raise ExpressionError(f"unsupported node {type(node).__name__}")  # pragma: no cover


# ----------------------------------------------------------------------------------------------------
# Rounding of calculated results to integer cents.


def round_polars(value: pl.Expr, mode: str) -> pl.Expr:
    v = value.cast(pl.Float64)
    if mode == "none":
        return v
    if mode == "half_up":  # half away from zero, as accountants round
        rounded = (v.abs() + 0.5).floor() * v.sign()
    elif mode == "half_even":
        rounded = v.round(0, mode="half_to_even")
    elif mode == "down":
        rounded = v.abs().floor() * v.sign()
    else:
        rounded = v.abs().ceil() * v.sign()
    return rounded.cast(pl.Int64, strict=False)


def round_scalar(value: Any, mode: str) -> Any:
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        return None
    if mode == "none":
        return v
    sign = (v > 0) - (v < 0)
    if mode == "half_up":
        r = math.floor(abs(v) + 0.5) * sign
    elif mode == "half_even":
        r = round(v)
    elif mode == "down":
        r = math.floor(abs(v)) * sign
    else:
        r = math.ceil(abs(v)) * sign
    return int(r)
