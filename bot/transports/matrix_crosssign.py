"""Self cross-signing of the bot's device (MSC4153, spec v1.18).

Since April 2026 Element refuses encrypted messages to and from devices that
their owner has not cross-signed. matrix-nio 0.26 has no cross-signing, so
this module does what Element does when it sets up a new account, with raw
API calls and ed25519 keys from ``cryptography``:

1. ``/keys/query`` for the bot's own keys;
2. without cross-signing keys on the server: create master, self-signing and
   user-signing keys, keep their seeds (encrypted at rest, through the
   ``SecretStore``, *before* uploading them so a crash cannot orphan them),
   upload them with ``/keys/device_signing/upload`` (user-interactive auth
   with the bot's password when the server asks for it);
3. sign the device's keys with the self-signing key and upload the signature
   with ``/keys/signatures/upload``. A later new device is signed the same
   way with the kept seeds;
4. keys on the server that the bot does not hold (someone set them up in
   another client): one warning, and the bot carries on unsigned.

Signing follows the spec's "Signing JSON": canonical JSON of the object
without ``signatures`` and ``unsigned``, ed25519, unpadded base64. The model
was mautrix-python's ``mautrix/crypto/cross_signing.py``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nio import AsyncClient

from bot.transports.matrix_http import MatrixApiError, api_request

log = logging.getLogger(__name__)

SEEDS_SECRET = "matrix.cross_signing_seeds"
KEYS_QUERY = "/_matrix/client/v3/keys/query"
DEVICE_SIGNING_UPLOAD = "/_matrix/client/v3/keys/device_signing/upload"
SIGNATURES_UPLOAD = "/_matrix/client/v3/keys/signatures/upload"


class SecretStore(Protocol):
    """Small secrets the bot keeps encrypted at rest (``db.bot_secrets``)."""

    async def get(self, name: str) -> bytes | None: ...

    async def put(self, name: str, value: bytes) -> None: ...

    async def delete(self, name: str) -> bool: ...


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def signable(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}


def sign_json(key: Ed25519PrivateKey, value: dict[str, Any]) -> str:
    return b64(key.sign(canonical_json(signable(value))))


def verify_json(public_key: str, value: dict[str, Any], signature: str) -> bool:
    """Check one ed25519 signature (unpadded base64 key and signature) over a JSON object."""
    try:
        Ed25519PublicKey.from_public_bytes(unb64(public_key)).verify(
            unb64(signature), canonical_json(signable(value))
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def public_of(seed: bytes) -> str:
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


@dataclass(frozen=True)
class Seeds:
    """The three 32-byte ed25519 seeds of the cross-signing keys."""

    master: bytes = field(repr=False)
    self_signing: bytes = field(repr=False)
    user_signing: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> Seeds:
        return cls(os.urandom(32), os.urandom(32), os.urandom(32))

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "master": b64(self.master),
                "self_signing": b64(self.self_signing),
                "user_signing": b64(self.user_signing),
            }
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Seeds:
        raw = json.loads(data)
        return cls(unb64(raw["master"]), unb64(raw["self_signing"]), unb64(raw["user_signing"]))

    def key(self, seed: bytes) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(seed)


class Outcome(StrEnum):
    CREATED = "created"  # new cross-signing keys uploaded, device signed
    SIGNED = "signed"  # existing keys (held by us), this device newly signed
    ALREADY = "already signed"
    FOREIGN = "foreign"  # keys on the server that the bot does not hold


def cross_signing_key(user_id: str, usage: str, public: str) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}


def only_key(value: dict[str, Any] | None) -> str | None:
    """The public key of a cross-signing key object from ``/keys/query``."""
    if not value:
        return None
    keys = list(dict(value.get("keys", {})).values())
    return str(keys[0]) if len(keys) == 1 else None


class CrossSigner:
    """Makes sure the bot's device is cross-signed by the bot's own keys."""

    def __init__(
        self,
        client: AsyncClient,
        password: str,
        secrets: SecretStore,
        sign_with_device: Callable[[dict[str, Any]], str],
    ) -> None:
        self.client = client
        self._password = password
        self.secrets = secrets
        self.sign_with_device = sign_with_device

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    async def ensure(self) -> Outcome:
        own = await self._query()
        master_on_server = only_key(own.get("master_keys", {}).get(self.user_id))
        ssk_on_server = only_key(own.get("self_signing_keys", {}).get(self.user_id))
        device = own.get("device_keys", {}).get(self.user_id, {}).get(self.device_id)
        if device is None:
            raise MatrixApiError(404, {"errcode": "SOSBOT_DEVICE_KEYS_MISSING"})
        held = await self.secrets.get(SEEDS_SECRET)
        seeds = Seeds.from_bytes(held) if held is not None else None

        if master_on_server is None:
            if seeds is None:
                seeds = Seeds.generate()
                await self.secrets.put(SEEDS_SECRET, seeds.to_bytes())
            await self._publish(seeds)
            await self._sign_device(seeds, device)
            return Outcome.CREATED

        if (
            seeds is None
            or public_of(seeds.master) != master_on_server
            or public_of(seeds.self_signing) != ssk_on_server
        ):
            log.warning(
                "the Matrix account already has cross-signing keys that this bot does not "
                "hold: its device stays unverified and Element users may be unable to "
                "exchange encrypted messages with it; reset the account's cross-signing "
                "keys (or give the bot an account of its own) and restart"
            )
            return Outcome.FOREIGN

        ssk_public = public_of(seeds.self_signing)
        signatures = device.get("signatures", {}).get(self.user_id, {})
        existing = signatures.get(f"ed25519:{ssk_public}")
        if existing and verify_json(ssk_public, device, existing):
            return Outcome.ALREADY
        await self._sign_device(seeds, device)
        return Outcome.SIGNED

    async def _query(self) -> dict[str, Any]:
        return await api_request(
            self.client, "POST", KEYS_QUERY, {"device_keys": {self.user_id: []}, "timeout": 10000}
        )

    async def _publish(self, seeds: Seeds) -> None:
        master_public = public_of(seeds.master)
        master_key = seeds.key(seeds.master)
        keys: dict[str, Any] = {
            "master_key": cross_signing_key(self.user_id, "master", master_public)
        }
        for name, usage, seed in (
            ("self_signing_key", "self_signing", seeds.self_signing),
            ("user_signing_key", "user_signing", seeds.user_signing),
        ):
            sub = cross_signing_key(self.user_id, usage, public_of(seed))
            sub["signatures"] = {
                self.user_id: {f"ed25519:{master_public}": sign_json(master_key, sub)}
            }
            keys[name] = sub
        try:
            await api_request(self.client, "POST", DEVICE_SIGNING_UPLOAD, keys)
            return
        except MatrixApiError as exc:
            if exc.status != 401 or "session" not in exc.body:
                raise
            session = str(exc.body["session"])
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": self._password,
            "session": session,
        }
        await api_request(self.client, "POST", DEVICE_SIGNING_UPLOAD, {**keys, "auth": auth})

    async def _sign_device(self, seeds: Seeds, device: dict[str, Any]) -> None:
        ssk_public = public_of(seeds.self_signing)
        signed = signable(device)
        signed["signatures"] = {
            self.user_id: {
                f"ed25519:{ssk_public}": sign_json(seeds.key(seeds.self_signing), device)
            }
        }
        # The device vouches for the master key in return, as a verified Element session does.
        master_public = public_of(seeds.master)
        master = cross_signing_key(self.user_id, "master", master_public)
        master["signatures"] = {
            self.user_id: {f"ed25519:{self.device_id}": self.sign_with_device(master)}
        }
        body = {self.user_id: {self.device_id: signed, master_public: master}}
        answer = await api_request(self.client, "POST", SIGNATURES_UPLOAD, body)
        if answer.get("failures"):
            raise MatrixApiError(400, {"errcode": "SOSBOT_SIGNATURE_REFUSED"})
