"""Where files arrive and where they are kept: a local directory by default, S3 in production.

A landing zone lists complete files only. Locally, uploads write a temporary name (a leading dot, or a
`.part`/`.tmp`/`.filepart` suffix) and rename when done, and those names are never listed; on S3 an
object exists only once its upload completed. Layout: `<tenant-slug>/<file>` for payroll files and
`<tenant-slug>/confirmations/<file>` for recordkeeper confirmations.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".filepart", ".uploading")
CONFIRMATIONS = "confirmations"


@dataclass(frozen=True)
class LandedFile:
    key: str
    tenant_folder: str | None
    name: str
    kind: str  # payroll | confirmation
    size: int
    modified: float


def _complete(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(IN_PROGRESS_SUFFIXES)


def _classify(key: str, size: int, modified: float) -> LandedFile:
    parts = key.split("/")
    if len(parts) == 1:
        return LandedFile(key, None, parts[0], "payroll", size, modified)
    kind = "confirmation" if len(parts) == 3 and parts[1] == CONFIRMATIONS else "payroll"
    return LandedFile(key, parts[0], parts[-1], kind, size, modified)


class LandingZone(Protocol):
    def list(self, limit: int) -> list[LandedFile]: ...

    def read(self, f: LandedFile) -> bytes: ...

    def remove(self, f: LandedFile) -> None: ...

    def uri(self, f: LandedFile) -> str: ...

    def quarantine(self, f: LandedFile, reason: str) -> str: ...


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes) -> str: ...

    def get(self, uri: str) -> bytes: ...


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LocalLandingZone:
    def __init__(self, root: Path, quarantine_root: Path) -> None:
        self.root = root
        self.quarantine_root = quarantine_root

    def list(self, limit: int) -> list[LandedFile]:
        if not self.root.exists():
            return []
        found = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root)
            if not path.is_file() or not all(_complete(p) for p in rel.parts) or len(rel.parts) > 3:
                continue
            stat = path.stat()
            found.append(_classify(rel.as_posix(), stat.st_size, stat.st_mtime))
        found.sort(key=lambda f: (f.modified, f.key))
        return found[:limit]

    def read(self, f: LandedFile) -> bytes:
        return (self.root / f.key).read_bytes()

    def remove(self, f: LandedFile) -> None:
        (self.root / f.key).unlink(missing_ok=True)

    def uri(self, f: LandedFile) -> str:
        return (self.root / f.key).as_uri()

    def quarantine(self, f: LandedFile, reason: str) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.quarantine_root / (f.tenant_folder or "_unknown") / f"{stamp}_{f.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / f.key, target)
        (target.parent / f"{target.name}.reason.txt").write_text(reason + "\n")
        return target.as_uri()


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> str:
        path = self.root / key
        _atomic_write(path, data)
        return path.as_uri()

    def get(self, uri: str) -> bytes:
        if not uri.startswith("file://"):
            raise ValueError(f"not a local file URI: {uri}")
        return Path(uri[len("file://") :]).read_bytes()


class S3LandingZone:
    """An S3 prefix as the inbox; `client` is a boto3 S3 client (dagster-aws's S3Resource gives one)."""

    def __init__(
        self, client: Any, bucket: str, prefix: str = "inbox/", quarantine_prefix: str = "quarantine/"
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.quarantine_prefix = quarantine_prefix

    def list(self, limit: int) -> list[LandedFile]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.prefix) :]
                if not key or not all(_complete(p) for p in key.split("/")):
                    continue
                found.append(_classify(key, int(obj["Size"]), obj["LastModified"].timestamp()))
        found.sort(key=lambda f: (f.modified, f.key))
        return found[:limit]

    def read(self, f: LandedFile) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + f.key)["Body"].read())

    def remove(self, f: LandedFile) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + f.key)

    def uri(self, f: LandedFile) -> str:
        return f"s3://{self.bucket}/{self.prefix}{f.key}"

    def quarantine(self, f: LandedFile, reason: str) -> str:
        target = f"{self.quarantine_prefix}{f.tenant_folder or '_unknown'}/{time.strftime('%Y%m%dT%H%M%S')}_{f.name}"
        self.client.copy_object(
            Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": self.prefix + f.key}
        )
        self.client.put_object(Bucket=self.bucket, Key=f"{target}.reason.txt", Body=(reason + "\n").encode())
        self.remove(f)
        return f"s3://{self.bucket}/{target}"


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def get(self, uri: str) -> bytes:
        bucket, _, key = uri[len("s3://") :].partition("/")
        return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
