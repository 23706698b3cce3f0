"""Small previews of mapped rows for people to look at, with personal data masked."""

from __future__ import annotations

import polars as pl

from synclinqs_pipelines.mapping.spec import SystemSpec

MASK = "•••"


PREVIEW_COLUMNS = (
    "external_id",
    "ssn",
    "last_name",
    "pay_date",
    "plan_code",
    "gross_pay_cents",
    "pretax_cents",
    "roth_cents",
    "match_cents",
    "loan_1_cents",
)


def masked_preview(
    frame: pl.DataFrame, system: SystemSpec, rows: int = 5, columns: tuple[str, ...] = PREVIEW_COLUMNS
) -> str:
    """A markdown table of the first rows; every PII field of the catalog shows as a mask."""
    pii = {f.name for f in system.fields if f.pii}
    shown = [c for c in columns if c in frame.columns] or [c for c in frame.columns if not c.startswith("__")][:10]
    head = frame.head(rows)
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for record in head.iter_rows(named=True):
        cells = [
            MASK if c in pii and record[c] is not None else ("" if record[c] is None else str(record[c])) for c in shown
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
