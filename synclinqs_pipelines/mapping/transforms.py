"""The transformation library of mapping specs, each function in two forms with one meaning.

`vector` builds a polars expression over a whole column (what the engine runs); `scalar` transforms one
value (what the reference interpreter runs, and what the table tests read most easily). A step that
rejects its input gives null. The engine suspects a row where a non-null input gave a null output, and
asks the scalar form for the error code of the suspects only (a blank input is a suspect that turns out
fine): the vectorized path stays a handful of cheap column operations, and the codes cannot differ from
the reference interpreter's.

Null and empty input give null output and no error: whether a field may be empty is the catalog's
`required`, checked after mapping. Only ASCII spaces and tabs count as surrounding whitespace, and only
ASCII digits as digits, so both forms agree on every input.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

WS = " \t"


@dataclass(frozen=True)
class Step:
    value: pl.Expr


ScalarResult = tuple[Any, str | None]
VectorFn = Callable[[pl.Expr, dict[str, Any], Callable[[str], pl.Expr]], Step]
ScalarFn = Callable[[Any, dict[str, Any], Mapping[str, Any]], ScalarResult]


@dataclass(frozen=True)
class Transform:
    name: str
    doc: str
    defaults: dict[str, Any]
    vector: VectorFn
    scalar: ScalarFn
    input_fields: Callable[[dict[str, Any]], list[str]] = lambda params: []
    can_fail: bool = False
    typed_input: bool = False


REGISTRY: dict[str, Transform] = {}


def _register(
    name: str,
    doc: str,
    defaults: dict[str, Any] | None = None,
    input_fields: Callable[[dict[str, Any]], list[str]] | None = None,
    *,
    can_fail: bool = False,
    typed_input: bool = False,
) -> Callable[[tuple[VectorFn, ScalarFn]], tuple[VectorFn, ScalarFn]]:
    def wrap(fns: tuple[VectorFn, ScalarFn]) -> tuple[VectorFn, ScalarFn]:
        REGISTRY[name] = Transform(
            name, doc, defaults or {}, fns[0], fns[1], input_fields or (lambda params: []), can_fail, typed_input
        )
        return fns

    return wrap


def _strip(e: pl.Expr) -> pl.Expr:
    """Text without surrounding spaces and tabs; "" for blank. No when/then here: polars does not share
    (CSE) subexpressions that contain one, and every parser below reads this several times."""
    return e.cast(pl.String).str.strip_chars(WS)


def _present(s: pl.Expr) -> pl.Expr:
    """For text already through `_strip`: True when anything is left, null for null. (A length test:
    a regex for a non-blank character costs several times more on a million rows.)"""
    return s.str.len_bytes() > 0


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    s = _strip(e)
    return pl.when(_present(s)).then(s)


def _blank_scalar(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip(WS)
    return s or None


# ---- text ---------------------------------------------------------------------------------------------


def _trim_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(_blank_to_null(e))


def _trim_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    return _blank_scalar(v), None


_register("trim_whitespace", "Strip surrounding spaces and tabs; an all-blank value becomes empty (null).")(
    (_trim_v, _trim_s)
)


def _upper_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(e.cast(pl.String).str.to_uppercase())


def _upper_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    return (None if v is None else str(v).upper()), None


_register("uppercase", "Upper-case the text: roth -> ROTH.")((_upper_v, _upper_s))


def _remove_dashes_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(_blank_to_null(e.cast(pl.String).str.replace_all("-", "", literal=True)))


def _remove_dashes_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    return (None if v is None else _blank_scalar(str(v).replace("-", ""))), None


_register("remove_dashes", "Remove every '-' (SSNs, phone numbers, codes).")((_remove_dashes_v, _remove_dashes_s))


def _concat_fields(p: dict[str, Any]) -> list[str]:
    return list(p.get("fields", []))


def _concat_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    parts = [_blank_to_null(e)] + [_blank_to_null(col(f)) for f in p["fields"]]
    out = pl.concat_str(parts, separator=p["separator"], ignore_nulls=True)
    return Step(pl.when(out == "").then(None).otherwise(out))


def _concat_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    parts = [_blank_scalar(v)] + [_blank_scalar(row.get(f)) for f in p["fields"]]
    joined = p["separator"].join(x for x in parts if x is not None)
    return (joined or None), None


_register(
    "concatenate",
    "Join the value with other fields. Params: fields (list of field names), separator (default ' '). "
    "Empty parts are skipped.",
    {"fields": [], "separator": " "},
    _concat_fields,
)((_concat_v, _concat_s))


def _truncate_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(_blank_to_null(e).str.slice(0, int(p["length"])))


def _truncate_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    s = _blank_scalar(v)
    return (None if s is None else s[: int(p["length"])]), None


_register("truncate", "Keep the first `length` characters (default 1: a middle initial).", {"length": 1})(
    (_truncate_v, _truncate_s)
)


# ---- SSN and email ----------------------------------------------------------------------------------

_SSN_DIGITS = r"^[0-9]{9}$"
_SSN_DASHED = r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"


def _ssn_digits_expr(e: pl.Expr) -> pl.Expr:
    """123-45-6789 becomes 123456789; anything else stays as it is (and fails validation if not 9 digits)."""
    return _strip(e).str.replace(r"^([0-9]{3})-([0-9]{2})-([0-9]{4})$", "${1}${2}${3}")


def ssn_is_valid_expr(digits: pl.Expr) -> pl.Expr:
    """SSA rules on a 9-digit string: area not 000/666/900-999, group not 00, serial not 0000."""
    area = digits.str.slice(0, 3)
    return (
        digits.str.contains(_SSN_DIGITS)
        & (area != "000")
        & (area != "666")
        & ~area.str.starts_with("9")
        & (digits.str.slice(3, 2) != "00")
        & (digits.str.slice(5, 4) != "0000")
    )


def ssn_is_valid(digits: str) -> bool:
    return (
        re.fullmatch(r"[0-9]{9}", digits) is not None
        and digits[:3] not in ("000", "666")
        and not digits.startswith("9")
        and digits[3:5] != "00"
        and digits[5:] != "0000"
    )


def _ssn_digits_scalar(v: Any) -> str | None:
    s = _blank_scalar(v)
    if s is not None and re.fullmatch(r"[0-9]{3}-[0-9]{2}-[0-9]{4}", s):
        return s.replace("-", "")
    return s


# The SSA rules as one match (area not 000/666/9xx, group not 00, serial not 0000), dashed or not.
_AREA = r"(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-5][0-9]|66[0-57-9]|6[7-9][0-9]|[78][0-9]{2})"
_GROUP = r"(?:0[1-9]|[1-9][0-9])"
_SERIAL = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_VALID_SSN = rf"^(?:{_AREA}-{_GROUP}-{_SERIAL}|{_AREA}{_GROUP}{_SERIAL})$"


def _validate_ssn_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    s = _strip(e)
    return Step(pl.when(s.str.contains(_VALID_SSN)).then(s.str.replace_all("-", "", literal=True)))


def _validate_ssn_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    digits = _ssn_digits_scalar(v)
    if digits is None:
        return None, None
    return (digits, None) if ssn_is_valid(digits) else (None, "INVALID_SSN")


_register(
    "validate_ssn",
    "Accept 123456789 or 123-45-6789 that passes SSA rules; output the 9 digits. Otherwise INVALID_SSN.",
    can_fail=True,
)((_validate_ssn_v, _validate_ssn_s))


def _format_ssn_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    digits = _ssn_digits_expr(e)
    ok = digits.str.contains(_SSN_DIGITS)
    if p["style"] == "dashed":
        formatted = pl.concat_str(
            [digits.str.slice(0, 3), pl.lit("-"), digits.str.slice(3, 2), pl.lit("-"), digits.str.slice(5, 4)]
        )
    else:
        formatted = digits
    return Step(pl.when(ok).then(formatted))


def _format_ssn_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    digits = _ssn_digits_scalar(v)
    if digits is None:
        return None, None
    if re.fullmatch(r"[0-9]{9}", digits) is None:
        return None, "INVALID_SSN"
    if p["style"] == "dashed":
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}", None
    return digits, None


_register(
    "format_ssn",
    "Format 9 digits (with or without dashes) as 123-45-6789 (style: dashed, the default) or 123456789 "
    "(style: digits). Anything else is INVALID_SSN.",
    {"style": "dashed"},
    can_fail=True,
)((_format_ssn_v, _format_ssn_s))

_EMAIL = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"


def _validate_email_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    s = _strip(e)
    return Step(pl.when(s.str.contains(_EMAIL)).then(s))


def _validate_email_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    s = _blank_scalar(v)
    if s is None:
        return None, None
    return (s, None) if re.fullmatch(_EMAIL[1:-1], s) else (None, "INVALID_EMAIL")


_register("validate_email", "Accept a plain address such as name@example.com; otherwise INVALID_EMAIL.", can_fail=True)(
    (_validate_email_v, _validate_email_s)
)


# ---- money ------------------------------------------------------------------------------------------

_MONEY = (
    r"^(?P<open>\()?[ \t]*(?P<neg>-)?[ \t]*\$?[ \t]*"
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,15})(?:\.(?P<frac>[0-9]*))?[ \t]*(?P<close>\))?$"
)
_MONEY_RE = re.compile(_MONEY[1:-1])
_WHOLE = r"(?:[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,15})"
# What the vectorized path accepts, as one match: sign or balanced parentheses, optional $, at most
# 2 decimals (dollars) or none (cents). The reasons for a refusal come from parse_money_cents.
_MONEY_OK = {
    "dollars": rf"^[ \t]*(?:\([ \t]*\$?[ \t]*{_WHOLE}(?:\.[0-9]{{0,2}})?[ \t]*\)|-?[ \t]*\$?[ \t]*{_WHOLE}(?:\.[0-9]{{0,2}})?)[ \t]*$",
    "cents": rf"^[ \t]*(?:\([ \t]*\$?[ \t]*{_WHOLE}[ \t]*\)|-?[ \t]*\$?[ \t]*{_WHOLE})[ \t]*$",
}


_MONEY_NOISE = [",", "$", " ", "\t", "(", ")"]


def _money_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    s = e.cast(pl.String)
    ok = s.str.contains(_MONEY_OK[p["unit"]])
    # Once the shape matched, only these characters stand between the text and a number (a literal
    # multi-replace costs half a regex replace on a million rows).
    cleaned = s.str.replace_many(_MONEY_NOISE, [""] * len(_MONEY_NOISE))
    if p["unit"] == "cents":
        cents = cleaned.cast(pl.Int64, strict=False)
    else:
        # Decimal, not float: '0.29' is 29 cents exactly (the match above allows 2 decimals at most),
        # and a Decimal(18, 2) is stored as its count of cents.
        cents = cleaned.cast(pl.Decimal(18, 2), strict=False).to_physical().cast(pl.Int64)
    # The shape allows "(" only as the first non-blank character: a literal search finds negatives.
    sign = 1 - 2 * s.str.contains("(", literal=True).cast(pl.Int64)
    return Step(pl.when(ok).then(cents * sign))


def parse_money_cents(v: Any, unit: str = "dollars") -> ScalarResult:
    """Parse one amount to integer cents: `$1,234.56`, `(12.50)` and `-3` are accepted."""
    s = _blank_scalar(v)
    if s is None:
        return None, None
    m = _MONEY_RE.fullmatch(s)
    if m is None or bool(m["open"]) != bool(m["close"]) or (m["open"] and m["neg"]):
        return None, "INVALID_MONEY"
    whole = int(m["int"].replace(",", ""))
    frac = m["frac"]
    if unit == "cents":
        if frac is not None:
            return None, "INVALID_MONEY"
        cents = whole
    else:
        if frac is not None and len(frac) > 2:
            return None, "TOO_MANY_DECIMALS"
        cents = whole * 100 + int((frac or "").ljust(2, "0"))
    return (-cents if (m["open"] or m["neg"]) else cents), None


def _money_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    return parse_money_cents(v, p["unit"])


_register(
    "convert_to_cents",
    "Parse an amount to integer cents. unit: dollars (default; '$1,234.56', '(12.50)' negative, at most 2 "
    "decimals, else TOO_MANY_DECIMALS) or cents (a whole number already in cents). Else INVALID_MONEY.",
    {"unit": "dollars"},
    can_fail=True,
)((_money_v, _money_s))


def dollars_text_expr(cents: pl.Expr) -> pl.Expr:
    """Integer cents as exact dollars text: 123456 -> '1234.56', -5 -> '-0.05'."""
    a = cents.cast(pl.Int64)
    mag = a.abs()
    text = pl.concat_str([(mag // 100).cast(pl.String), pl.lit("."), (mag % 100).cast(pl.String).str.zfill(2)])
    return pl.when(a < 0).then(pl.lit("-") + text).otherwise(text)


def dollars_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    mag = abs(cents)
    return f"{sign}{mag // 100}.{mag % 100:02d}"


def _to_dollars_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(dollars_text_expr(e))


def _to_dollars_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    return (None if v is None else dollars_text(int(v))), None


_register(
    "convert_to_dollars", "Integer cents to exact dollars text with 2 decimals: 123456 -> 1234.56.", typed_input=True
)((_to_dollars_v, _to_dollars_s))

# ---- numbers ----------------------------------------------------------------------------------------

_NUMBER = r"^[ \t]*(?P<neg>-)?(?P<int>[0-9]{1,15})(?:\.(?P<frac>[0-9]{1,10}))?[ \t]*%?[ \t]*$"
_NUMBER_RE = re.compile(_NUMBER[1:-1])


def _number_expr(e: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value as Float64, is-present, is-valid) for a numeric text."""
    s = _strip(e)
    valid = s.str.contains(_NUMBER)
    value = s.str.strip_chars("% \t").cast(pl.Float64, strict=False)
    return value, _present(s), valid


def parse_number(v: Any) -> tuple[float | None, bool]:
    """(value, ok) for one numeric text; None input is (None, True)."""
    s = _blank_scalar(v)
    if s is None:
        return None, True
    m = _NUMBER_RE.fullmatch(s)
    if m is None:
        return None, False
    value = float(f"{m['int']}.{m['frac'] or '0'}")
    return (-value if m["neg"] else value), True


def _round_half_up_v(x: pl.Expr, decimals: int) -> pl.Expr:
    factor = float(10**decimals)
    return ((x.abs() * factor + 0.5).floor() * x.sign()) / factor


def _round_half_up_s(x: float, decimals: int) -> float:
    factor = float(10**decimals)
    sign = (x > 0) - (x < 0)
    return (math.floor(abs(x) * factor + 0.5) * sign) / factor


def _to_decimal_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    value, _, valid = _number_expr(e)
    return Step(pl.when(valid).then(value / float(p["divide_by"])))


def _to_decimal_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    value, ok = parse_number(v)
    if not ok:
        return None, "INVALID_NUMBER"
    return (None if value is None else value / float(p["divide_by"])), None


_register(
    "convert_to_decimal",
    "Parse a number and divide it: divide_by 100 (default) turns a percentage such as 5.5 (or '5.5%') into "
    "the decimal 0.055; divide_by 1 keeps the number. Else INVALID_NUMBER.",
    {"divide_by": 100},
    can_fail=True,
)((_to_decimal_v, _to_decimal_s))


def _from_decimal_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    return Step(_round_half_up_v(e.cast(pl.Float64) * float(p["multiply_by"]), int(p["decimals"])))


def _from_decimal_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    if v is None:
        return None, None
    return _round_half_up_s(float(v) * float(p["multiply_by"]), int(p["decimals"])), None


_register(
    "convert_from_decimal",
    "Multiply a decimal and round half up: multiply_by 100 (default) and decimals 2 (default) turn 0.055 into 5.5.",
    {"multiply_by": 100, "decimals": 2},
    typed_input=True,
)((_from_decimal_v, _from_decimal_s))


def _round_cents_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    value, _, valid = _number_expr(e)
    return Step(pl.when(valid).then(_round_half_up_v(value * 100.0, 0).cast(pl.Int64)))


def _round_cents_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    value, ok = parse_number(v)
    if not ok:
        return None, "INVALID_NUMBER"
    return (None if value is None else int(_round_half_up_s(value * 100.0, 0))), None


_register(
    "round_to_cents",
    "Round a dollar amount with any number of decimals to integer cents, half away from zero "
    "(12.345 -> 1235). Else INVALID_NUMBER.",
    can_fail=True,
)((_round_cents_v, _round_cents_s))

_INTEGER = r"^[ \t]*-?[0-9]{1,15}[ \t]*$"


def _to_integer_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    s = _strip(e)
    return Step(pl.when(s.str.contains(_INTEGER)).then(s.cast(pl.Int64, strict=False)))


def _to_integer_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    s = _blank_scalar(v)
    if s is None:
        return None, None
    if re.fullmatch(_INTEGER[1:-1], s) is None:
        return None, "INVALID_INTEGER"
    return int(s), None


_register("to_integer", "Parse a whole number. Else INVALID_INTEGER.", can_fail=True)((_to_integer_v, _to_integer_s))


def _positive_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    ok = (e >= 0) if p["allow_zero"] else (e > 0)
    return Step(pl.when(ok).then(e))


def _positive_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    if v is None:
        return None, None
    if p["allow_zero"]:
        return (None, "NEGATIVE_AMOUNT") if v < 0 else (v, None)
    return (None, "NOT_POSITIVE") if v <= 0 else (v, None)


_register(
    "validate_positive",
    "Refuse negative numbers (NEGATIVE_AMOUNT); with allow_zero: false also zero (NOT_POSITIVE).",
    {"allow_zero": True},
    can_fail=True,
    typed_input=True,
)((_positive_v, _positive_s))


# ---- dates ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateFormat:
    pattern: str
    order: tuple[str, str, str]

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern[1:-1])


DATE_FORMATS: dict[str, DateFormat] = {
    "%m/%d/%Y": DateFormat(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$", ("m", "d", "Y")),
    "%d/%m/%Y": DateFormat(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$", ("d", "m", "Y")),
    "%Y-%m-%d": DateFormat(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$", ("Y", "m", "d")),
    "%m-%d-%Y": DateFormat(r"^([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})$", ("m", "d", "Y")),
    "%Y%m%d": DateFormat(r"^([0-9]{4})([0-9]{2})([0-9]{2})$", ("Y", "m", "d")),
    "%m%d%Y": DateFormat(r"^([0-9]{2})([0-9]{2})([0-9]{4})$", ("m", "d", "Y")),
}
MIN_YEAR, MAX_YEAR = 1900, 2199


def parse_date_expr(e: pl.Expr, fmt: str) -> pl.Expr:
    """Null unless the text has the format's exact shape and is a real date in 1900-2199."""
    spec = DATE_FORMATS[fmt]
    s = _strip(e)
    shaped = s.str.contains(spec.pattern)
    if fmt == "%Y%m%d":
        s = pl.concat_str([s.str.slice(0, 4), pl.lit("-"), s.str.slice(4, 2), pl.lit("-"), s.str.slice(6, 2)])
        fmt = "%Y-%m-%d"
    elif fmt == "%m%d%Y":
        s = pl.concat_str([s.str.slice(4, 4), pl.lit("-"), s.str.slice(0, 2), pl.lit("-"), s.str.slice(2, 2)])
        fmt = "%Y-%m-%d"
    parsed = s.str.to_date(fmt, strict=False)
    return pl.when(shaped & parsed.dt.year().is_between(MIN_YEAR, MAX_YEAR)).then(parsed)


def parse_date_scalar(v: Any, fmt: str) -> dt.date | None:
    s = _blank_scalar(v)
    if s is None:
        return None
    m = DATE_FORMATS[fmt].regex.fullmatch(s)
    if m is None:
        return None
    parts = dict(zip(DATE_FORMATS[fmt].order, m.groups(), strict=True))
    year = int(parts["Y"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return dt.date(year, int(parts["m"]), int(parts["d"]))
    except ValueError:
        return None


def choose_date_format(parsed_counts: dict[str, int], present: int) -> tuple[str | None, bool]:
    """Pick the format that parses the most values: (format, ambiguous). Shared by both engines.

    Ambiguous when two formats tie for the most values parsed, which happens when every day is 12 or
    less and the column fits both month/day and day/month orders.
    """
    if present == 0:
        return None, False
    best = max(parsed_counts.values())
    if best == 0:
        return None, False
    winners = [f for f, n in parsed_counts.items() if n == best]
    if len(winners) > 1:
        return None, True
    return winners[0], False


def _date_v(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
    fmt = p["format"]
    if fmt not in DATE_FORMATS:
        raise ValueError(f"unknown date format {fmt!r}; known: {', '.join(DATE_FORMATS)}")
    return Step(parse_date_expr(e, fmt))


def _date_s(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
    s = _blank_scalar(v)
    if s is None:
        return None, None
    parsed = parse_date_scalar(s, p["format"])
    return (parsed, None) if parsed is not None else (None, "INVALID_DATE")


_register(
    "parse_date",
    "Parse text to a date. format: one of " + ", ".join(DATE_FORMATS) + ", or 'auto' (the default) to "
    "detect the format once per column; a column that fits two formats is reported as "
    "AMBIGUOUS_DATE_FORMAT instead of being guessed row by row. Else INVALID_DATE.",
    {"format": "auto"},
    can_fail=True,
)((_date_v, _date_s))


def _fmt_date_v(pattern: str) -> VectorFn:
    def fn(e: pl.Expr, p: dict[str, Any], col: Callable[[str], pl.Expr]) -> Step:
        return Step(e.cast(pl.Date).dt.strftime(pattern))

    return fn


def _fmt_date_s(pattern: str) -> ScalarFn:
    def fn(v: Any, p: dict[str, Any], row: Mapping[str, Any]) -> ScalarResult:
        return (None if v is None else v.strftime(pattern)), None

    return fn


_register("format_date_iso", "Format a date as YYYY-MM-DD.", typed_input=True)(
    (_fmt_date_v("%Y-%m-%d"), _fmt_date_s("%Y-%m-%d"))
)
_register("format_date_us", "Format a date as MM/DD/YYYY.", typed_input=True)(
    (_fmt_date_v("%m/%d/%Y"), _fmt_date_s("%m/%d/%Y"))
)


def resolve_params(name: str, given: dict[str, Any] | None) -> dict[str, Any]:
    transform = REGISTRY[name]
    given = given or {}
    unknown = sorted(set(given) - set(transform.defaults))
    if unknown:
        raise ValueError(
            f"transform '{name}' has no parameter(s) {', '.join(unknown)}; it takes: "
            + (", ".join(transform.defaults) or "no parameters")
        )
    return {**transform.defaults, **given}
