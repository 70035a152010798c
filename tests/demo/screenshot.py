"""Regenerate docs/demo.png: the page mid-flow (``python -m tests.demo.screenshot``).

A defender reports in Arabic, right to left; an advisor acknowledges the
case card by replying to it; two advisors draft, approve and send an
appeal; each member group gets it in its language and signs.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from bot.demo import Demo
from tests.demo.browser import launch_browser, open_page
from tests.demo.constants import START
from tests.demo.flows import ack_by_reply, appeal, card, report, sign
from tests.demo.test_browser_appeal import TEXTS
from tests.demo.test_browser_flows import REPORTS


async def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        demo = await Demo.build(port=0, data=Path(folder), start=START)
        await demo.start()
        try:
            async with launch_browser() as browser, open_page(browser, demo, 1440, 960) as page:
                ref = await report(page, REPORTS["ar"])
                await card(page, ref)
                await ack_by_reply(page, ref)
                appeal_ref = await appeal(page, ref, TEXTS, "2026-03-20")
                await sign(page, "group-1", "member-1", appeal_ref, "en")
                await sign(page, "group-2", "member-2", appeal_ref, "ar")
                await page.be("triage", "advisor-1")
                await page.say("triage", f"/appeal status {appeal_ref}")
                await page.expect_bot_any("triage", "2 signatures")
                await page.page.screenshot(path=str(target))
        finally:
            await demo.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/demo.png")))
