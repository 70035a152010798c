"""Fixtures for the Matrix transport tests (real Synapse, real nio clients)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.matrix.peers import BotKit, localpart
from tests.servers.synapse import SynapseServer


async def _bot_kit(server: SynapseServer, tmp_path: Path) -> BotKit:
    password = uuid.uuid4().hex
    user_id, _token, _device = await asyncio.to_thread(
        server.register_user, localpart("sosbot"), password
    )
    return BotKit(server, user_id, password, tmp_path / "matrix-store")


@pytest.fixture
async def kit(synapse_server: SynapseServer, tmp_path: Path) -> AsyncIterator[BotKit]:
    """A bot account on the session Synapse; transports and people are closed after."""
    bot_kit = await _bot_kit(synapse_server, tmp_path)
    try:
        yield bot_kit
    finally:
        await bot_kit.close()


@pytest.fixture
async def limited_kit(
    synapse_server_rate_limited: SynapseServer, tmp_path: Path
) -> AsyncIterator[BotKit]:
    """The same on the Synapse whose rc_message lets two messages through, then 429."""
    bot_kit = await _bot_kit(synapse_server_rate_limited, tmp_path)
    try:
        yield bot_kit
    finally:
        await bot_kit.close()
