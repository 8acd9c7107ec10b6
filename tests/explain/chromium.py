"""Debian's Chromium, headless, driven by selenium: for the explain page's browser tests
and its benchmark (`benchmarks/bench_explain_page.py`). Flags as this machine's closed
network needs them: no background requests, no component updates."""

import json
import os
import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync "
    "--window-size=1280,800"
)


def available() -> bool:
    return os.path.exists(CHROMIUM) and os.path.exists(DRIVER)


def start():
    """A headless Chromium that logs the console and every network request."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS.split():
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def open_page(browser, path, fragment="", timeout=20):
    """Opens the page file and waits for its ready flag (`true`, or `error`)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get("about:blank")  # a new document, even where only the fragment differs
    browser.get_log("performance")  # drop what earlier pages logged
    browser.get(f"file://{path}{fragment}")
    WebDriverWait(browser, timeout).until(
        lambda b: b.execute_script("return document.documentElement.dataset.ready")
    )
    assert browser.execute_script("return document.documentElement.dataset.ready") == "true"
    return browser


def requests_made(browser, path) -> list:
    """Every request the page started, other than itself (and data:/blob: URLs it made)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [u for u in urls if not u.startswith((f"file://{path}", "data:", "blob:"))]
