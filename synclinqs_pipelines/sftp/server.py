"""`synclinqs sftp serve`: the SFTP endpoint payroll providers drop files into.

Each tenant has one account (keys and/or a scrypt password hash from its tenant file and the
environment) and sees only its own inbox folder. An upload is written under a hidden temporary name and
renamed to its real name only when the client closes the file cleanly; a dropped connection removes the
partial file, so the landing sensor never sees half a file. Failed logins lock an account for a while;
logins, uploads and refusals go to the audit log, never a file's contents.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

LOCK_AFTER_FAILURES = 5
LOCK_SECONDS = 15 * 60


def hash_password(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """A scrypt hash for a tenant's SFTP password: put it in the env var the tenant file names."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass
class Account:
    tenant: str
    username: str
    root: Path
    max_file_bytes: int
    password_hash: str | None = None
    authorized_keys: list[asyncssh.SSHKey] = field(default_factory=list)


AuditFn = Callable[[str, str | None, dict[str, object]], None]


class LockoutBook:
    """Failed logins per username; too many in a row lock the account for LOCK_SECONDS."""

    def __init__(self, threshold: int = LOCK_AFTER_FAILURES, seconds: float = LOCK_SECONDS) -> None:
        self.threshold, self.seconds = threshold, seconds
        self.failures: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}

    def locked(self, username: str) -> bool:
        return self.locked_until.get(username, 0) > time.monotonic()

    def failed(self, username: str) -> bool:
        """Record a failure; True when it locks the account."""
        self.failures[username] = self.failures.get(username, 0) + 1
        if self.failures[username] >= self.threshold:
            self.locked_until[username] = time.monotonic() + self.seconds
            self.failures[username] = 0
            return True
        return False

    def succeeded(self, username: str) -> None:
        self.failures.pop(username, None)


class _Upload:
    def __init__(self, final: Path, partial: Path, limit: int) -> None:
        self.final, self.partial, self.limit = final, partial, limit
        self.handle = open(partial, "wb")  # noqa: SIM115 - closed in close() or exit()
        self.size = 0
        self.failed = False


class TenantSFTPServer(asyncssh.SFTPServer):  # type: ignore[misc]
    """SFTP confined to one tenant's folder, with atomic uploads."""

    def __init__(self, chan: asyncssh.SSHServerChannel, account: Account, audit: AuditFn) -> None:
        account.root.mkdir(parents=True, exist_ok=True)
        super().__init__(chan, chroot=str(account.root).encode())
        self.account = account
        self.audit = audit
        self.uploads: set[_Upload] = set()

    def _inside(self, local: bytes) -> Path:
        """The local path, refused unless it resolves inside the tenant's folder (no symlink escapes)."""
        resolved = Path(os.path.realpath(local.decode()))
        root = Path(os.path.realpath(self.account.root))
        if resolved != root and root not in resolved.parents:
            self.audit("sftp_refused", self.account.tenant, {"reason": "path outside the tenant folder"})
            raise asyncssh.SFTPPermissionDenied("outside your folder")
        return resolved

    def map_path(self, path: bytes) -> bytes:
        local = super().map_path(path)
        self._inside(local)
        return local  # type: ignore[no-any-return]

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        target = self._inside(self.map_path(path))
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_APPEND):
            if target.name.startswith(".") or target.name.endswith((".part", ".tmp", ".filepart")):
                raise asyncssh.SFTPPermissionDenied("names starting with '.' or ending in .part/.tmp are reserved")
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            upload = _Upload(target, partial, self.account.max_file_bytes)
            self.uploads.add(upload)
            return upload
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if not isinstance(file_obj, _Upload):
            return super().write(file_obj, offset, data)  # type: ignore[no-any-return]
        if offset + len(data) > file_obj.limit:
            file_obj.failed = True
            self.audit(
                "sftp_refused",
                self.account.tenant,
                {"reason": "file larger than the tenant's limit", "limit_bytes": file_obj.limit},
            )
            raise asyncssh.SFTPFailure(f"file exceeds the {file_obj.limit} byte limit for this account")
        file_obj.handle.seek(offset)
        file_obj.handle.write(data)
        file_obj.size = max(file_obj.size, offset + len(data))
        return len(data)

    def close(self, file_obj: object) -> None:
        if not isinstance(file_obj, _Upload):
            super().close(file_obj)
            return
        self.uploads.discard(file_obj)
        file_obj.handle.flush()
        os.fsync(file_obj.handle.fileno())
        file_obj.handle.close()
        # asyncssh also calls close() for every open file when a connection dies; only a close the client
        # asked for, on a live channel, completes an upload.
        if file_obj.failed or self.channel.is_closing():
            file_obj.partial.unlink(missing_ok=True)
            if not file_obj.failed:
                self.audit("sftp_upload_aborted", self.account.tenant, {"file_name": file_obj.final.name})
            return
        os.replace(file_obj.partial, file_obj.final)
        self.audit("sftp_upload", self.account.tenant, {"file_name": file_obj.final.name, "bytes": file_obj.size})

    def exit(self) -> None:
        # The client went away: whatever was not closed cleanly is not a file.
        for upload in list(self.uploads):
            upload.handle.close()
            upload.partial.unlink(missing_ok=True)
            self.audit("sftp_upload_aborted", self.account.tenant, {"file_name": upload.final.name})
        self.uploads.clear()
        super().exit()

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        self.audit("sftp_refused", self.account.tenant, {"reason": "symlink"})
        raise asyncssh.SFTPPermissionDenied("symbolic links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        new = self._inside(self.map_path(newpath))
        if new.name.startswith("."):
            raise asyncssh.SFTPPermissionDenied("names starting with '.' are reserved")
        super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.rename(oldpath, newpath)


class _Server(asyncssh.SSHServer):  # type: ignore[misc]
    def __init__(self, accounts: dict[str, Account], lockouts: LockoutBook, audit: AuditFn) -> None:
        self.accounts, self.lockouts, self.audit = accounts, lockouts, audit
        self.username: str | None = None

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True

    def _refuse(self, username: str, how: str) -> None:
        account = self.accounts.get(username)
        locked = self.lockouts.failed(username)
        self.audit(
            "sftp_login_failed",
            account.tenant if account else None,
            {"username": username, "method": how, "locked": locked},
        )

    def _accept(self, username: str, how: str) -> bool:
        self.lockouts.succeeded(username)
        self.audit("sftp_login", self.accounts[username].tenant, {"username": username, "method": how})
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        account = self.accounts.get(username)
        if self.lockouts.locked(username):
            self.audit("sftp_login_locked", account.tenant if account else None, {"username": username})
            return False
        if account and account.password_hash and check_password(password, account.password_hash):
            return self._accept(username, "password")
        self._refuse(username, "password")
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        account = self.accounts.get(username)
        if self.lockouts.locked(username):
            self.audit("sftp_login_locked", account.tenant if account else None, {"username": username})
            return False
        known = account is not None and any(key.public_data == k.public_data for k in account.authorized_keys)
        if known:
            return self._accept(username, "publickey")
        self._refuse(username, "publickey")
        return False


def host_key(path: Path) -> asyncssh.SSHKey:
    """The server's host key, created on first use (mode 0600, outside git)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        os.chmod(path, 0o600)
    return asyncssh.read_private_key(str(path))


async def start_server(
    accounts: dict[str, Account],
    *,
    host: str,
    port: int,
    host_key_path: Path,
    audit: AuditFn,
    lockouts: LockoutBook | None = None,
) -> Any:
    book = lockouts or LockoutBook()
    by_user = {a.username: a for a in accounts.values()}

    def sftp_factory(chan: asyncssh.SSHServerChannel) -> TenantSFTPServer:
        username = chan.get_extra_info("username")
        return TenantSFTPServer(chan, by_user[username], audit)

    return await asyncssh.create_server(
        lambda: _Server(by_user, book, audit),
        host,
        port,
        server_host_keys=[host_key(host_key_path)],
        sftp_factory=sftp_factory,
        allow_scp=False,
        process_factory=None,
        login_timeout=30,
    )


def accounts_from_tenants(tenants: dict[str, Any], inbox: Path) -> dict[str, Account]:
    """One account per tenant with an `sftp_inbound` section; secrets come from the environment."""
    accounts = {}
    for slug, spec in tenants.items():
        inbound = spec.sftp_inbound
        if inbound is None or not spec.active:
            continue
        password_hash = os.environ.get(inbound.password_hash_env) if inbound.password_hash_env else None
        keys = [asyncssh.import_public_key(line) for line in inbound.authorized_keys]
        if not password_hash and not keys:
            continue
        accounts[slug] = Account(
            slug, inbound.username or slug, inbox / slug, inbound.max_file_bytes, password_hash, keys
        )
    return accounts


def serve_forever(accounts: dict[str, Account], host: str, port: int, host_key_path: Path, audit: AuditFn) -> None:
    async def main() -> None:
        server = await start_server(accounts, host=host, port=port, host_key_path=host_key_path, audit=audit)
        try:
            await asyncio.Event().wait()
        finally:
            server.close()

    try:
        asyncio.run(main())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"port {port} is in use; set SYNCLINQS_SFTP_PORT to another port") from None
        raise
