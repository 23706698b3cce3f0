"""Mapping benchmark: a 1,000,000-row ADP file to Fidelity through the compiled engine, against the
row-at-a-time reference interpreter and a hand-written polars pipeline, in one process."""

from __future__ import annotations

import datetime as dt
import resource
import time
from pathlib import Path

import polars as pl

from benchmarks.data import DATA_DIR, adp_file
from benchmarks.memory import peak_mb, reset_peak
from synclinqs_pipelines.mapping import engine, reference
from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.export import export_batch
from synclinqs_pipelines.mapping.readers import read_file

SPECS = Path(__file__).resolve().parents[1] / "mapping_specs"
ROWS = 1_000_000
REFERENCE_ROWS = 20_000
CONTEXT = {
    "tenant": "bench",
    "pay_date": dt.date(2026, 1, 9),
    "file_date": dt.date(2026, 1, 12),
    "plan_number": "12345",
    "client_id": "B",
    "site_code": "",
    "sequence": 1,
}


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def hand_written(frame: pl.DataFrame) -> pl.DataFrame:
    """What a person would write by hand for ADP -> Fidelity money and dates, no spec, no error capture."""

    def cents(c: str) -> pl.Expr:
        return (pl.col(c).str.replace_all(",", "", literal=True).cast(pl.Float64) * 100).round(0).cast(pl.Int64)

    def date(c: str) -> pl.Expr:
        return pl.col(c).str.to_date("%m/%d/%Y", strict=False)

    return (
        frame.lazy()
        .select(
            pl.col("plan_code").alias("plan_number"),
            pl.col("tax_id").str.replace_all("-", "", literal=True).alias("ssn"),
            pl.col("file_number").alias("employee_id"),
            pl.col("last_name"),
            pl.col("first_name"),
            pl.col("middle_name").str.slice(0, 1).alias("middle_initial"),
            date("birth_date"),
            date("hire_date"),
            date("rehire_date"),
            date("termination_date"),
            pl.col("position_status").alias("status"),
            date("pay_date").alias("payroll_date"),
            date("period_end_date"),
            pl.col("pay_frequency").alias("frequency"),
            cents("gross_pay").alias("gross_compensation"),
            cents("eligible_wages").alias("plan_compensation"),
            pl.col("hours_worked").cast(pl.Float64).alias("hours"),
            cents("k401").alias("ee_pretax"),
            cents("roth_401k").alias("ee_roth"),
            cents("k401_catch_up").alias("ee_pretax_catchup"),
            cents("roth_catch_up").alias("ee_roth_catchup"),
            cents("employer_match").alias("er_match"),
            cents("safe_harbor_match").alias("er_safe_harbor_match"),
            cents("k401_loan_1").alias("loan_1_payment"),
            cents("k401_loan_2").alias("loan_2_payment"),
            (pl.col("deferral_pct_401k").cast(pl.Float64) / 100).alias("pretax_deferral_pct"),
            (pl.col("deferral_pct_roth").cast(pl.Float64) / 100).alias("roth_deferral_pct"),
        )
        .collect()
    )


def run() -> dict[str, float]:
    catalog = SpecCatalog(SPECS)
    resolved = catalog.resolve("adp_to_fidelity")
    path = adp_file(ROWS)
    out_path = DATA_DIR / "fidelity_1m.csv"

    def file_to_file() -> None:
        frame = read_file(path, resolved.source)
        canonical = engine.run(resolved.inbound, frame).frame
        out_path.write_bytes(export_batch(resolved, canonical, CONTEXT).rendered.data)

    reset_peak()
    t_file = _best(file_to_file, repeat=3)
    file_peak_mb = peak_mb()
    frame = read_file(path, resolved.source)
    t_read = _best(lambda: read_file(path, resolved.source), repeat=2)
    t_engine = _best(lambda: engine.run(resolved.outbound, engine.run(resolved.inbound, frame).frame), repeat=2)
    t_hand = _best(lambda: hand_written(frame), repeat=2)
    sample = frame.head(REFERENCE_ROWS)
    t_ref = _best(lambda: reference.run(resolved.outbound, reference.run(resolved.inbound, sample).frame), repeat=1)
    process_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = {
        "rows": ROWS,
        "file_to_file_rows_per_s": ROWS / t_file,
        "read_rows_per_s": ROWS / t_read,
        "engine_mapping_rows_per_s": ROWS / t_engine,
        "hand_written_polars_rows_per_s": ROWS / t_hand,
        "reference_interpreter_rows_per_s": REFERENCE_ROWS / t_ref,
        "file_to_file_peak_rss_mb": file_peak_mb,
        "process_peak_rss_mb": process_peak_mb,
    }
    results["engine_vs_reference_x"] = (
        results["engine_mapping_rows_per_s"] / results["reference_interpreter_rows_per_s"]
    )
    results["engine_overhead_vs_hand_written_x"] = t_engine / t_hand
    return results


def report(results: dict[str, float]) -> str:
    return "\n".join(
        [
            "mapping: ADP -> Fidelity, 1,000,000 rows",
            f"  file to file (read, map in + out, write)  {results['file_to_file_rows_per_s']:>12,.0f} rows/s  (target >= 400,000)",
            f"  read CSV                                  {results['read_rows_per_s']:>12,.0f} rows/s",
            f"  compiled engine, mapping step             {results['engine_mapping_rows_per_s']:>12,.0f} rows/s",
            f"  reference interpreter ({REFERENCE_ROWS:,} rows)      {results['reference_interpreter_rows_per_s']:>12,.0f} rows/s",
            f"  engine / reference                        {results['engine_vs_reference_x']:>12.1f} x     (target >= 30x)",
            f"  hand-written polars (no errors captured)  {results['hand_written_polars_rows_per_s']:>12,.0f} rows/s",
            f"  engine time / hand-written time           {results['engine_overhead_vs_hand_written_x']:>12.2f} x",
            f"  peak RSS, file to file                    {results['file_to_file_peak_rss_mb']:>12,.0f} MB    (target < 1,500)",
            f"  peak RSS of the whole benchmark process   {results['process_peak_rss_mb']:>12,.0f} MB    (every phase above)",
        ]
    )


if __name__ == "__main__":
    print(report(run()))
