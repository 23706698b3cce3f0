"""Where SyncLinqs keeps its state, read once from the environment.

Every path and connection choice (embedded or external PostgreSQL, local inbox or S3, key file or KMS) is
made here, so the rest of the code asks `get_settings()` and never reads `os.environ` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    project_root: Path
    state_dir: Path
    specs_dir: Path
    pgdata: Path
    database_url: str | None
    key_provider: str
    key_file: Path
    kms_key_id: str | None
    aws_endpoint_url: str | None
    landing_backend: str
    s3_bucket: str | None
    inbox: Path
    outbox: Path
    archive: Path
    quarantine: Path
    dagster_home: Path
    dbt_project_dir: Path
    sftp_root: Path
    sftp_host_key: Path
    sftp_port: int
    storage: Path
    export_file_date: str | None

    @property
    def embedded(self) -> bool:
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    root = _path("SYNCLINQS_PROJECT_ROOT", PROJECT_ROOT)
    state = _path("SYNCLINQS_STATE_DIR", root / ".synclinqs")
    return Settings(
        project_root=root,
        state_dir=state,
        specs_dir=_path("SYNCLINQS_SPECS_DIR", root / "mapping_specs"),
        pgdata=_path("SYNCLINQS_PGDATA", state / "pgdata"),
        database_url=os.environ.get("SYNCLINQS_DATABASE_URL") or None,
        key_provider=os.environ.get("SYNCLINQS_KEY_PROVIDER", "local"),
        key_file=_path("SYNCLINQS_KEY_FILE", state / "keys" / "kek.key"),
        kms_key_id=os.environ.get("SYNCLINQS_KMS_KEY_ID") or None,
        aws_endpoint_url=os.environ.get("SYNCLINQS_AWS_ENDPOINT_URL") or None,
        landing_backend=os.environ.get("SYNCLINQS_LANDING", "local"),
        s3_bucket=os.environ.get("SYNCLINQS_S3_BUCKET") or None,
        inbox=_path("SYNCLINQS_INBOX", state / "inbox"),
        outbox=_path("SYNCLINQS_OUTBOX", state / "outbox"),
        archive=_path("SYNCLINQS_ARCHIVE", state / "archive"),
        quarantine=_path("SYNCLINQS_QUARANTINE", state / "quarantine"),
        dagster_home=_path("DAGSTER_HOME", root / ".dagster_home"),
        dbt_project_dir=_path("SYNCLINQS_DBT_PROJECT_DIR", root / "dbt_project"),
        sftp_root=_path("SYNCLINQS_SFTP_ROOT", state / "inbox"),
        sftp_host_key=_path("SYNCLINQS_SFTP_HOST_KEY", state / "keys" / "sftp_host_ed25519"),
        sftp_port=int(os.environ.get("SYNCLINQS_SFTP_PORT", "2222")),
        storage=_path("SYNCLINQS_STORAGE", state / "storage"),
        # Fixes the file date written in export headers (tests compare exports byte for byte).
        export_file_date=os.environ.get("SYNCLINQS_EXPORT_FILE_DATE") or None,
    )


def reset_settings_cache() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
