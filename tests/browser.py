"""Headless Chromium for the tests that look at a page as a browser shows it (the drawing pad, the class
report); skips, saying what to install, when Chromium, its driver or Selenium is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def chromium_paths() -> tuple[str, str]:
    """Chromium and chromedriver, or a skip that says what to install."""
    browser = next(filter(None, (shutil.which(name) for name in ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver") or next(
        (path for path in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(path)), None)
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: the browser test needs "
                    "`apt-get install chromium chromium-driver` (Debian) to run")
    return browser, driver


@contextmanager
def headless_chromium(binary: str, chromedriver: str, page_timeout: float) -> Iterator:
    """A Selenium driver of a headless Chromium, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(page_timeout)
    try:
        yield driver
    finally:
        driver.quit()
