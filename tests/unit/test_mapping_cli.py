"""`synclinqs mapping ...`: list, validate, diff, schema and the dry run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from synclinqs_pipelines.cli import main
from synclinqs_pipelines.demo.generate import DEMO_TENANTS, demo_files
from synclinqs_pipelines.settings import reset_settings_cache

SPECS = Path(__file__).resolve().parents[2] / "mapping_specs"


@pytest.fixture
def acme_file(tmp_path: Path) -> Path:
    name, data = list(demo_files(DEMO_TENANTS[0]).items())[2]
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_dry_run_writes_output_and_errors_and_exits_zero_with_rejected_rows(acme_file, tmp_path):
    out, errors = tmp_path / "out.csv", tmp_path / "errors.csv"
    result = CliRunner().invoke(
        main,
        [
            "mapping",
            "test",
            "--template",
            "adp_to_fidelity",
            "--input",
            str(acme_file),
            "--output",
            str(out),
            "--errors",
            str(errors),
            "--tenant",
            "acme-manufacturing",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rows in: 300" in result.output and "rows out: 296" in result.output
    assert "INVALID_DATE=1, INVALID_SSN=1, REQUIRED_FIELD_MISSING=1, TOO_MANY_DECIMALS=1" in result.output
    with errors.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["row", "field", "code", "message"]
    assert [(r["row"], r["field"], r["code"]) for r in rows] == [
        ("70", "Roth 401K", "TOO_MANY_DECIMALS"),
        ("118", "Last Name", "REQUIRED_FIELD_MISSING"),
        ("203", "Birth Date", "INVALID_DATE"),
        ("241", "Tax ID", "INVALID_SSN"),
    ]
    lines = out.read_text().splitlines()
    assert lines[0].startswith("H,12345,02/06/2026,") and lines[-1].startswith("T,296,")
    assert len(lines) == 296 + 3
    # The summary shows a preview, with personal data masked.
    ssns = {line.split(",")[1] for line in lines[2:-1]}
    assert not any(s in result.output for s in ssns)
    assert "•••" in result.output


def test_dry_run_whole_file_error_exits_non_zero(acme_file, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "mapping",
            "test",
            "--template",
            "gusto_to_relius",
            "--input",
            str(acme_file),
            "--output",
            str(tmp_path / "o"),
            "--errors",
            str(tmp_path / "e"),
        ],
    )
    assert result.exit_code == 2
    assert "missing required column(s) 'employee_id', 'ssn'" in result.output
    assert not (tmp_path / "o").exists()


def test_list_shows_systems_and_hub_templates():
    result = CliRunner().invoke(main, ["mapping", "list"])
    assert result.exit_code == 0
    assert "adp_to_fidelity (pair file)" in result.output and "gusto_to_relius" in result.output
    assert "ascensus             recordkeeper  csv          verified" in result.output


def _isolated_specs(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "specs"
    shutil.copytree(SPECS, root)
    monkeypatch.setenv("SYNCLINQS_SPECS_DIR", str(root))
    reset_settings_cache()
    return root


def test_formula_with_unknown_field_is_refused_when_the_spec_loads(tmp_path, monkeypatch):
    root = _isolated_specs(tmp_path, monkeypatch)
    path = root / "templates" / "canonical_to_ascensus.yaml"
    path.write_text(path.read_text().replace("coalesce(pretax_cents, 0)", "coalesce(pretax_centz, 0)"))
    try:
        result = CliRunner().invoke(main, ["mapping", "validate", str(path)])
    finally:
        reset_settings_cache()
    assert result.exit_code == 1
    assert "canonical_to_ascensus.rules.employee_401k.formula" in result.output
    assert "refers to unknown field(s) pretax_centz" in result.output


def test_validate_reports_file_and_path_of_a_bad_rule(tmp_path, monkeypatch):
    root = _isolated_specs(tmp_path, monkeypatch)
    path = root / "templates" / "adp_to_canonical.yaml"
    path.write_text(
        path.read_text().replace(
            "transforms: [trim_whitespace, remove_dashes, validate_ssn]", "transforms: [trim_whitespace, remove_dashs]"
        )
    )
    try:
        result = CliRunner().invoke(main, ["mapping", "validate"])
    finally:
        reset_settings_cache()
    assert result.exit_code == 1
    assert "adp_to_canonical.rules.ssn.transforms[1]: unknown transform 'remove_dashs'" in result.output


def test_diff_lists_changes_field_by_field(tmp_path):
    old = SPECS / "systems" / "fidelity.yaml"
    new = tmp_path / "systems" / "fidelity.yaml"
    new.parent.mkdir()
    new.write_text(
        old.read_text()
        .replace("column: EE ROTH,", "column: EE ROTH 401K,")
        .replace("  - {name: qmac, column: QMAC, type: money, sources: [QMAC]}\n", "")
    )
    result = CliRunner().invoke(main, ["mapping", "diff", str(old), str(new)])
    assert result.exit_code == 0
    assert '~ fields.ee_roth.column: "EE ROTH" -> "EE ROTH 401K"' in result.output
    assert "- fields.qmac:" in result.output


def test_checked_in_json_schemas_match_the_models():
    result = CliRunner().invoke(main, ["mapping", "schema", "--check"])
    assert result.exit_code == 0, result.output


def test_every_recordkeeper_has_a_confirmation_layout_covering_what_it_exports():
    from synclinqs_pipelines.mapping.catalog import SpecCatalog

    catalog = SpecCatalog(SPECS)
    for name in catalog.known_systems("recordkeeper"):
        system = catalog.systems[name]
        assert system.confirmation is not None, name
        confirmed = set(system.confirmation.source_map.values())
        # A combined column (say pre-tax plus catch-up) is confirmed under its first source code.
        exported_first = {f.sources[0] for f in system.fields if f.sources}
        assert exported_first <= confirmed, (name, exported_first - confirmed)
