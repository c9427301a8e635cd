"""The status page of the served dev stack, in headless Chromium: counts move, redrive works.

Debian's chromium and chromium-driver drive it (`make test` installs them with apt-get
where it can); Selenium is given both paths, so it skips Selenium Manager and downloads
nothing. Without them the tests are skipped and say why. The last screenshot is kept in
.local/artifacts/status-page.png.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import ROOT, post_json, quiet
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from local.cloud import LocalCloud

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACT = ROOT / ".local" / "artifacts" / "status-page.png"
FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    # The tests use no network but 127.0.0.1: without these Chromium dials Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,900",
)
DEADLINE = 20.0
"""Seconds to wait for the page to show what the test did (it refreshes every 2 s)."""


@pytest.fixture(scope="module")
def dev_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        ROOT,
        stack="dev",
        port=0,
        status_port=0,
        stream=quiet(),
        state_root=tmp_path_factory.mktemp("state"),
    )
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(
            f"Debian's chromium and chromium-driver are not installed ({', '.join(missing)} "
            "missing): `make test` installs them with apt-get as root, which failed or was not "
            "possible here (see .local/chromium-install.log)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def wait_until(driver: webdriver.Chrome, what: str, check: Callable[[], Any]) -> Any:
    """``check()``'s first truthy value, read while the page reloads itself (elements of the
    page being replaced are stale for a moment)."""
    waiting = WebDriverWait(
        driver,
        DEADLINE,
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )
    return waiting.until(lambda _: check(), message=f"the page did not show {what}")


def figure(driver: webdriver.Chrome, function: str, key: str) -> int:
    return int(driver.find_element(By.CSS_SELECTOR, f'#fn-{function} [data-figure="{key}"] b').text)


def queue_count(driver: webdriver.Chrome, queue: str, key: str = "visible") -> int:
    return int(driver.find_element(By.CSS_SELECTOR, f'#q-{queue} [data-count="{key}"]').text)


def name_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def test_the_page_shows_both_functions_and_the_queue_with_its_dead_letter_queue(
    browser: webdriver.Chrome, dev_cloud: LocalCloud
):
    # GIVEN the served dev stack WHEN its status page is opened
    browser.get(dev_cloud.status_url)
    outputs = dev_cloud.outputs
    # THEN it shows both functions, the listener with its Function URL
    cards = {card.get_attribute("id") for card in browser.find_elements(By.CSS_SELECTOR, "section")}
    listener, processor = outputs["listener_function_name"], outputs["processor_function_name"]
    assert {f"fn-{listener}", f"fn-{processor}"} <= cards
    assert outputs["listener_url"] in browser.find_element(By.ID, f"fn-{listener}").text
    # AND the queue, read by the processor, and its dead-letter queue with a redrive button
    queue, dlq = name_of(outputs["queue_url"]), name_of(outputs["dlq_url"])
    row = browser.find_element(By.ID, f"q-{queue}").text
    assert f"dead-letter queue: {dlq}" in row and processor in row
    dlq_row = browser.find_element(By.ID, f"q-{dlq}").text
    assert f"dead-letter queue of {queue}" in dlq_row
    assert browser.find_element(By.ID, f"redrive-{dlq}").text.startswith("Redrive")


def test_the_counts_move_as_requests_arrive_without_a_reload(
    browser: webdriver.Chrome, dev_cloud: LocalCloud
):
    # GIVEN the page open, and the counts it shows
    browser.get(dev_cloud.status_url)
    listener = dev_cloud.outputs["listener_function_name"]
    processor = dev_cloud.outputs["processor_function_name"]
    before = figure(browser, listener, "invocations"), figure(browser, processor, "invocations")
    # WHEN three webhooks arrive
    for n in range(3):
        status, _ = post_json(dev_cloud.outputs["listener_url"], "append_queue", {"n": n})
        assert status == 200
    # THEN the page, refreshing itself, counts three more listener invocations and at least one
    # more processor invocation (the mapping may take the three in one batch)
    wait_until(
        browser,
        "the new invocations",
        lambda: (
            figure(browser, listener, "invocations") >= before[0] + 3
            and figure(browser, processor, "invocations") > before[1]
        ),
    )
    card = browser.find_element(By.ID, f"fn-{listener}").text
    assert "ok (HTTP 200)" in card and "START RequestId:" in card


def test_the_redrive_button_moves_a_dead_letter_back_to_the_processor(
    browser: webdriver.Chrome, dev_cloud: LocalCloud
):
    # GIVEN a message in the dead-letter queue (sent there directly: the dev stack's processor
    # never fails, and waiting out receive counts would cost seconds)
    outputs = dev_cloud.outputs
    dlq = name_of(outputs["dlq_url"])
    # The processor logs a message's requestId attribute, which a redrive keeps.
    marker = f"dead-letter-{uuid.uuid4()}"
    dev_cloud.client("sqs").send_message(
        QueueUrl=outputs["dlq_url"],
        MessageBody="{}",
        MessageAttributes={"requestId": {"DataType": "String", "StringValue": marker}},
    )
    browser.get(dev_cloud.status_url + "?pause=1")  # not reloading under the click
    assert queue_count(browser, dlq) == 1
    save_screenshot(browser)
    # WHEN its redrive button is clicked
    browser.find_element(By.ID, f"redrive-{dlq}").click()
    # THEN the page says what moved, and the dead-letter queue is empty
    notice = wait_until(
        browser, "the redrive's notice", lambda: browser.find_element(By.ID, "notice").text
    )
    assert "moved 1 message(s)" in notice, notice
    wait_until(browser, "an empty dead-letter queue", lambda: queue_count(browser, dlq) == 0)
    # AND the processor took the message from the queue: its log lines show it
    processor = outputs["processor_function_name"]
    wait_until(
        browser,
        "the processor's log line of the redriven message",
        lambda: marker in browser.find_element(By.ID, f"fn-{processor}").text,
    )


def save_screenshot(browser: webdriver.Chrome) -> None:
    """The whole page as a test artifact (git-ignored); docs/status-page.png is one, made
    smaller with pngquant."""
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_bytes(base64.b64decode(shot["data"]))
