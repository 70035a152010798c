"""Errors raised by the storage layer.

Handlers catch these and translate them into what the person sees. Messages
never contain report content, names, addresses or keys.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error storage raises on purpose."""


class NotFound(StorageError):
    """The record does not exist (or is not visible to the caller)."""


class Conflict(StorageError):
    """A uniqueness rule or a state rule refused the change (e.g. a duplicate reference)."""


class SchemaError(StorageError):
    """The database schema is not the one this code expects."""


class SchemaTooNew(SchemaError):
    """The database was migrated by a newer version of sosbot."""


class SchemaNotCurrent(SchemaError):
    """The database is empty or behind the code: run the migrations first."""


class DecryptionError(StorageError):
    """A ciphertext or wrapped key did not authenticate.

    Either the wrong master key is in use, or the stored bytes were altered
    or moved to another record or field.
    """


class UnknownMasterKey(DecryptionError):
    """A data key is wrapped by a master key this process does not hold."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"a data key is wrapped by master key {key_id}, which this process does not hold; "
            "start with that key (or the key it was rotated to)"
        )
        self.key_id = key_id


class WrongMasterKey(DecryptionError):
    """None of the master keys given opens this database."""


class RotationPending(StorageError):
    """The database wraps new keys under a master key this process does not hold.

    A key rotation began and this process has only the old key: it may
    still read, but refuses to write rather than create records under a
    key about to be retired. Restart it with the new key file.
    """
