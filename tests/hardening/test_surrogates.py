"""A lone surrogate (Matrix JSON can carry "\\ud800") is stored as U+FFFD, never a crash."""

from __future__ import annotations

from handlers.messages import Address, Platform
from storage.repos.base import open_text, seal_text
from tests.handlers.test_intake import report
from tests.harness.bot import Harness

ANA = Address(Platform.MATRIX, "@ana:localhost")
KEY = bytes(32)


def test_sealing_a_lone_surrogate() -> None:
    blob = seal_text(KEY, "cases", "what", 1, "a\ud800b\U0001f600")
    assert open_text(KEY, "cases", "what", 1, blob) == "a\ufffdb\U0001f600"


async def test_a_report_with_lone_surrogates_goes_through(bot: Harness) -> None:
    ref = await report(bot, ANA, "they came \udc00 at night", "Cauca \ud800", "\udfff")
    case = await bot.db.cases.get(ref)
    assert (case.what, case.where, case.who) == (
        "they came \ufffd at night",
        "Cauca \ufffd",
        "\ufffd",
    )
