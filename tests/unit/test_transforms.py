"""Table tests for every transformation, each row run through both forms (vectorized and scalar)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from synclinqs_pipelines.mapping import transforms as tf

D = dt.date

CASES: list[tuple[str, dict[str, Any], Any, Any, str | None]] = [
    # name, params, input, expected value, expected error code
    ("trim_whitespace", {}, "  Ann \t", "Ann", None),
    ("trim_whitespace", {}, "   ", None, None),
    ("trim_whitespace", {}, None, None, None),
    ("trim_whitespace", {}, "", None, None),
    ("uppercase", {}, "roth", "ROTH", None),
    ("uppercase", {}, None, None, None),
    ("remove_dashes", {}, "123-45-6789", "123456789", None),
    ("remove_dashes", {}, "---", None, None),
    ("remove_dashes", {}, None, None, None),
    ("format_ssn", {"style": "dashed"}, "123456789", "123-45-6789", None),
    ("format_ssn", {"style": "dashed"}, "123-45-6789", "123-45-6789", None),
    ("format_ssn", {"style": "digits"}, "123-45-6789", "123456789", None),
    ("format_ssn", {"style": "dashed"}, "12345678", None, "INVALID_SSN"),
    ("format_ssn", {"style": "dashed"}, "", None, None),
    ("format_ssn", {"style": "dashed"}, None, None, None),
    ("validate_ssn", {}, "123-45-6789", "123456789", None),
    ("validate_ssn", {}, "000-12-3456", None, "INVALID_SSN"),
    ("validate_ssn", {}, "666123456", None, "INVALID_SSN"),
    ("validate_ssn", {}, "912345678", None, "INVALID_SSN"),
    ("validate_ssn", {}, "123005678", None, "INVALID_SSN"),
    ("validate_ssn", {}, "123450000", None, "INVALID_SSN"),
    ("validate_ssn", {}, "12345678a", None, "INVALID_SSN"),
    ("validate_ssn", {}, "  ", None, None),
    ("validate_ssn", {}, None, None, None),
    ("validate_email", {}, "ann.lee+401k@example.com", "ann.lee+401k@example.com", None),
    ("validate_email", {}, "ann@", None, "INVALID_EMAIL"),
    ("validate_email", {}, "", None, None),
    ("convert_to_cents", {"unit": "dollars"}, "1,234.56", 123456, None),
    ("convert_to_cents", {"unit": "dollars"}, "$1,234.5", 123450, None),
    ("convert_to_cents", {"unit": "dollars"}, "(12.50)", -1250, None),
    ("convert_to_cents", {"unit": "dollars"}, "-$3", -300, None),
    ("convert_to_cents", {"unit": "dollars"}, " 0.07 ", 7, None),
    ("convert_to_cents", {"unit": "dollars"}, "12.345", None, "TOO_MANY_DECIMALS"),
    ("convert_to_cents", {"unit": "dollars"}, "12,34", None, "INVALID_MONEY"),
    ("convert_to_cents", {"unit": "dollars"}, "(12.50", None, "INVALID_MONEY"),
    ("convert_to_cents", {"unit": "dollars"}, "abc", None, "INVALID_MONEY"),
    ("convert_to_cents", {"unit": "dollars"}, "", None, None),
    ("convert_to_cents", {"unit": "dollars"}, None, None, None),
    ("convert_to_cents", {"unit": "cents"}, "000012345", 12345, None),
    ("convert_to_cents", {"unit": "cents"}, "123.45", None, "INVALID_MONEY"),
    ("convert_to_dollars", {}, 123456, "1234.56", None),
    ("convert_to_dollars", {}, -5, "-0.05", None),
    ("convert_to_dollars", {}, None, None, None),
    ("convert_to_decimal", {"divide_by": 100}, "5.5", 0.055, None),
    ("convert_to_decimal", {"divide_by": 100}, "5.5%", 0.055, None),
    ("convert_to_decimal", {"divide_by": 1}, "80.25", 80.25, None),
    ("convert_to_decimal", {"divide_by": 100}, "five", None, "INVALID_NUMBER"),
    ("convert_to_decimal", {"divide_by": 100}, "", None, None),
    ("convert_from_decimal", {"multiply_by": 100, "decimals": 2}, 0.055, 5.5, None),
    ("convert_from_decimal", {"multiply_by": 100, "decimals": 2}, None, None, None),
    ("round_to_cents", {}, "12.345", 1235, None),
    ("round_to_cents", {}, "-12.345", -1235, None),
    ("round_to_cents", {}, "12.3", 1230, None),
    ("round_to_cents", {}, "x", None, "INVALID_NUMBER"),
    ("round_to_cents", {}, None, None, None),
    ("to_integer", {}, " 42 ", 42, None),
    ("to_integer", {}, "4.2", None, "INVALID_INTEGER"),
    ("validate_positive", {"allow_zero": True}, -1, None, "NEGATIVE_AMOUNT"),
    ("validate_positive", {"allow_zero": True}, 0, 0, None),
    ("validate_positive", {"allow_zero": False}, 0, None, "NOT_POSITIVE"),
    ("validate_positive", {"allow_zero": True}, None, None, None),
    ("parse_date", {"format": "%m/%d/%Y"}, "1/5/2026", D(2026, 1, 5), None),
    ("parse_date", {"format": "%m/%d/%Y"}, "02/30/2026", None, "INVALID_DATE"),
    ("parse_date", {"format": "%m/%d/%Y"}, "2026-01-05", None, "INVALID_DATE"),
    ("parse_date", {"format": "%Y-%m-%d"}, "2026-01-05", D(2026, 1, 5), None),
    ("parse_date", {"format": "%Y%m%d"}, "20260105", D(2026, 1, 5), None),
    ("parse_date", {"format": "%Y-%m-%d"}, "1899-12-31", None, "INVALID_DATE"),
    ("parse_date", {"format": "%Y-%m-%d"}, "", None, None),
    ("parse_date", {"format": "%Y-%m-%d"}, None, None, None),
    ("format_date_iso", {}, D(2026, 1, 5), "2026-01-05", None),
    ("format_date_us", {}, D(2026, 1, 5), "01/05/2026", None),
    ("format_date_us", {}, None, None, None),
    ("truncate", {"length": 1}, "Marie", "M", None),
    ("truncate", {"length": 1}, "", None, None),
]


# Transforms that take typed input (they follow a parsing step in a chain) get typed nulls.
NULL_INPUT_DTYPES = {
    "validate_positive": pl.Int64(),
    "convert_to_dollars": pl.Int64(),
    "convert_from_decimal": pl.Float64(),
    "format_date_iso": pl.Date(),
    "format_date_us": pl.Date(),
}


def _dtype(value: Any) -> pl.DataType:
    if isinstance(value, bool):
        return pl.Boolean()
    if isinstance(value, int):
        return pl.Int64()
    if isinstance(value, float):
        return pl.Float64()
    if isinstance(value, dt.date):
        return pl.Date()
    return pl.String()


@pytest.mark.parametrize(
    ("name", "params", "value", "expected", "code"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_transform_in_both_forms(name, params, value, expected, code):
    transform = tf.REGISTRY[name]
    full = tf.resolve_params(name, params)
    assert transform.scalar(value, full, {}) == (expected, code)

    null_dtype = NULL_INPUT_DTYPES.get(name, pl.String())
    frame = pl.DataFrame({"v": pl.Series([value], dtype=_dtype(value) if value is not None else null_dtype)})
    value = transform.vector(pl.col("v"), full, pl.col).value
    suspect = pl.col("v").is_not_null() & value.is_null() & transform.can_fail
    got_value, got_suspect = frame.select(value.alias("value"), suspect.alias("suspect")).row(0)
    # The engine suspects a row where a non-null input gave null, and takes its code from `scalar`.
    assert transform.can_fail or code is None
    if code is not None:
        assert got_suspect
    else:
        assert got_value == expected


def test_concatenate_joins_other_fields_and_skips_empty_parts():
    params = tf.resolve_params("concatenate", {"fields": ["last"], "separator": " "})
    t = tf.REGISTRY["concatenate"]
    assert t.scalar("Ann", params, {"last": "Lee"}) == ("Ann Lee", None)
    assert t.scalar("Ann", params, {"last": " "}) == ("Ann", None)
    assert t.scalar(None, params, {"last": None}) == (None, None)
    frame = pl.DataFrame({"first": ["Ann", "Ann", None], "last": ["Lee", " ", None]})
    out = frame.select(t.vector(pl.col("first"), params, pl.col).value)
    assert out.to_series().to_list() == ["Ann Lee", "Ann", None]


def test_every_transform_documents_itself_and_has_a_table_case():
    named = {c[0] for c in CASES} | {"concatenate"}
    assert set(tf.REGISTRY) == named
    assert all(len(t.doc) > 20 for t in tf.REGISTRY.values())


def test_unknown_parameter_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="convert_to_cents' has no parameter.*it takes: unit"):
        tf.resolve_params("convert_to_cents", {"units": "cents"})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["01/05/2026", "12/31/2025"], ("%m/%d/%Y", False)),
        (["31/01/2026", "05/12/2025"], ("%d/%m/%Y", False)),
        (["01/05/2026", "02/06/2026"], (None, True)),
        (["2026-01-05", None], ("%Y-%m-%d", False)),
        ([None, ""], (None, False)),
    ],
)
def test_date_format_detection_per_column(values, expected):
    present = sum(1 for v in values if v)
    counts = {f: sum(1 for v in values if tf.parse_date_scalar(v, f)) for f in tf.DATE_FORMATS}
    assert tf.choose_date_format(counts, present) == expected
