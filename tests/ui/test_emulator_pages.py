"""The page behind the link `run`/`trigger` print, in a real headless browser (Chromium and
chromedriver from Debian's packages, driven by Selenium): for a running and for a finished run
on each emulator, what the user sees — the run's state, every Metaflow step with its state
and the pathspec it reported, its logs — and that the page refreshes while the run goes on.
Screenshots are kept under `.test-results/ui/`."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(ROOT, ".test-results", "ui")
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("ui-pages")]

SLOW_FLOW = '''
import time
from metaflow import FlowSpec, step


class SlowPageFlow(FlowSpec):
    @step
    def start(self):
        print("hello <b>page</b>")
        self.next(self.wait)

    @step
    def wait(self):
        time.sleep(6)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowPageFlow()
'''


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not (chromium and driver):
        if os.environ.get("MFO_REQUIRE_BROWSER"):
            pytest.fail("MFO_REQUIRE_BROWSER is set but chromium/chromedriver/selenium are missing")
        pytest.skip("no chromium + chromedriver + selenium (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(driver), options=options)
    drv.set_page_load_timeout(30)
    os.makedirs(SHOTS, exist_ok=True)
    yield drv
    drv.quit()


def _trigger(engine, path, env):
    """Deploy and start the flow without waiting: (run id, UI link)."""
    proc = subprocess.run([sys.executable, str(path), "--no-pylint", engine, "run"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    link = re.search(r"UI: (\S+)", out).group(1)
    run_id = re.search(r"SlowPageFlow/(\S+?) ", out).group(1)
    return run_id, link


def _text(drv, css):
    from selenium.webdriver.common.by import By
    return drv.find_element(By.CSS_SELECTOR, css).text


def _rows(drv):
    from selenium.webdriver.common.by import By
    return [r.text for r in drv.find_elements(By.CSS_SELECTOR, "tr.task")]


def _watch(drv, link, engine, run_id):
    drv.get(link)
    assert _text(drv, "#run-state") in ("RUNNING", "CREATED", "QUEUED"), drv.page_source[:2000]
    drv.save_screenshot(os.path.join(SHOTS, "%s-running.png" % engine))
    # No reload from us: the page refreshes itself until the run ends.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _text(drv, "#run-state") not in ("SUCCESS",):
        time.sleep(0.5)
    assert _text(drv, "#run-state") == "SUCCESS"
    drv.save_screenshot(os.path.join(SHOTS, "%s-finished.png" % engine))
    rows = "\n".join(_rows(drv))
    for step in ("start", "wait", "end"):
        assert "SlowPageFlow/%s/%s/" % (run_id, step) in rows, rows
    assert "SUCCESS" in rows and "FAILED" not in rows
    # Logs are text on the page, never markup.
    from selenium.webdriver.common.by import By
    for summary in drv.find_elements(By.CSS_SELECTOR, "details summary"):
        summary.click()
    assert "hello <b>page</b>" in drv.find_element(By.ID, "tasks").text


def test_windmill_run_page(browser, tmp_path):
    from metaflow_orchestrators.emulators.windmill import start

    path = tmp_path / "slow_page.py"
    path.write_text(SLOW_FLOW)
    with start(token="ui-token", workspace="admins") as wm:
        run_id, link = _trigger("windmill", path, {"WINDMILL_HOST": wm.url, "WINDMILL_TOKEN": "ui-token"})
        browser.get(wm.url + "/api/version")
        browser.add_cookie({"name": "token", "value": "ui-token"})  # how Windmill's UI sends the token
        _watch(browser, link, "windmill", run_id)


@pytest.mark.parametrize("version", [1, 2])
def test_kestra_execution_page(browser, tmp_path, version):
    from metaflow_orchestrators.emulators.kestra import start

    path = tmp_path / "slow_page.py"
    path.write_text(SLOW_FLOW)
    with start(version=version) as kestra:
        run_id, link = _trigger("kestra", path, {"KESTRA_HOST": kestra.url})
        _watch(browser, link, "kestra%d" % version, run_id)
