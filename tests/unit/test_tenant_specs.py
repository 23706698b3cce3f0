"""Tenant files: bad configuration is a clear error naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synclinqs_pipelines.mapping.catalog import SpecCatalog
from synclinqs_pipelines.mapping.errors import SpecError

SPECS = Path(__file__).resolve().parents[2] / "mapping_specs"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    shutil.copytree(SPECS, root)
    return root


def _tenant_text(slug: str = "acme-manufacturing") -> str:
    return (SPECS / "tenants" / f"{slug}.yaml").read_text()


def test_demo_tenants_load():
    tenants = SpecCatalog(SPECS).load_tenants()
    assert sorted(tenants) == ["acme-manufacturing", "bluebird-health", "cedar-logistics"]
    assert (
        tenants["acme-manufacturing"].template,
        tenants["bluebird-health"].template,
        tenants["cedar-logistics"].template,
    ) == ("adp_to_fidelity", "paychex_to_vanguard", "gusto_to_empower")


def test_missing_field_names_file_and_key(specs):
    path = specs / "tenants" / "acme-manufacturing.yaml"
    path.write_text(_tenant_text().replace("plans:\n", "plans_typo:\n"))
    with pytest.raises(SpecError) as exc:
        SpecCatalog(specs).load_tenants()
    message = str(exc.value)
    assert f"{path}: plans: required key is missing" in message
    assert f"{path}: plans_typo: unknown key" in message


def test_unknown_system_lists_the_known_ones(specs):
    path = specs / "tenants" / "acme-manufacturing.yaml"
    path.write_text(_tenant_text().replace("system: adp_workforce_now", "system: adpp"))
    with pytest.raises(SpecError) as exc:
        SpecCatalog(specs).load_tenants()
    assert f"{path}: payroll.system: unknown system 'adpp'; known payroll systems: adp_workforce_now, gusto" in str(
        exc.value
    )


def test_duplicate_slug_names_both_files(specs):
    copy = specs / "tenants" / "acme-copy.yaml"
    copy.write_text(_tenant_text())
    with pytest.raises(SpecError) as exc:
        SpecCatalog(specs).load_tenants()
    assert f"{copy}: slug: 'acme-manufacturing' must match the file name 'acme-copy'" in str(exc.value)


def test_template_that_does_not_fit_the_systems_is_refused(specs):
    path = specs / "tenants" / "acme-manufacturing.yaml"
    path.write_text(_tenant_text().replace("template: adp_to_fidelity", "template: gusto_to_fidelity"))
    with pytest.raises(
        SpecError, match="template: 'gusto_to_fidelity' reads gusto, but payroll.system is adp_workforce_now"
    ):
        SpecCatalog(specs).load_tenants()


def test_yaml_syntax_error_names_line(specs):
    path = specs / "tenants" / "acme-manufacturing.yaml"
    path.write_text("slug: [unclosed\n")
    with pytest.raises(SpecError, match=r"not valid YAML at line 2"):
        SpecCatalog(specs).load_tenants()
