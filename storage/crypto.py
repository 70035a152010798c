"""Envelope encryption primitives (no database access here).

- Every secret field is sealed with AES-256-GCM under a *data key*; the
  associated data names the table, the field and the record id, so a
  ciphertext copied to another row or field fails to open.
- Data keys are random 256-bit keys, *wrapped* (AES-256-GCM) by a key derived
  from a master key. The wrapped form records the master key's id, which is
  a one-way fingerprint of the key, never the key itself.
- Lookups by platform address use HMAC-SHA256 under keys derived (HKDF) from
  the database's *index secret*, a random secret that is itself stored
  wrapped by the master key. Deriving the lookup keys from that secret
  rather than straight from the master key keeps every keyed hash (and the
  audit chain, which covers actor pseudonyms) stable across a master key
  rotation, which then only has to re-wrap keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.errors import DecryptionError, UnknownMasterKey

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"
_DOMAIN = b"sosbot/v1"


def random_key() -> bytes:
    return os.urandom(KEY_BYTES)


def derive(secret: bytes, purpose: str, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 of ``secret`` for one named purpose (domain separation)."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=_DOMAIN + b"/" + purpose.encode()
    )
    return hkdf.derive(secret)


def associated_data(table: str, field: str, record_id: int | str) -> bytes:
    """What a ciphertext is bound to: its table, its field and its record."""
    return b"|".join((_DOMAIN, table.encode(), field.encode(), str(record_id).encode()))


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt: format byte, 96-bit random nonce, ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt what ``seal`` produced with the same key and associated data."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise DecryptionError("not a sosbot ciphertext (truncated or unknown format)")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise DecryptionError(
            "a ciphertext did not authenticate (altered, moved to another record, or wrong key)"
        ) from None


def master_key_id(master_key: bytes) -> str:
    """A public fingerprint of a master key (16 hex digits); reveals nothing of the key."""
    return derive(master_key, "master-key-id", 8).hex()


def _check_master_key(master_key: bytes) -> None:
    if not isinstance(master_key, bytes) or len(master_key) != KEY_BYTES:
        raise ValueError(f"a master key is {KEY_BYTES} bytes")


class Keyring:
    """The master keys this process holds, by key id.

    Which key wraps *new* data keys is decided by the database (the
    ``keyring`` row), not here, so that every process follows a rotation.
    """

    def __init__(self, master_keys: Iterable[bytes] = ()) -> None:
        self._wrapping: dict[str, bytes] = {}
        self.add(master_keys)

    def add(self, master_keys: Iterable[bytes]) -> list[str]:
        """Add keys; return the ids that were new."""
        added = []
        for key in master_keys:
            _check_master_key(key)
            key_id = master_key_id(key)
            if key_id not in self._wrapping:
                self._wrapping[key_id] = derive(key, "wrap-data-key")
                added.append(key_id)
        return added

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._wrapping

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._wrapping)

    def wrap(self, key_id: str, data_key: bytes, data_key_id: int) -> bytes:
        return seal(self._wrapper(key_id), data_key, _wrap_aad(key_id, data_key_id))

    def unwrap(self, key_id: str, wrapped: bytes, data_key_id: int) -> bytes:
        try:
            return unseal(self._wrapper(key_id), wrapped, _wrap_aad(key_id, data_key_id))
        except UnknownMasterKey:
            raise
        except DecryptionError:
            raise DecryptionError(
                f"data key {data_key_id} did not unwrap under master key {key_id} "
                "(altered or moved)"
            ) from None

    def _wrapper(self, key_id: str) -> bytes:
        try:
            return self._wrapping[key_id]
        except KeyError:
            raise UnknownMasterKey(key_id) from None


def _wrap_aad(key_id: str, data_key_id: int) -> bytes:
    return associated_data("data_keys", "wrapped:" + key_id, data_key_id)


class IndexKeys:
    """Keys derived from the database's index secret: lookups, pseudonyms, audit, tokens."""

    def __init__(self, index_secret: bytes) -> None:
        self._address = derive(index_secret, "address-lookup")
        self._actor = derive(index_secret, "actor-pseudonym")
        self._audit = derive(index_secret, "audit-chain")
        self.system_key = derive(index_secret, "system-records")
        """AES key for small records that need no key of their own (tokens, audit details)."""

    def address_hash(self, address: str) -> str:
        """Lookup hash of a platform address ("telegram:123"), stable for the database's life."""
        return hmac.new(self._address, address.encode(), hashlib.sha256).hexdigest()

    def name_hash(self, kind: str, name: str) -> str:
        """Lookup hash of a normalised name (e.g. an organisation's), per kind."""
        normal = " ".join(name.casefold().split())
        return hmac.new(self._address, f"{kind}\0{normal}".encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, address: str) -> str:
        """The audit log's name for an actor: not the account hash, not reversible."""
        return hmac.new(self._actor, address.encode(), hashlib.sha256).hexdigest()[:32]

    def audit_mac(self, message: bytes) -> str:
        return hmac.new(self._audit, message, hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """Tokens are 192-bit random values: an unkeyed hash is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()
