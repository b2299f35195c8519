"""The dashboard in a real browser (Debian's chromium through playwright).

    python3 Tests/Browser/dashboard.py BASE_URL RUN_ID RECIPE OUT_DIR

RUN_ID is a run that is still in flight when this starts: its page must show the log growing
(server-sent events), then turn into the finished run's page by itself. Then every page is
loaded with JavaScript and without, checked for what it must show, and saved as a screenshot in
OUT_DIR. Prints one line per check; exits 1 at the first failure, saying what was missing.
"""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright, expect

base, run_id, recipe, out = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
out.mkdir(parents=True, exist_ok=True)


def check(what, condition):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The live run: its log grows on the page without a reload, then the page becomes the result.
    page.goto(f"{base}/runs/{run_id}")
    check("the live run page says it is running", page.locator("h1 .o.running").count() == 1)
    log = page.locator("#log")
    first = len(log.inner_text())
    page.wait_for_function(
        "n => document.getElementById('log') && document.getElementById('log').textContent.length > n",
        arg=first, timeout=120_000)
    grown = len(page.locator("#log").inner_text()) if page.locator("#log").count() else -1
    check(f"the live log grew in place ({first} -> {grown} characters)", grown > first)
    page.screenshot(path=str(out / "run-live.png"), full_page=True)
    page.wait_for_selector("#tier-install", timeout=300_000)
    check("the finished run replaced the live page by itself", page.locator("#log").count() == 0)

    # Every page, with JavaScript.
    page.goto(f"{base}/")
    row = page.locator(f"tbody tr:has(a[href='/recipes/{recipe}'])")
    check(f"the matrix lists {recipe}", row.count() == 1)
    check("the matrix shows a level", row.locator(".level").count() == 1)
    check("verdicts are icon and word", "pass" in row.inner_text() or "fail" in row.inner_text())
    page.screenshot(path=str(out / "matrix.png"), full_page=True)

    page.goto(f"{base}/runs/{run_id}")
    check("the run page shows the install tier and its steps",
          page.locator("#tier-install").count() == 1 and page.locator("table").count() >= 2)
    check("the run page links its artifacts", page.locator(f"a[href='/runs/{run_id}/junit.xml']").count() == 1)
    page.screenshot(path=str(out / "run.png"), full_page=True)

    page.goto(f"{base}/recipes/{recipe}")
    check("the recipe page has its chart", page.locator("figure svg polyline").count() == 1)
    page.screenshot(path=str(out / "recipe.png"), full_page=True)

    page.goto(f"{base}/queue")
    check("the queue page renders", page.locator("h1").inner_text() == "Queue")
    page.screenshot(path=str(out / "queue.png"), full_page=True)

    response = page.goto(f"{base}/badge/{recipe}.svg")
    check("the badge is an SVG", response is not None and response.headers["content-type"] == "image/svg+xml")
    check("the badge shows the level", "level" in page.content())
    page.screenshot(path=str(out / "badge.png"))
    check(f"no script errors ({errors})", not errors)

    # Without JavaScript, the same pages say the same things.
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    plain.goto(f"{base}/")
    check("without JavaScript the matrix lists the recipe",
          plain.locator(f"tbody a[href='/recipes/{recipe}']").count() == 1)
    plain.goto(f"{base}/runs/{run_id}")
    check("without JavaScript the run page shows its tiers", plain.locator("#tier-install").count() == 1)
    plain.screenshot(path=str(out / "run-nojs.png"), full_page=True)
    browser.close()
print("all dashboard checks passed")
