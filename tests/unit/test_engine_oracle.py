"""The vectorized engine and the row-at-a-time reference interpreter agree on awkward generated input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synclinqs_pipelines.mapping import engine, reference
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.engine import ROW

CATALOG = SpecCatalog(Path(__file__).resolve().parents[2] / "mapping_specs")
AWKWARD = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "-",
        "()",
        "$",
        "1e5",
        "inf",
        "NaN",
        "0",
        "-0",
        "00",
        "１２",
        "١٢",
        "12\u00a0",
        "\x1c5",
        "1,234",
        "12,34",
        "1,234.567",
        "(1.00)",
        "(-1.00)",
        "-$1.00",
        "$-1.00",
        " $ 1,000.00 ",
        "99999999999999999",
        "02/30/2026",
        "1/5/2026",
        "01/05/2026",
        "2026-01-05",
        "20260105",
        "13/13/2026",
        "0000-01-01",
        "1899-01-01",
        "A",
        "T",
        "l",
        " b ",
        "W",
        "Active",
        "Terminated",
        "weekly",
        "biweekly",
        "ROTH",
        "terminated",
        "on_leave",
        "123-45-6789",
        "123456789",
        "000-12-3456",
        "12345678",
        "ann@example.com",
        "5.5",
        "5.5%",
        "-3",
        "0.055",
        "O'Donnell",
        "García",
        "Nguyen-Park",
        "  padded  ",
        "x" * 40,
    ]
)


def text_values() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), AWKWARD, st.text(alphabet="0123456789$,.-() /%abcAT\t", max_size=12))


def frame_for(system_name: str, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    system = CATALOG.system(system_name)
    data = {f.name: [r.get(f.name) for r in rows] for f in system.fields}
    return (
        pl.DataFrame(data, schema={f.name: pl.String for f in system.fields})
        .with_row_index(ROW, offset=2)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )


def assert_same(plan, frame: pl.DataFrame) -> engine.MappingResult:
    fast = engine.run(plan, frame)
    slow = reference.run(plan, frame)
    assert fast.frame.equals(slow.frame), (fast.frame, slow.frame)
    key = ["row", "field", "code"]
    assert fast.errors.sort(key, nulls_last=False).equals(slow.errors.sort(key, nulls_last=False)), (
        fast.errors,
        slow.errors,
    )
    return fast


def rows_strategy(system_name: str) -> st.SearchStrategy[list[dict[str, str | None]]]:
    names = [f.name for f in CATALOG.system(system_name).fields]
    return st.lists(st.fixed_dictionaries({n: text_values() for n in names}), min_size=1, max_size=25)


@pytest.fixture(params=["row by row", "by distinct value"])
def evaluation(request, monkeypatch):
    """Both ways the engine evaluates a transform chain: over every row, or over the column's distinct
    values joined back (what it does for repetitive columns of large batches)."""
    if request.param == "by distinct value":
        monkeypatch.setattr(engine, "REPETITIVE_MIN_ROWS", 1)
        monkeypatch.setattr(engine, "REPETITIVE_SHARE", 1.0)
    return request.param


@pytest.mark.parametrize(
    "template",
    ["adp_to_fidelity", "gusto_to_empower", "paylocity_to_relius", "ukg_to_ascensus", "paychex_to_paykonnect"],
)
def test_engine_matches_reference_on_awkward_input(template, evaluation):
    resolved = CATALOG.resolve(template)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_strategy(resolved.source.system))
    def check(rows):
        inbound = assert_same(resolved.inbound, frame_for(resolved.source.system, rows))
        assert_same(resolved.outbound, inbound.frame)

    check()


def test_engine_matches_reference_on_generated_demo_files(evaluation):
    from synclinqs_pipelines.demo.generate import DEMO_TENANTS, demo_files
    from synclinqs_pipelines.mapping.readers import read_source

    tenants = CATALOG.load_tenants()
    for demo in DEMO_TENANTS:
        resolved = CATALOG.resolve(tenants[demo.slug].template, tenants[demo.slug])
        name, data = list(demo_files(demo).items())[-1]
        inbound = assert_same(resolved.inbound, read_source(data, resolved.source, name))
        assert (inbound.rows_out > 0 and inbound.rows_rejected == demo.bad_rows[2]) or inbound.rows_rejected > 0
        assert_same(resolved.outbound, inbound.frame)


def test_repetitive_columns_are_found_from_a_sample():
    n = 50_000
    frame = pl.DataFrame(
        {
            "code": ["A", "T", None, " b "] * (n // 4),
            "amount": [f"{i}.00" for i in range(n)],
            "mostly_zero": ["0.00" if i % 7 else f"{i}.50" for i in range(n)],
        }
    )
    assert engine._repetitive_columns(frame, {"code", "amount", "mostly_zero"}) == {"code", "mostly_zero"}
    assert engine._repetitive_columns(frame.head(1_000), {"code"}) == set()
