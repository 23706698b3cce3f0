"""dbt, run by dagster-dbt as the transformer role."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from synclinqs_pipelines.settings import get_settings

# The dbt installed beside this Python: the run worker's PATH need not include the virtualenv.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
DBT_PROJECT = DbtProject(project_dir=get_settings().dbt_project_dir, profiles_dir=get_settings().dbt_project_dir)


def manifest_is_stale() -> bool:
    manifest = DBT_PROJECT.manifest_path
    if not manifest.exists():
        return True
    sources = [
        p
        for p in Path(DBT_PROJECT.project_dir).rglob("*")
        if p.suffix in {".sql", ".yml", ".yaml", ".csv"} and "target" not in p.parts
    ]
    return max((p.stat().st_mtime for p in sources), default=0) > manifest.stat().st_mtime


def parse_dbt_project() -> None:
    """Write target/manifest.json (`dbt parse` needs no database connection).

    Several processes load the definitions at once under `dagster dev` (webserver, daemon, run workers):
    each parses into a directory of its own and moves the manifest into place with one rename, so no
    process ever reads a half-written manifest.
    """
    scratch = Path(DBT_PROJECT.project_dir) / "target" / f"parse-{os.getpid()}"
    subprocess.run(
        [
            DBT_EXECUTABLE,
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT.project_dir),
            "--profiles-dir",
            str(DBT_PROJECT.profiles_dir),
            "--target-path",
            str(scratch),
        ],
        check=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
        stdout=subprocess.DEVNULL,
    )
    os.replace(scratch / "manifest.json", DBT_PROJECT.manifest_path)
    shutil.rmtree(scratch, ignore_errors=True)


if manifest_is_stale():
    parse_dbt_project()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE)})
