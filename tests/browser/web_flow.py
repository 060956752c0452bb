"""The web pages in headless Chromium (Debian's chromium and chromium-driver), driven by Selenium
against a running stack (BASE_URL). Screenshots go to SCREENSHOTS. Exits non-zero on the first
failed check, saying which."""

import os
import struct
import sys
import time
import zlib

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from chromium import browser

BASE = os.environ["BASE_URL"].rstrip("/")
SHOTS = os.environ["SCREENSHOTS"]
USER = os.environ["WEB_USER"]
# Another account, for the admin page to find, grant credits to and disable.
TARGET = os.environ["TARGET_USER"]
# What the screenshots show: real use.
PROMPT = "a lighthouse on a cliff at dusk, warm light in the windows"
# A prompt that is markup (the masked edit's): it must stay text.
XSS = 'a red moon <img src=x onerror="document.title=\'pwned\'">'


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def png(width, height):
    """An RGB PNG with a gradient, written by hand (no imaging library needed)."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 128))
                    for y in range(height))
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data
                                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def pixels_differ(d, before, after, box):
    """Mean absolute difference per channel between two images' pixels in box (fractions
    x0, y0, x1, y1 of the size), read in the page through a canvas."""
    return d.execute_async_script("""
        const [a, b, box, done] = arguments;
        const read = async (url) => {
          const i = new Image(); i.src = url; await i.decode();
          const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
          const x = c.getContext('2d'); x.drawImage(i, 0, 0);
          return x.getImageData(0, 0, c.width, c.height);
        };
        Promise.all([read(a), read(b)]).then(([p, q]) => {
          if (p.width !== q.width || p.height !== q.height) return done(-1);
          const [x0, y0, x1, y1] = [box[0] * p.width, box[1] * p.height, box[2] * p.width, box[3] * p.height].map(Math.round);
          let sum = 0, n = 0;
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
            const k = (y * p.width + x) * 4;
            for (let ch = 0; ch < 3; ch++) { sum += Math.abs(p.data[k + ch] - q.data[k + ch]); n++; }
          }
          done(sum / n);
        }, (e) => done(String(e)));
    """, before, after, box)


def loaded(d, selector):
    return d.execute_script(
        "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0", selector)


def main():
    d = browser()
    wait = WebDriverWait(d, 20)
    try:
        # A first visit, without a session: no error in the console (no 401 from the
        # page's refresh, no missing icon).
        d.get(f"{BASE}/app/signin")
        wait.until(ec.visibility_of_element_located((By.NAME, "username")))
        time.sleep(0.5)
        first = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        check(first == [], f"no console errors on a first visit: {first}")
        # Sign up: lands in the (empty) library, signed in, credits shown.
        d.find_element(By.NAME, "username").send_keys(USER)
        d.find_element(By.NAME, "email").send_keys(f"{USER}@example.com")
        d.find_element(By.NAME, "new-password").send_keys(os.environ["WEB_PASSWORD"])
        d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=signup-h] button[type=submit]").click()
        wait.until(ec.url_to_be(f"{BASE}/app/library"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "credits"), "credits"))
        check("100 credits" in d.find_element(By.ID, "credits").text, "signup credits shown")
        check(d.execute_script("return localStorage.length + sessionStorage.length") == 0,
              "no token in web storage")

        # Generate two images: the prompt is shown with each.
        d.find_element(By.LINK_TEXT, "Generate").click()
        wait.until(ec.visibility_of_element_located((By.NAME, "prompt")))
        wait.until(lambda x: len(Select(x.find_element(By.NAME, "model")).options) > 0)
        about = d.find_element(By.CSS_SELECTOR, "form[aria-labelledby=generate-h] details.about summary").text
        check("local-procedural" in about and "Credits per image" in about, f"the model explained: {about}")
        d.find_element(By.NAME, "prompt").send_keys(PROMPT)
        n = d.find_element(By.NAME, "n")
        n.clear()
        n.send_keys("2")
        d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".results figure")) == 2)
        captions = [c.text for c in d.find_elements(By.CSS_SELECTOR, ".results figcaption")]
        check(captions == [PROMPT, PROMPT], f"the prompt is shown: {captions}")
        wait.until(ec.text_to_be_present_in_element((By.ID, "credits"), "credits"))

        # The library shows both, with the prompt as alt text, and the images load.
        d.find_element(By.LINK_TEXT, "Library").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 2)
        wait.until(lambda x: x.execute_script(
            "return [...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)"))
        alts = [i.get_attribute("alt") for i in d.find_elements(By.CSS_SELECTOR, "#grid img")]
        check(alts == [PROMPT, PROMPT], f"alt text from the prompt: {alts}")
        os.makedirs(SHOTS, exist_ok=True)
        d.save_screenshot(os.path.join(SHOTS, "library.png"))

        # The asset page: the prompt as text, a transform previewed then kept as a new version,
        # which can be deleted again.
        d.find_element(By.CSS_SELECTOR, "#grid figure a").click()
        wait.until(lambda x: x.current_url.startswith(f"{BASE}/app/assets/"), "the asset page")
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "img.asset")), "the image shown")
        facts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".facts dd")]
        check(PROMPT in facts, f"the prompt among the facts: {facts}")
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
        # Its Content Credentials: made with AI by the offline model, transformed, then kept as
        # this version.
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".credentials .history li")) == 3,
                   "the history read from the signed manifest")
        badge = d.find_element(By.CSS_SELECTOR, ".credentials .badge").text
        check(badge.startswith("Made with AI: ") and badge.endswith(" via local"), f"the badge: {badge}")
        steps = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".credentials .history li")]
        check(steps[0].startswith("Saved as") and steps[1].startswith("Edited")
              and "transformed: grayscale" in steps[1] and steps[2].startswith("Created"),
              f"the history, newest first: {steps}")
        wait.until(lambda x: x.execute_script(
            "const i = document.querySelector('img.asset'); return i && i.complete && i.naturalWidth > 0"))
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "asset.png"))
        d.find_element(By.XPATH, "//button[text()='Delete this version']").click()
        d.switch_to.alert.accept()
        wait.until(ec.url_to_be(f"{BASE}/app/library"), "back in the library")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 2,
                   "the deleted version gone from the library")

        # A mask painted on the canvas: the new version changes where it was painted and
        # nowhere else.
        d.find_element(By.CSS_SELECTOR, "#grid figure a").click()
        wait.until(lambda x: loaded(x, "img.mask-image"), "the picture under the mask canvas")
        first = d.find_element(By.CSS_SELECTOR, "img.mask-image").get_attribute("src")
        canvas = d.find_element(By.CSS_SELECTOR, "canvas.mask-paint")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        w, h = canvas.size["width"], canvas.size["height"]
        # A stroke across the right part, at mid-height (offsets are from the canvas' centre).
        (ActionChains(d).move_to_element_with_offset(canvas, int(w * 0.15), 0).click_and_hold()
         .move_by_offset(int(w * 0.15), 0).move_by_offset(int(w * 0.1), 0).release().perform())
        d.find_element(By.NAME, "edit-prompt").send_keys(XSS)
        d.find_element(By.XPATH, "//button[text()='Make a new version']").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".versions li")) == 2,
                   "the masked edit is the second version")
        wait.until(lambda x: loaded(x, "img.asset"))
        edited = d.find_element(By.CSS_SELECTOR, "img.asset").get_attribute("src")
        inside = pixels_differ(d, first, edited, (0.7, 0.49, 0.85, 0.51))
        outside = pixels_differ(d, first, edited, (0.0, 0.0, 0.4, 1.0))
        check(isinstance(inside, (int, float)) and inside > 8, f"the painted stroke changed ({inside})")
        check(isinstance(outside, (int, float)) and outside < 1, f"the rest is unchanged ({outside})")
        # The edit's prompt was markup: it is shown as text, and nothing ran from it.
        wait.until(lambda x: XSS in [e.text for e in x.find_elements(By.CSS_SELECTOR, ".facts dd")],
                   "the markup prompt among the facts, as text")
        check(d.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == [], "no element made from the prompt")
        check(d.title != "pwned", "no script ran from the prompt")

        # Image to video: the job's progress climbs on the page, then the player plays the clip.
        Select(d.find_element(By.NAME, "video-model")).select_by_value("local-motion")
        Select(d.find_element(By.NAME, "seconds")).select_by_value("12")
        d.execute_script("""
            window.seen = [];
            const box = document.querySelector('form[aria-labelledby=video-h] .progress');
            new MutationObserver(() => {
              const t = box.querySelector('.job-status')?.textContent;
              if (t && window.seen[window.seen.length - 1] !== t) window.seen.push(t);
            }).observe(box, { subtree: true, childList: true, characterData: true, attributes: true });
        """)
        d.find_element(By.XPATH, "//button[text()='Make a video']").click()
        wait_long = WebDriverWait(d, 180)
        wait_long.until(ec.presence_of_element_located((By.ID, "new-video")), "the finished video shown")
        seen = d.execute_script("return window.seen")
        check(any("%" in s and not s.endswith(" 0 %") and not s.endswith(" 100 %") for s in seen)
              and seen[-1].startswith("Completed") and seen[-1].endswith("100 %"),
              f"progress between 0 and 100 shown, then completed: {seen}")
        played = d.execute_async_script("""
            const [done] = arguments;
            const v = document.getElementById('new-video');
            v.muted = true;
            v.play().then(() => setTimeout(() => done({ t: v.currentTime, w: v.videoWidth, h: v.videoHeight,
              poster: v.poster, paused: v.paused, error: v.error && v.error.message }), 1500),
              (e) => done({ error: String(e) }));
        """)
        check(not played.get("error") and played["t"] > 0.5 and played["w"] > 0 and not played["paused"],
              f"the video plays: {played}")
        check(played["poster"], "the video has its poster")
        d.execute_script("const v = document.getElementById('new-video'); v.pause(); v.currentTime = 0;"
                         "document.getElementById('video-h').scrollIntoView()")
        d.save_screenshot(os.path.join(SHOTS, "video.png"))
        check(d.find_element(By.ID, "credits").text != "", "credits still shown")

        # The library lists the video by itself.
        d.find_element(By.LINK_TEXT, "Library").click()
        Select(wait.until(ec.presence_of_element_located((By.ID, "type")))).select_by_value("video")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 1, "the video in the library")
        Select(d.find_element(By.ID, "type")).select_by_value("all")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 4,
                   "two images, the edit and the video")

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
        # A key made with limits: only reading and generating, 5 credits a day.
        d.find_element(By.NAME, "key-name").send_keys("ci")
        d.find_element(By.XPATH, "//summary[text()='Limits of the new key']").click()
        for scope in ("library:write", "jobs", "account"):
            d.find_element(By.CSS_SELECTOR, f"input[name=key-scope][value='{scope}']").click()
        d.find_element(By.NAME, "key-budget").send_keys("5")
        d.find_element(By.XPATH, "//button[text()='Create a key']").click()
        wait.until(ec.visibility_of_element_located((By.ID, "new-key")), "the new key shown")
        check(d.find_element(By.ID, "new-key").text.startswith("sk-"), "the key is shown once")
        limits = "li[data-key=ci] .limits"
        wait.until(lambda x: x.find_elements(By.CSS_SELECTOR, limits), "the key listed")
        text = d.find_element(By.CSS_SELECTOR, limits).text
        check("may read the library, generate" in text and "budget 5 a day, 5 left" in text,
              f"the key's limits listed: {text}")
        # Edited in place: 9 credits a month, and the list says so.
        d.find_element(By.XPATH, "//button[text()='Edit ci']").click()
        budget = wait.until(ec.visibility_of_element_located((By.NAME, "edit-ci-budget")))
        budget.clear()
        budget.send_keys("9")
        Select(d.find_element(By.NAME, "edit-ci-period")).select_by_value("month")
        d.find_element(By.XPATH, "//button[text()='Save ci']").click()
        wait.until(lambda x: "budget 9 a month, 9 left" in x.find_element(By.CSS_SELECTOR, limits).text,
                   "the edited budget listed")
        # The spend report: 30 days of bars, today's the credits this session spent above.
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#usage .chart rect")) == 30,
                   "the usage chart's 30 days")
        label = d.find_element(By.CSS_SELECTOR, "#usage .chart").get_attribute("aria-label")
        today = time.strftime("%Y-%m-%d", time.gmtime())
        spent_today = label.split(f"{today} ")[-1].split(",")[0]
        check(spent_today.isdigit() and int(spent_today) > 0, f"today's spend charted: {label[-60:]}")
        by = d.find_element(By.CSS_SELECTOR, "#usage table").text
        check(f"signed in {spent_today}" in by, f"the spend by who spent it: {by}")
        rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "tbody tr")]
        check(any("generation" in r for r in rows) and any("signup" in r for r in rows), f"ledger rows: {rows}")
        # The page is longer now: bring the button clear of the status line first.
        show = d.find_element(By.XPATH, "//button[text()='Show']")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", show)
        show.click()
        wait.until(lambda x: x.find_element(By.CSS_SELECTOR, "section[aria-labelledby=hook-h] code").text.startswith("whsec_"),
                   "the webhook secret shown")
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "account.png"))

        # A picture from this computer, edited where the mask is painted on it.
        picture = os.path.realpath(os.path.join(SHOTS, "upload.png"))
        with open(picture, "wb") as f:
            f.write(png(512, 512))
        d.find_element(By.LINK_TEXT, "Generate").click()
        wait.until(ec.presence_of_element_located((By.NAME, "edit-file"))).send_keys(picture)
        wait.until(lambda x: loaded(x, "img.mask-image"), "the chosen picture under the mask canvas")
        canvas = d.find_element(By.CSS_SELECTOR, "canvas.mask-paint")
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        ActionChains(d).move_to_element(canvas).click_and_hold().move_by_offset(40, 20).release().perform()
        d.find_element(By.NAME, "upload-edit-prompt").send_keys("a lighthouse")
        d.find_element(By.XPATH, "//button[text()='Edit']").click()
        wait.until(lambda x: len(x.find_elements(
            By.CSS_SELECTOR, "form[aria-labelledby=upload-edit-h] .results img")) == 1, "the edit's result")
        wait.until(lambda x: loaded(x, "form[aria-labelledby=upload-edit-h] .results img"))
        size = d.execute_script(
            "const i = document.querySelector('form[aria-labelledby=upload-edit-h] .results img');"
            "return [i.naturalWidth, i.naturalHeight]")
        check(size == [512, 512], f"the edit keeps the picture's size: {size}")
        sent = d.execute_script(
            "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/v1/images/edits')).length")
        check(sent == 1, f"one edit request sent ({sent})")
        d.find_element(By.LINK_TEXT, "Library").click()
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 5,
                   "the library again, with the edited upload")

        # Admin: find the other account, grant it credits, disable it.
        d.find_element(By.LINK_TEXT, "Admin").click()
        search = wait.until(ec.visibility_of_element_located((By.NAME, "q")))
        search.send_keys(TARGET)
        wait.until(lambda x: [r.text for r in x.find_elements(By.CSS_SELECTOR, "tbody tr")][:1]
                   and x.find_element(By.CSS_SELECTOR, "tbody tr").text.startswith(TARGET), "the user found")
        d.find_element(By.XPATH, f"//tbody//button[text()='{TARGET}']").click()
        wait.until(ec.visibility_of_element_located((By.NAME, "amount"))).send_keys("25")
        d.find_element(By.NAME, "reason").send_keys("a thank-you")
        d.find_element(By.XPATH, "//button[text()='Change credits']").click()
        wait.until(lambda x: x.find_element(By.CSS_SELECTOR, "[data-fact=Credits]").text.startswith("125 available"),
                   "the grant shown on the user")
        wait.until(lambda x: "a thank-you" in x.find_element(By.CSS_SELECTOR, ".audit").text, "the grant audited")
        d.find_element(By.XPATH, f"//button[text()='Disable {TARGET}']").click()
        d.switch_to.alert.accept()
        wait.until(lambda x: x.find_element(By.CSS_SELECTOR, "[data-fact=Status]").text == "disabled",
                   "the user disabled")
        wait.until(lambda x: x.find_element(By.CSS_SELECTOR, "tbody tr").text.endswith("125 user disabled"),
                   "the list says so too")
        wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, ".chart rect")) == 14, "the usage chart")
        d.save_screenshot(os.path.join(SHOTS, "admin.png"))

        # Phone width: no page scrolls sideways.
        d.set_window_size(390, 844)
        for name, ready in [("Library", "#grid figure img"), ("Generate", "canvas, input[name=edit-file]"),
                            ("Account", "#referral-url"), ("Admin", "tbody tr"), (None, "video.asset")]:
            if name:
                d.find_element(By.LINK_TEXT, name).click()
            else:  # the video's own page
                d.find_element(By.LINK_TEXT, "Library").click()
                Select(wait.until(ec.presence_of_element_located((By.ID, "type")))).select_by_value("video")
                wait.until(lambda x: len(x.find_elements(By.CSS_SELECTOR, "#grid figure")) == 1)
                d.find_element(By.CSS_SELECTOR, "#grid figure a").click()
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ready)), f"{name or 'the video'} at 390 px")
            time.sleep(0.3)
            overflow = d.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            widest = d.execute_script(
                "const w = document.documentElement.clientWidth;"
                "const over = [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > w);"
                "return over.slice(-3).map((e) => e.tagName + '.' + e.className + ' ' + (e.name || '')).join('; ')")
            check(overflow <= 0, f"{name or 'the video page'}: no horizontal scroll at 390 px ({overflow} px too wide: {widest})")
            if name == "Library":
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
