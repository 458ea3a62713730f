#!/usr/bin/python3
"""Drives the devstack dashboard in headless Chromium (Debian's chromium, chromium-driver and
python3-selenium): sees every service, sees a killed container's state change on the open page
without a reload, rolls back from the History page and sees the new revision, and saves a
screenshot of every page. Prints one JSON line of measurements; exits non-zero on a failure.

usage: dashboard.py URL --services a,b --kill SERVICE:CONTAINER --rollback REV --shots DIR
       dashboard.py URL --paint-only --loads N     (first paint of the overview, N loads)"""
import argparse, json, os, statistics, subprocess, sys, time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(description, condition, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(step)
    raise SystemExit(f"dashboard: timed out after {seconds}s waiting for {description}")


def first_paint(driver):
    return driver.execute_script(
        "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
        "return p ? p.startTime : null;")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--services", default="")
    parser.add_argument("--kill", default="")
    parser.add_argument("--rollback", type=int)
    parser.add_argument("--shots", default="")
    parser.add_argument("--paint-only", action="store_true")
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    base = args.url.split("/?")[0]
    driver = browser()
    result = {}
    try:
        driver.get(args.url)  # the token becomes a cookie, and the page reloads without it
        wait("the overview", lambda: driver.find_element(By.ID, "services"), 10)
        if args.paint_only:
            paints = []
            for _ in range(args.loads):
                driver.get(base + "/")
                wait("the overview", lambda: driver.find_element(By.ID, "services"), 10)
                wait("a paint entry", lambda: first_paint(driver) is not None, 5)
                paints.append(first_paint(driver))
            result["first_paint_ms"] = paints
            result["median_first_paint_ms"] = statistics.median(paints)
            print(json.dumps(result))
            return
        result["first_paint_ms"] = first_paint(driver)
        expected = sorted(s for s in args.services.split(",") if s)

        def rows():
            # One script call reads every row at once: the live stream replaces rows at any time,
            # and an element found in one call may be gone by the next.
            return dict(driver.execute_script(
                "return Array.from(document.querySelectorAll('#services tbody tr[data-service]')).map(r => [r.dataset.service, r.dataset.state]);"))
        # The live stream replaces the server-rendered rows with ones that carry data attributes.
        wait("every service on the overview", lambda: sorted(rows()) == expected and all(s == "running" for s in rows().values()), 15)
        shot(driver, args.shots, "overview")

        if args.kill:
            service, container = args.kill.split(":")
            subprocess.run(["docker", "kill", container], check=True, stdout=subprocess.DEVNULL)
            killed = time.monotonic()
            wait(f"{service} to leave 'running' on the open page", lambda: rows().get(service) not in (None, "running"), float(os.environ.get("KILL_WAIT", "2")), step=0.02)
            result["kill_seen_after_ms"] = round((time.monotonic() - killed) * 1000)
            result["state_after_kill"] = rows().get(service)
            shot(driver, args.shots, "overview-after-kill")

        for page in ["graph", "plan", "events", "data", "tasks"]:
            driver.get(f"{base}/{page}")
            wait(f"the {page} page", lambda: driver.find_element(By.TAG_NAME, "h1"), 10)
            shot(driver, args.shots, page)
        if expected:
            driver.get(f"{base}/logs/{expected[0]}")
            wait("the log page", lambda: driver.find_element(By.ID, "log"), 10)
            shot(driver, args.shots, "logs")

        driver.get(f"{base}/history")
        latest = int(driver.find_element(By.CSS_SELECTOR, "#history tbody tr input[name=a]").get_attribute("value"))
        shot(driver, args.shots, "history")
        if args.rollback:
            driver.find_element(By.CSS_SELECTOR, f"button[data-action=rollback][data-revision='{args.rollback}']").click()
            driver.switch_to.alert.accept()
            job = driver.find_element(By.ID, "job")
            wait("the rollback to finish", lambda: "done:" in job.text or "failed:" in job.text, 120, step=0.2)
            result["rollback_job"] = job.text.strip().splitlines()[-1]
            if "failed:" in job.text:
                raise SystemExit(f"dashboard: the rollback failed: {job.text}")
            driver.get(f"{base}/history")
            newest = int(driver.find_element(By.CSS_SELECTOR, "#history tbody tr input[name=a]").get_attribute("value"))
            result["revision_before"], result["revision_after"] = latest, newest
            if newest != latest + 1:
                raise SystemExit(f"dashboard: expected revision {latest + 1} after the rollback, the newest is {newest}")
            driver.get(f"{base}/diff?a={latest}&b={newest}")
            wait("the diff", lambda: driver.find_element(By.TAG_NAME, "h1"), 10)
            shot(driver, args.shots, "diff")
        print(json.dumps(result))
    finally:
        driver.quit()


def shot(driver, folder, name):
    if folder:
        os.makedirs(folder, exist_ok=True)
        driver.save_screenshot(os.path.join(folder, f"{name}.png"))


main()
