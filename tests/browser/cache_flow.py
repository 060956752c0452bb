"""The library page in headless Chromium, loaded twice: the first load fetches every
thumbnail, the second takes them all from the browser's cache (the URLs are the same within
their window and the objects say they never change). Prints one JSON line: per load, the
images' URLs and bytes over the network, as the browser's performance entries report them.
Exits non-zero on the first failed check, saying which."""

import json
import os
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from chromium import browser

BASE = os.environ["BASE_URL"].rstrip("/")
USER = os.environ["WEB_USER"]
EXPECT = int(os.environ["EXPECT_IMAGES"])


def library_images(d, navigate):
    """Opens the library (or stays on it), scrolls until every tile is there and every image
    decoded, and returns the performance entries of the images this document fetched."""
    if navigate:
        d.get(f"{BASE}/app/library")
    deadline = time.time() + 60
    while True:
        tiles = d.execute_script("return document.querySelectorAll('figure.tile img').length")
        done = d.execute_script(
            "return [...document.querySelectorAll('figure.tile img')]"
            ".every((i) => i.complete && i.naturalWidth > 0)")
        if tiles >= EXPECT and done:
            break
        if time.time() > deadline:
            raise AssertionError(f"the library shows {tiles} of {EXPECT} images")
        d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        time.sleep(0.2)
    return d.execute_script("""
        return performance.getEntriesByType('resource')
          .filter((e) => e.initiatorType === 'img')
          .map((e) => ({url: e.name, transfer: e.transferSize, body: e.encodedBodySize}));
    """)


def main():
    d = browser()
    wait = WebDriverWait(d, 20)
    try:
        d.get(f"{BASE}/app/signin")
        wait.until(ec.visibility_of_element_located((By.NAME, "password")))
        form = d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=signin-h]")
        form.find_element(By.NAME, "login").send_keys(USER)
        form.find_element(By.NAME, "password").send_keys(os.environ["WEB_PASSWORD"])
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Signing in opens the library: its first load.
        wait.until(ec.url_to_be(f"{BASE}/app/library"))
        first = library_images(d, navigate=False)
        # A second visit (a new navigation, as after closing the tab or following a link).
        d.get("about:blank")
        second = library_images(d, navigate=True)
        print(json.dumps({"first": first, "second": second}))
    finally:
        d.quit()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
