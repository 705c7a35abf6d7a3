"""Secrets at rest: Fernet encryption with a key file ``PFL_HOME/.encryption_key`` (mode 0600).

No OS keyring: the key lives next to the store, readable only by its owner. It is created once,
atomically (written to a private temp file, then hard-linked into place), so processes racing to
create it all end up using the same key. ``cryptography`` is imported only when a key is needed.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from promptflow_lite.connections._errors import EncryptionKeyError


class KeyMismatch(Exception):
    """A secret cannot be decrypted with the current key (the key file changed)."""


class SecretCipher:
    """Encrypts and decrypts secret values with the key in ``key_file`` (created on first use)."""

    def __init__(self, key_file: Path):
        self.key_file = Path(key_file)
        self._fernet = None

    def encrypt(self, value: str) -> str:
        return self._cipher().encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise KeyMismatch(str(self.key_file)) from None

    def _cipher(self):
        if self._fernet is None:
            from cryptography.fernet import Fernet

            key = read_or_create_key(self.key_file)
            try:
                self._fernet = Fernet(key)
            except ValueError:
                raise EncryptionKeyError(
                    f"The key file {self.key_file} does not hold a valid encryption key.",
                    hint="restore the file from a backup; or delete it and re-create your connections "
                         "(their stored secrets cannot be read without the original key).") from None
        return self._fernet


def read_or_create_key(path: Path, *, wait_seconds: float = 2.0) -> bytes:
    """The key in ``path``, creating the file (mode 0600) with a new key if it does not exist."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            _create_key(path)
            continue
        if key or time.monotonic() > deadline:
            return key
        time.sleep(0.02)  # another process created the file and is still writing it (no-link fallback)


def _create_key(path: Path) -> None:
    """Write a new key to ``path`` unless another process got there first."""
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    _write_private(temp, key)
    try:
        os.link(temp, path)  # atomic, never replaces an existing key
    except FileExistsError:
        pass
    except OSError:  # no hard links on this file system: exclusive create instead
        try:
            _write_private(path, key)
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
