"""Reading payroll files (CSV, XLSX, fixed-width) into frames of text columns named by the catalog.

Every value stays text here; the mapping rules parse it, so a bad value is a row error with its row
number rather than a failed read. `__row` is the row's line number in the file (the header is line 1
of a CSV with one header line), or its row number in the spreadsheet.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from synclinqs_pipelines.mapping.engine import ROW
from synclinqs_pipelines.mapping.errors import MappingFileError
from synclinqs_pipelines.mapping.spec import FieldSpec, FileLayout, SystemSpec


def decode(data: bytes, encoding: str, name: str) -> str:
    """UTF-8 (with or without BOM) first, then Windows-1252; anything else is a whole-file error."""
    if encoding not in ("auto", "utf-8", "windows-1252", "cp1252"):
        return data.decode(encoding)
    if encoding in ("auto", "utf-8"):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if encoding == "utf-8":
                raise MappingFileError(name, "is not valid UTF-8 text") from None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise MappingFileError(
            name, "is neither UTF-8 nor Windows-1252 text; ask the sender to export the file as UTF-8 CSV"
        ) from None


def _norm(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header.strip()).casefold()


def match_columns(headers: list[str], fields: list[FieldSpec], name: str, system: str) -> dict[str, str]:
    """Map file headers to field names; missing required columns are one whole-file error."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(_norm(h), h)
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for f in fields:
        candidates = [f.header, *(f.aliases or []), f.name]
        found = next((by_norm[_norm(c)] for c in candidates if _norm(c) in by_norm), None)
        if found is not None:
            mapping[found] = f.name
        elif f.required:
            missing.append(f.header)
    if missing:
        raise MappingFileError(
            name,
            f"missing required column(s) {', '.join(repr(m) for m in missing)} for {system}; "
            "the first line must be the column headers of the export",
        )
    return mapping


def _finish(frame: pl.DataFrame, fields: list[FieldSpec], name: str) -> pl.DataFrame:
    if frame.height == 0:
        raise MappingFileError(name, "has no data rows")
    missing = [pl.lit(None, dtype=pl.String).alias(f.name) for f in fields if f.name not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select(ROW, *[f.name for f in fields])


def _without_blank_tail(data: bytes) -> bytes:
    """Trailing blank lines carry no rows. A file that ends in one line break, as most do, is not copied."""
    end = len(data)
    while end and data[end - 1] in b"\r\n\t ":
        end -= 1
    tail = data[end:]
    if tail in (b"\n", b"\r\n", b""):
        return data
    return data[:end]


def _parse_csv(body: bytes, layout: FileLayout) -> pl.DataFrame:
    return pl.read_csv(
        body,
        has_header=layout.header,
        separator=layout.delimiter,
        skip_rows=layout.skip_rows,
        infer_schema=False,
        truncate_ragged_lines=False,
    )


def _read_csv(data: bytes, layout: FileLayout, fields: list[FieldSpec], name: str, system: str) -> pl.DataFrame:
    """UTF-8 is parsed as it is (polars checks every value is valid UTF-8, so Python need not decode
    the file); a file that is not UTF-8 is decoded as Windows-1252 when the layout allows it."""
    body = _without_blank_tail(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
    if not body or body.isspace():
        raise MappingFileError(name, "is empty")
    try:
        try:
            # polars checks the values, not the header line: that one is checked here.
            nl = body.find(b"\n")
            body[: nl if nl >= 0 else len(body)].decode("utf-8")
            frame = _parse_csv(body, layout)
        except (UnicodeDecodeError, pl.exceptions.ComputeError) as exc:
            if "utf-8" not in str(exc) or layout.encoding not in ("auto", "utf-8"):
                raise
            if layout.encoding == "utf-8":
                raise MappingFileError(name, "is not valid UTF-8 text") from None
            frame = _parse_csv(decode(body, "cp1252", name).encode("utf-8"), layout)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MappingFileError(name, f"is not a readable {layout.delimiter!r}-separated file ({first[:120]})") from None
    mapping = match_columns(frame.columns, fields, name, system)
    offset = layout.skip_rows + (2 if layout.header else 1)
    frame = frame.select([pl.col(src).alias(dst) for src, dst in mapping.items()])
    frame = frame.with_row_index(ROW, offset=offset).with_columns(pl.col(ROW).cast(pl.Int64))
    return _finish(frame, fields, name)


def _read_fixed(text: str, layout: FileLayout, fields: list[FieldSpec], name: str) -> pl.DataFrame:
    lines = pl.Series("line", text.splitlines(), dtype=pl.String)
    frame = pl.DataFrame({"line": lines}).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    frame = frame.filter(pl.col("line").str.strip_chars(" \t") != "")
    if layout.record_type:
        start = int(layout.record_type.get("start", "1")) - 1
        code = layout.record_type["detail"]
        frame = frame.filter(pl.col("line").str.slice(start, len(code)) == code)
    # A file none of whose records reaches the last required field does not have this layout; a few
    # short records are row errors (their required fields come out empty).
    needed = max(((f.start or 1) - 1 + (f.width or 0) for f in fields if f.required), default=0)
    longest = frame.select(pl.col("line").str.len_chars().max()).item() if frame.height else 0
    if frame.height and (longest or 0) < needed:
        raise MappingFileError(
            name,
            f"has records of at most {longest} characters; the fixed-width layout "
            f"needs {needed} (is this the right system?)",
        )
    frame = frame.select(
        ROW,
        *[pl.col("line").str.slice((f.start or 1) - 1, f.width).str.strip_chars(" ").alias(f.name) for f in fields],
    )
    frame = frame.with_columns(
        [pl.when(pl.col(f.name) == "").then(None).otherwise(pl.col(f.name)).alias(f.name) for f in fields]
    )
    return _finish(frame, fields, name)


def _read_xlsx(data: bytes, layout: FileLayout, fields: list[FieldSpec], name: str, system: str) -> pl.DataFrame:
    try:
        frame = pl.read_excel(io.BytesIO(data), sheet_name=layout.sheet, engine="calamine")
    except Exception as exc:
        raise MappingFileError(name, f"is not a readable XLSX workbook ({type(exc).__name__})") from None
    # Cells arrive typed (numbers, dates); the rules parse text, so render them the way a CSV would.
    frame = frame.with_columns(
        [
            pl.col(c).dt.strftime("%Y-%m-%d")
            if frame.schema[c] in (pl.Date, pl.Datetime)
            else pl.col(c).cast(pl.String)
            for c in frame.columns
        ]
    )
    mapping = match_columns(frame.columns, fields, name, system)
    frame = frame.select([pl.col(src).alias(dst) for src, dst in mapping.items()])
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    return _finish(frame.filter(~pl.all_horizontal(pl.exclude(ROW).is_null())), fields, name)


def read_source(data: bytes, system: SystemSpec, name: str | Path = "<input>") -> pl.DataFrame:
    """Read one payroll file of `system` into a frame of its catalog's fields (all text) plus ROW."""
    name = str(name)
    layout = system.file
    if layout is None:
        raise MappingFileError(name, f"{system.system} has no file layout in its catalog")
    if not data or data.isspace():
        raise MappingFileError(name, "is empty")
    if layout.format == "xlsx":
        return _read_xlsx(data, layout, system.fields, name, system.system)
    if layout.format == "fixed_width":
        return _read_fixed(decode(data, layout.encoding, name), layout, system.fields, name)
    if layout.encoding not in ("auto", "utf-8"):
        data = decode(data, layout.encoding, name).encode("utf-8")
    return _read_csv(data, layout, system.fields, name, system.system)


def read_file(path: Path, system: SystemSpec) -> pl.DataFrame:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MappingFileError(path, f"cannot be read ({exc.strerror})") from None
    return read_source(data, system, path)
