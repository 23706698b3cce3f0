"""Asset checks of the contributions domain: names and the results computed from a load."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from synclinqs_pipelines.mapping.canonical import SOURCE_CODES
from synclinqs_pipelines.partition import LoadStep

ERROR_RATE = "error_rate_below_threshold"
CONTROL_TOTALS = "control_totals_balance"
NO_IRS_BREACH = "no_irs_limit_breach_accepted"
NO_DUPLICATES = "no_duplicate_contribution_loaded"
NO_ORPHANS = "no_orphan_rows"


def load_check_results(step: LoadStep) -> Iterator[dg.AssetCheckResult]:
    rows = []
    balanced = True
    for code in SOURCE_CODES:
        money_in = step.canonical_totals.get(code, 0)
        loaded = step.loaded_totals.get(code, 0)
        rejected = money_in - step.accepted_totals.get(code, 0)
        ok = money_in == loaded + rejected
        balanced &= ok
        if money_in or loaded:
            rows.append(f"| {code} | {money_in} | {loaded} | {rejected} | {'ok' if ok else 'OFF'} |")
    yield dg.AssetCheckResult(
        check_name=CONTROL_TOTALS,
        passed=balanced,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "by_source": dg.MetadataValue.md(
                "| source | in (cents) | loaded | rejected | |\n|---|---|---|---|---|\n" + "\n".join(rows)
            )
        },
    )
    yield dg.AssetCheckResult(
        check_name=NO_IRS_BREACH,
        passed=step.irs_breaches == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"employees_over_a_limit": step.irs_breaches},
    )
    yield dg.AssetCheckResult(
        check_name=NO_DUPLICATES,
        passed=step.duplicate_groups == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"duplicate_groups": step.duplicate_groups},
    )
    yield dg.AssetCheckResult(
        check_name=NO_ORPHANS,
        passed=step.orphans == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows_without_their_employee_plan_loan_or_file": step.orphans},
    )
