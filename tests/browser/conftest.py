"""What the browser tests share: one Playwright driver per test process.

Playwright's sync API runs one driver per thread at a time, so the admin console's and the
terminal app's session-wide browsers are launched from this one driver.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Playwright, sync_playwright


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver
