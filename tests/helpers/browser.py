"""Headless Chromium for the MLflow UI check: Debian's `chromium` and `chromium-driver`,
installed here when missing and possible (root with apt-get), driven through Selenium; a
machine where they cannot be installed skips the test with the reason."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PACKAGES = ["chromium", "chromium-driver"]


def _apt_install() -> str | None:
    """Install the Debian packages; None when done, else why not."""
    if not shutil.which("apt-get"):
        return "apt-get not found (not a Debian-like system)"
    if os.geteuid() != 0:
        return f"not root: install them with `sudo apt-get install {' '.join(PACKAGES)}`"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    for attempt in (command, None):  # a stale package index: update once, then retry
        if attempt is None:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300)
            attempt = command
        done = subprocess.run(attempt, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return None
    return f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr.strip().splitlines()[-1:]}"


def ensure_chromium() -> None:
    """Chromium and its driver on this machine, or skip with the reason."""
    if Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file():
        return
    why = _apt_install()
    if why or not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(f"headless Chromium for the MLflow UI check is missing and could not be installed: {why}")


@contextmanager
def browser(width: int = 1800, height: int = 900, login: tuple[str, str] | None = None) -> Iterator[object]:
    """A headless Chromium session (selenium WebDriver) with the system driver: no download.
    `login=(user, password)` sends HTTP basic credentials with every request (a team server)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    if login is not None:  # through the DevTools protocol: the UI's own fetches carry it too
        token = base64.b64encode(":".join(login).encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})
    try:
        yield driver
    finally:
        driver.quit()


def page_text(driver, timeout: float = 60, until: tuple[str, ...] = ()) -> str:
    """The page's visible text once it holds every `until` string (the single-page app renders
    after load), or what it holds at the timeout."""
    from selenium.webdriver.common.by import By

    deadline = time.time() + timeout
    while True:
        text = driver.find_element(By.TAG_NAME, "body").text
        if all(s in text for s in until):
            return text
        if time.time() > deadline:
            return text
        time.sleep(0.5)
