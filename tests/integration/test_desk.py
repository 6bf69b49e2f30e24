"""The agent desk in a real browser (Debian's chromium, headless, driven by Selenium):
log in, take calls, receive the screen pop of a call bridged to the agent's SIP phone,
save a promise, schedule a callback, record an opt-out — and each is in the database."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from db.campaigns import CampaignRepository
from db.opt_out import OPT_OUT_LIST
from engine.lab.carrier import Network, Say, Scenario
from engine.lab.phones import AgentPhone, free_udp_port
from engine.settings import BotSettings
from tests.integration.browser import headless_chromium
from tests.integration.labkit import (
    PROJECT_DIR,
    add_agents,
    load_campaign,
    remove_agents,
    running_daemon,
    wait_all_final,
)

PASSWORD = "desk-and-phone-secret"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the test debtors' zone
ARTEFACTS = PROJECT_DIR / ".state" / "artefacts"


@pytest.fixture
def browser():
    with headless_chromium(1000) as driver:
        yield driver


def _wait(driver, condition, timeout: float = 30):
    return WebDriverWait(driver, timeout).until(condition)


async def test_an_agent_logs_in_takes_a_call_and_records_its_outcome(lab, settings, pool,
                                                                    browser):
    """Steps: agent 1001's phone registers and answers (hanging up after 25 s); in the
    browser the agent logs in with the phone's password, clicks "Take calls"; a one-debtor agent
    campaign runs; the screen pop appears; the agent enters a promise for three days
    ahead, 50.00, and saves; then picks the disposition "callback" and saves without a
    time; enters 10:30 two days ahead with a note and saves; then corrects the
    disposition to opt-out and saves.
    Expected: the desk shows the state going offline → ready → on_call, the pop shows
    the debtor masked with the amount owed and the debtor's time zone; "Saved 1
    promise(s)"; the database has the promise with the agent's id, followed up at 20:00
    on that day in the debtor's zone. The callback without a time shows the error
    naming callback_at; with the time, "Saved." and an open callback due at 10:30 in
    the debtor's zone (Asia/Shanghai), scheduled by 1001. After the opt-out, "Saved.",
    the debtor is on the opt-out list (reason naming the agent and the call), the
    callback is cancelled and the call's disposition is opt_out by 1001.
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
            zone = await step(lambda: browser.find_element(By.ID, "timezone").text)
            assert zone == "Asia/Shanghai"

            promised = datetime.now(SHANGHAI).date() + timedelta(days=3)

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
            attempt_id = await pool.fetchval("SELECT id FROM attempts WHERE campaign_id = $1",
                                             loaded.campaign_id)

            def dispose(kind: str, callback_at: str | None, note: str, expected: str) -> None:
                Select(browser.find_element(By.ID, "disposition")).select_by_value(kind)
                if callback_at is not None:
                    field = browser.find_element(By.ID, "callback-at")
                    assert field.is_displayed()  # shown for a callback only
                    browser.execute_script("arguments[0].value = arguments[1]", field,
                                           callback_at)
                box = browser.find_element(By.ID, "note")
                box.clear()
                if note:
                    box.send_keys(note)
                # The previous answer may read the same: start from nothing.
                browser.execute_script(
                    "document.getElementById('disposition-result').textContent = ''")
                browser.find_element(By.ID, "save-disposition").click()
                shown("disposition-result", expected)

            await step(dispose, "callback", "", "", "callback_at: a callback needs")
            callback_local = datetime.combine(
                datetime.now(SHANGHAI).date() + timedelta(days=2), time(10, 30))
            await step(dispose, "callback", f"{callback_local:%Y-%m-%dT%H:%M}",
                       "prefers mornings", "Saved.")
            callback = await pool.fetchrow(
                "SELECT due_at, agent_id, source, status FROM callbacks WHERE attempt_id = $1",
                attempt_id)
            assert callback["due_at"] == callback_local.replace(tzinfo=SHANGHAI)
            assert (callback["agent_id"], callback["source"], callback["status"]) == (
                "1001", "agent", "open")

            await step(dispose, "opt_out", None, "", "Saved.")
            reason = await pool.fetchval(
                "SELECT e.reason FROM dnc_entries e JOIN dnc_lists l ON l.id = e.list_id"
                " WHERE l.name = $1 AND e.debtor_id = $2", OPT_OUT_LIST,
                loaded.debtor_by_number[scenario.number])
            assert reason == f"asked agent 1001 on call {attempt_id}"
            assert await pool.fetchval("SELECT status FROM callbacks WHERE attempt_id = $1",
                                       attempt_id) == "cancelled"
            disposition = await pool.fetchrow(
                "SELECT kind, agent_id FROM call_dispositions WHERE attempt_id = $1", attempt_id)
            assert tuple(disposition) == ("opt_out", "1001")
            # The agent's phone hangs up at the end of its talk time: the call ends.
            await wait_all_final(pool, loaded.campaign_id, 1, timeout=60)
    finally:
        phone.stop()
        await asyncio.to_thread(phone.register, 0)
        await remove_agents(settings, pool)

    row = await pool.fetchrow("SELECT amount, due_date, follow_up_at, agent_id FROM promises")
    assert row["amount"] == Decimal("50.00") and row["due_date"] == promised
    assert row["agent_id"] == "1001"
    local = row["follow_up_at"].astimezone(SHANGHAI)
    assert (local.date(), local.hour) == (promised, 20)
    screenshot = await asyncio.to_thread((ARTEFACTS / "desk-screen-pop.png").read_bytes)
    assert screenshot.startswith(b"\x89PNG")
