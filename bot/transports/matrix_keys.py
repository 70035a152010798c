"""The key traffic matrix-nio's ``sync_forever`` runs after every sync.

For code that calls ``sync`` by hand (the ``discover-matrix`` helper and the
tests' Matrix peers): without it no device keys are published, no room keys
are sent, and nothing encrypted can be read. The transport runs its own
variant (``MatrixTransport._housekeeping``): it checks cross-signing instead
of a plain key query and logs failures instead of raising them.
"""

from __future__ import annotations

from nio import AsyncClient


async def exchange_keys(client: AsyncClient) -> None:
    """Send queued to-device messages, then upload, query and claim keys as nio asks."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
