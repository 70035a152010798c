"""Master key files.

A key file holds ``base64(32 random bytes)`` and a newline, mode 0600.
``create_master_key_file`` never overwrites: losing the old key would make
every record unreadable.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Callable
from pathlib import Path

from storage.crypto import KEY_BYTES
from storage.errors import StorageError

NEW_SUFFIX = ".new"
OLD_SUFFIX = ".old"


class KeyFileError(StorageError):
    """A key file is unreadable, malformed or readable by others."""


def generate_master_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_master_key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a master key is {KEY_BYTES} bytes")
    return base64.b64encode(key) + b"\n"


def write_master_key_file(path: Path, key: bytes) -> bool:
    """Write ``key`` to a new file at ``path`` (mode 0600); False if the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, encode_master_key(key))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)  # the new name itself survives a power cut
    return True


def fsync_dir(folder: Path) -> None:
    """Make creations, renames and deletions in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_master_key_file(path: Path) -> bool:
    """Create a fresh master key file at ``path``; False (and untouched) if it exists."""
    return write_master_key_file(Path(path), generate_master_key())


def read_master_key_file(path: Path) -> bytes:
    """Read and check a key file: mode 0600 (no group/other access), 32 bytes base64."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {path} is not base64 text") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is readable by others; run chmod 600")
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"key file {path} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"key file {path} holds {len(key)} bytes, expected {KEY_BYTES}")
    return key


def key_file_loader(path: Path) -> Callable[[], list[bytes]]:
    """A ``key_loader`` for ``Database.open``: the keys in ``path``, ``path.new`` and ``path.old``.

    During ``sosbot rotate-key`` the new key sits in ``<key_file>.new`` and
    afterwards the old one in ``<key_file>.old``; a running bot that meets a
    data key wrapped by a key it does not hold calls this and carries on.
    Missing files are skipped.
    """
    path = Path(path)

    def load() -> list[bytes]:
        keys = []
        for candidate in (path, sibling(path, NEW_SUFFIX), sibling(path, OLD_SUFFIX)):
            if candidate.exists():
                keys.append(read_master_key_file(candidate))
        return keys

    return load


def sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
