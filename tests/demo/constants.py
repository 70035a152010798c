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
