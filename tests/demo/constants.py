"""What the demo tests share, without Playwright (so it imports anywhere)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, far from the 08:00 digest
CASE_REF = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{6}")
APPEAL_REF = re.compile(r"A-[0-9A-HJKMNP-TV-Z]{6}")


def ref_in(text: str, pattern: re.Pattern[str]) -> str:
    """The first reference of ``pattern`` (a case, appeal, referral…) in a bot's
    message; the test fails if there is none."""
    found = pattern.search(text)
    assert found is not None, f"no {pattern.pattern} in {text!r}"
    return found.group()
