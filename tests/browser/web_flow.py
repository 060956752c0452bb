"""The web pages in headless Chromium (Debian's chromium and chromium-driver), driven by Selenium
against a running stack (BASE_URL). Screenshots go to SCREENSHOTS. Exits non-zero on the first
failed check, saying which."""

import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["BASE_URL"].rstrip("/")
SHOTS = os.environ["SCREENSHOTS"]
USER = os.environ["WEB_USER"]
XSS = '<img src=x onerror="document.title=\'pwned\'">'


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    d = browser()
    wait = WebDriverWait(d, 20)
    try:
        # Sign up: lands in the (empty) library, signed in, credits shown.
        d.get(f"{BASE}/app/signin")
        wait.until(ec.visibility_of_element_located((By.NAME, "username")))
        d.find_element(By.NAME, "username").send_keys(USER)
        d.find_element(By.NAME, "email").send_keys(f"{USER}@example.com")
        d.find_element(By.NAME, "new-password").send_keys("correct horse battery")
        d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=signup-h] button[type=submit]").click()
        wait.until(ec.url_to_be(f"{BASE}/app/library"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "credits"), "credits"))
        check("100 credits" in d.find_element(By.ID, "credits").text, "signup credits shown")
        check(d.execute_script("return localStorage.length + sessionStorage.length") == 0,
              "no token in web storage")

        # Generate two images with a prompt that is markup: it stays text.
        d.find_element(By.LINK_TEXT, "Generate").click()
        wait.until(ec.visibility_of_element_located((By.NAME, "prompt")))
        wait.until(lambda x: len(Select(x.find_element(By.NAME, "model")).options) > 0)
        d.find_element(By.NAME, "prompt").send_keys(XSS)
        n = d.find_element(By.NAME, "n")
        n.clear()
        n.send_keys("2")
        d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".results figure")) == 2)
        captions = [c.text for c in d.find_elements(By.CSS_SELECTOR, ".results figcaption")]
        check(captions == [XSS, XSS], f"the prompt is shown as text: {captions}")
        check(d.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == [], "no element made from the prompt")
        check(d.title != "pwned", "no script ran from the prompt")
        wait.until(ec.text_to_be_present_in_element((By.ID, "credits"), "credits"))

        # The library shows both, with the prompt as alt text, and the images load.
        d.find_element(By.LINK_TEXT, "Library").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 2)
        wait.until(lambda x: x.execute_script(
            "return [...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)"))
        alts = [i.get_attribute("alt") for i in d.find_elements(By.CSS_SELECTOR, "#grid img")]
        check(alts == [XSS, XSS], f"alt text from the prompt: {alts}")
        os.makedirs(SHOTS, exist_ok=True)
        d.save_screenshot(os.path.join(SHOTS, "library.png"))

        # The asset page: the prompt as text, a transform previewed then kept as a new version,
        # which can be deleted again.
        d.find_element(By.CSS_SELECTOR, "#grid figure a").click()
        wait.until(lambda x: x.current_url.startswith(f"{BASE}/app/assets/"), "the asset page")
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "img.asset")), "the image shown")
        facts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".facts dd")]
        check(XSS in facts, f"the prompt among the facts: {facts}")
        check(any(f == "local" for f in facts), f"the provider among the facts: {facts}")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".versions li")) == 1,
                   "one version listed")
        Select(d.find_element(By.NAME, "op")).select_by_value("grayscale")
        d.find_element(By.XPATH, "//button[text()='Apply']").click()
        wait.until(ec.visibility_of_element_located((By.XPATH, "//button[text()='Keep as a new version']")),
                   "the transform's result is previewed")
        wait.until(lambda x: x.execute_script(
            "const i = document.querySelector('.results img'); return i && i.complete && i.naturalWidth > 0"))
        d.find_element(By.XPATH, "//button[text()='Keep as a new version']").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".versions li")) == 2,
                   "the new version listed beside the first")
        wait.until(lambda x: x.execute_script(
            "const i = document.querySelector('img.asset'); return i && i.complete && i.naturalWidth > 0"))
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "asset.png"))
        d.find_element(By.XPATH, "//button[text()='Delete this version']").click()
        d.switch_to.alert.accept()
        wait.until(ec.url_to_be(f"{BASE}/app/library"), "back in the library")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 2,
                   "the deleted version gone from the library")

        # Keyboard: the first tile's checkbox is reachable and selects it for deletion.
        box = d.find_element(By.CSS_SELECTOR, "#grid input[type=checkbox]")
        box.send_keys(" ")
        delete = d.find_element(By.XPATH, "//button[text()='Delete selected']")
        check(delete.is_enabled(), "selecting enables delete")

        # The account page: a key shown once then listed, the referral link, the ledger with
        # the spending chart, the webhook secret.
        d.find_element(By.LINK_TEXT, "Account").click()
        wait.until(ec.visibility_of_element_located((By.ID, "referral-url")), "the referral link")
        check("?ref=" in d.find_element(By.ID, "referral-url").text, "a referral link with its code")
        d.find_element(By.NAME, "key-name").send_keys("ci")
        d.find_element(By.XPATH, "//button[text()='Create a key']").click()
        wait.until(ec.visibility_of_element_located((By.ID, "new-key")), "the new key shown")
        check(d.find_element(By.ID, "new-key").text.startswith("sk-"), "the key is shown once")
        wait.until(lambda x: "ci" in x.find_element(By.CSS_SELECTOR, ".keys").text, "the key listed")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".chart rect")) == 14, "the chart's 14 days")
        rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "tbody tr")]
        check(any("generation" in r for r in rows) and any("signup" in r for r in rows), f"ledger rows: {rows}")
        d.find_element(By.XPATH, "//button[text()='Show']").click()
        wait.until(lambda x: x.find_element(By.CSS_SELECTOR, "section[aria-labelledby=hook-h] code").text.startswith("whsec_"),
                   "the webhook secret shown")
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "account.png"))
        d.find_element(By.LINK_TEXT, "Library").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 2, "the library again")

        # Phone width: nothing scrolls sideways.
        d.set_window_size(390, 844)
        time.sleep(0.3)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 0, f"no horizontal scroll at 390 px ({overflow} px too wide)")
        d.save_screenshot(os.path.join(SHOTS, "library-phone.png"))

        # Signed out, the pages ask to sign in again, and a reload does not bring the session back.
        d.set_window_size(1440, 900)
        d.find_element(By.ID, "signout").click()
        wait.until(ec.url_to_be(f"{BASE}/app/signin"))
        d.get(f"{BASE}/app/library")
        wait.until(ec.url_to_be(f"{BASE}/app/signin"))

        errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"
                  and "/v1/auth/refresh" not in e["message"] and "/v1/credit" not in e["message"]]
        check(not [e for e in errors if "Content Security Policy" in e["message"]],
              f"no CSP violations: {errors}")
    except Exception as e:
        os.makedirs(SHOTS, exist_ok=True)
        d.save_screenshot(os.path.join(SHOTS, "failure.png"))
        print(f"FAILED: {e}\nat {d.current_url}\n{d.page_source[:2000]}", file=sys.stderr)
        sys.exit(1)
    finally:
        d.quit()
    print("ok")


if __name__ == "__main__":
    main()
