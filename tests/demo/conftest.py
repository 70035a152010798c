"""The demo in a real browser: Playwright driving Debian's chromium.

No browser is ever downloaded: ``scripts/setup dev`` installs ``chromium``
with apt, and the tests launch ``/usr/bin/chromium``. A missing browser or
Playwright skips these tests on a developer's machine and fails them in CI
(``CI=true``), which never goes green by skipping.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test

from bot.demo import Demo
from tests.demo.constants import CHROMIUM, START
from tests.servers.fixtures import component_missing, in_ci

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from tests.demo.browser import DemoPage

if importlib.util.find_spec("playwright") is None and not in_ci():
    # They cannot even be imported; test_setup.py reports the skip.
    collect_ignore_glob = ["test_browser_*.py"]


def require_browser() -> None:
    if importlib.util.find_spec("playwright") is None:
        component_missing("Playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        component_missing(f"{CHROMIUM} is missing (scripts/setup dev installs it with apt)")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This folder's tests share one event loop, so they share one browser (a second saved
    per test); each test still gets its own demo app and browser context."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and is_async_test(item):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
            # pytest-xdist (--dist loadgroup): one worker, so one browser a run
            # (once pytest-xdist issue #1386 is fixed; see tests/servers/fixtures.py).
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    from tests.demo.browser import launch_browser

    async with launch_browser() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="session")
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    """The demo app as ``sosbot demo`` builds it, on a free port, at a fixed demo time."""
    demo = await Demo.build(port=0, data=tmp_path / "demo", start=START)
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, demo: Demo) -> AsyncIterator[DemoPage]:
    from tests.demo.browser import open_page

    async with open_page(browser, demo) as opened:
        yield opened
