"""The `[monitoring] listen` endpoint scraped from a running `sosbot run`
(issue 18, item 6): the figures are there, and no content or id is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.deployment import TOKEN, Deployment, initialised, report
from tests.servers.net import free_port

ALLOWED_LABELS = {
    "platform": {"telegram", "matrix"},
    "outcome": {"handled", "failed"},
    "urgency": {"immediate", "days", "weeks"},
}


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    port = free_port()
    async with initialised(
        tmp_path,
        "sqlite+aiosqlite:///data/sosbot.db",
        extra=f'[monitoring]\nlisten = "127.0.0.1:{port}"',
    ) as dep:
        yield dep


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_and_health_hold_figures_and_no_content(deployment: Deployment) -> None:
    dep = deployment
    port = dep.extra.rsplit(":", 1)[1].strip('"')
    bot = await dep.run("a")
    await bot.wait_for_line("telegram transport started", 60)
    await dep.server.wait_until_polling(timeout=30)
    defender = dep.server.new_user("Defender Name", language_code="en")
    await report(dep.server, defender, first_half=True)
    receipt = await report(dep.server, defender, first_half=False)

    status, text = await get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    handled = samples[("sosbot_updates_total", (("outcome", "handled"), ("platform", "telegram")))]
    # Nine messages and presses; the last turn may still be finishing after its receipt.
    assert handled >= 8
    assert samples[("sosbot_turn_seconds_count", (("platform", "telegram"),))] >= handled
    assert ("sosbot_outbox_depth", (("platform", "telegram"),)) in samples
    assert ("sosbot_outbox_oldest_age_seconds", (("platform", "telegram"),)) in samples
    assert samples[("sosbot_undelivered_case_cards", ())] == 0  # the card reached triage
    assert samples[("sosbot_oldest_unacknowledged_case_age_seconds", (("urgency", "days"),))] > 0
    assert (
        samples[("sosbot_oldest_unacknowledged_case_age_seconds", (("urgency", "immediate"),))] == 0
    )
    assert samples[("sosbot_last_receive_timestamp_seconds", (("platform", "telegram"),))] > 0
    # No check-in was set up: counted from storage, none missed, none active.
    assert samples[("sosbot_checkins_missed_total", ())] == 0
    assert samples[("sosbot_checkins_active", ())] == 0
    assert samples[("sosbot_checkins_missed_unanswered", ())] == 0

    # Labels are drawn from a closed vocabulary; nothing of the report, nobody's id.
    for (_name, labels), _value in samples.items():
        for key, value in labels:
            if key != "le":
                assert value in ALLOWED_LABELS[key], (key, value)
    for secret in (
        "Armed men", "Cauca", "Ana and the collective", "Defender Name",
        str(defender.id), str(dep.triage.id), TOKEN, receipt.split("reference is ")[1][:8],
    ):  # fmt: skip
        assert secret not in text

    status, body = await get(f"http://127.0.0.1:{port}/healthz")
    assert (status, body) == (200, "ok\n")
    assert await bot.terminate() == 0
