"""The browser tests can run: Playwright and Debian's chromium are installed.

On a developer's machine without them this is the one visible skip (the
browser test modules are not even collected); in CI it fails.
"""

from __future__ import annotations

from tests.demo.conftest import require_browser


def test_the_browser_tests_can_run() -> None:
    require_browser()
