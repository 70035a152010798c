"""Helpers of the casework tests."""

from __future__ import annotations

from handlers.messages import Address
from tests.handlers.test_intake import full_report
from tests.harness.bot import Harness


async def report(bot: Harness, who: Address, consent: str = "public_anonymised") -> str:
    """A whole report in English through the defender's conversation; its reference."""
    return await full_report(bot, who, "en", consent)
