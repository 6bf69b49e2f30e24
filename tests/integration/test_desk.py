"""The agent desk in a real browser (Debian's chromium, headless, driven by Selenium):
log in, take calls, receive the screen pop of a call bridged to the agent's SIP phone,
save a promise — and the promise is in the database."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from db.campaigns import CampaignRepository
from engine.lab.carrier import Network, Say, Scenario
from engine.lab.phones import AgentPhone, free_udp_port
from engine.settings import BotSettings
from tests.integration.labkit import (
    PROJECT_DIR,
    add_agents,
    load_campaign,
    remove_agents,
    running_daemon,
    wait_all_final,
)

PASSWORD = "desk-and-phone-secret"
ARTEFACTS = PROJECT_DIR / ".state" / "artefacts"


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,1000"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=Service(
        shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float = 30):
    return WebDriverWait(driver, timeout).until(condition)


async def test_an_agent_logs_in_takes_a_call_and_saves_a_promise(lab, settings, pool, browser):
    """Steps: agent 1001's phone registers and answers (hanging up after 25 s); in the
    browser the agent logs in with the phone's password, clicks "Take calls"; a one-debtor agent
    campaign runs; the screen pop appears; the agent enters a promise for three days
    ahead, 50.00, and saves.
    Expected: the desk shows the state going offline → ready → on_call, the pop shows
    the debtor masked with the amount owed; "Saved 1 promise(s)"; the database has the
    promise with the agent's id, followed up at 20:00 on that day in the debtor's zone.
    A wrong password is refused at the login page."""
    settings.bot = BotSettings(**lab.bot_settings())
    settings.agents.institution = "Huilong Test Bank"
    settings.agents.callback_number = "400 000 0000"
    settings.agents.abandon_language = "en"
    await add_agents(settings, pool, ("1001",), PASSWORD)
    phone = AgentPhone("1001", PASSWORD, free_udp_port())
    scenario = Scenario("8613700888001", Network.ANSWER, ring_s=0.5, hold_s=None,
                        script=(Say("Hello, who is this? Yes, I can talk now."),))
    lab.carrier.apply([scenario])
    loaded = await load_campaign(pool, settings, [scenario], name="desk", start=False,
                                 options={"agents": True})
    try:
        assert (await asyncio.to_thread(phone.register)).ok
        phone.start_answering(ring_ms=200, talk_ms=25_000)
        async with running_daemon(settings) as daemon:
            base = f"http://127.0.0.1:{daemon.http_port}"
            # The daemon serves the browser from this event loop: every browser step
            # runs in a thread, so the loop stays free to answer.
            step = asyncio.to_thread

            def log_in(password: str) -> str:
                browser.get(base + "/desk/login")
                browser.find_element(By.ID, "agent").send_keys("1001")
                browser.find_element(By.ID, "password").send_keys(password)
                browser.find_element(By.ID, "login").click()
                _wait(browser, ready.url_changes(base + "/desk/login"))
                return str(browser.current_url)

            def shown(element_id: str, text: str, timeout: float = 30) -> None:
                _wait(browser, ready.text_to_be_present_in_element((By.ID, element_id), text),
                      timeout)

            refused = await step(log_in, "wrong-password")
            assert "failed=1" in refused
            assert await step(lambda: browser.find_element(By.ID, "failed").is_displayed())

            assert (await step(log_in, PASSWORD)).endswith("/desk")
            await step(shown, "status", "offline")
            await step(lambda: browser.find_element(By.ID, "login").click())
            await step(shown, "status", "ready")

            await CampaignRepository(pool).set_status(loaded.campaign_id, "running")
            await step(_wait, browser, ready.visibility_of_element_located((By.ID, "pop")), 60)

            def pop_fields() -> tuple[str, str, str]:
                return (browser.find_element(By.ID, "status").text,
                        browser.find_element(By.ID, "amount").text,
                        browser.find_element(By.ID, "name").text)

            status, amount, name = await step(pop_fields)
            assert status == "on_call" and amount == "100.00 CNY"
            assert name and "测试 用户" not in name  # masked

            promised = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=3)

            def promise() -> None:
                date_input = browser.find_element(By.CSS_SELECTOR, ".instalment .date")
                browser.execute_script("arguments[0].value = arguments[1]", date_input,
                                       promised.isoformat())
                browser.find_element(By.CSS_SELECTOR, ".instalment .amount").send_keys("50.00")
                browser.find_element(By.ID, "save").click()
                shown("result", "Saved 1 promise(s).")
                ARTEFACTS.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(ARTEFACTS / "desk-screen-pop.png"))

            await step(promise)
            # The agent's phone hangs up at the end of its talk time: the call ends.
            await wait_all_final(pool, loaded.campaign_id, 1, timeout=60)
    finally:
        phone.stop()
        await asyncio.to_thread(phone.register, 0)
        await remove_agents(settings, pool)

    row = await pool.fetchrow("SELECT amount, due_date, follow_up_at, agent_id FROM promises")
    assert row["amount"] == Decimal("50.00") and row["due_date"] == promised
    assert row["agent_id"] == "1001"
    local = row["follow_up_at"].astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.date(), local.hour) == (promised, 20)
    screenshot = await asyncio.to_thread((ARTEFACTS / "desk-screen-pop.png").read_bytes)
    assert screenshot.startswith(b"\x89PNG")
