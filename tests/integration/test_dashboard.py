"""The supervisor dashboard in a real browser (Debian's chromium, headless, driven by
Selenium) against a real PostgreSQL and no Asterisk: the analytics tests' hand-made
history (tests/integration/analytics_history.py) and an agent registry set by hand.
Every figure the page shows equals the one `GET /api/report` gives for the same query,
also after the data change under it; only supervisors may open it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from db.agents import AgentRepository
from engine.agents.registry import AgentRegistry
from engine.agents.state import Connected, LogIn, Pause, PhoneReachable
from engine.desk.web import Desk
from engine.http_api import Health, build_app
from tests.integration.analytics_history import REALM, Call, add_call, seed
from tests.integration.browser import headless_chromium

ARTEFACTS = Path(__file__).resolve().parents[2] / ".state" / "artefacts"
QUERY = "from=2024-06-01&to=2024-06-08&tz=Asia/Shanghai"
HEALTH = Health(ari=True, ami=True, database=True, draining=False, live_calls=0, details={})
FIGURES = {"attempts", "connect_rate", "live_answer_rate", "right_party_contacts",
           "promise_rate", "promised_amount", "kept_rate", "recovered_amount", "abandon_rate",
           "bot_containment", "talk_minutes", "average_talk_s"}
WAIT_S = 20


def basic(agent_id: str, password: str = "pw") -> dict[str, str]:
    token = base64.b64encode(f"{agent_id}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def staffed() -> AgentRegistry:
    """1002 on a call, 1001 ready, 1003 logged in without a reachable phone (paused),
    1900 (the supervisor) offline."""
    registry = AgentRegistry(["1001", "1002", "1003", "1900"])
    for n, agent_id in enumerate(("1002", "1001")):
        registry.handle(agent_id, PhoneReachable(True), 0.0)
        registry.handle(agent_id, LogIn(), 1.0 + n)
    registry.reserve_longest_idle("call-1", 2.5)  # 1002 has waited longest
    registry.handle("1002", Connected("call-1"), 3.0)
    registry.handle("1003", LogIn(), 1.0)
    return registry


@dataclass
class Served:
    client: TestClient
    registry: AgentRegistry
    base: str

    async def report(self, query: str) -> dict[str, Any]:
        reply = await self.client.get(f"/api/report?{query}", headers=basic("1900"))
        assert reply.status == 200
        body: dict[str, Any] = await reply.json()
        return body

    async def agents(self) -> dict[str, Any]:
        reply = await self.client.get("/api/dashboard/agents", headers=basic("1900"))
        assert reply.status == 200
        body: dict[str, Any] = await reply.json()
        return body


@pytest.fixture
async def served(db_pool: asyncpg.Pool) -> AsyncIterator[Served]:
    """The daemon's HTTP app on a local port over the seeded history; campaign 2 sets an
    abandon cap of 5 %, campaign 1 none (the pacing default, 3 %)."""
    await seed(db_pool)
    await db_pool.execute(
        "UPDATE campaigns SET settings = '{\"abandon_cap\": 0.05}'::jsonb WHERE id = 2")
    registry = staffed()
    service = SimpleNamespace(registry=registry, listeners=[])
    desk = Desk(service, AgentRepository(db_pool), SimpleNamespace(), REALM)  # type: ignore[arg-type]
    app = build_app(lambda: HEALTH, agents=lambda: service, desk=lambda: desk,
                    reports=lambda: db_pool)
    async with TestClient(TestServer(app)) as client:
        yield Served(client, registry, str(client.make_url("")).rstrip("/"))


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium(2200, console_log=True) as driver:
        yield driver


# What the page shows, read in one script run (between two of its refreshes).
SNAPSHOT = """
const bars = (id) => Number(document.getElementById(id).getAttribute("data-bars") || 0);
const all = (selector) => [...document.querySelectorAll(selector)];
return {
  updates: Number(document.body.dataset.updates || 0),
  bars: {hours: bars("hours-chart"), funnel: bars("funnel-chart"),
         abandon: bars("abandon-charts"), agents: bars("agents-chart")},
  figures: all("[data-metric]").map((e) => ({metric: e.dataset.metric, kind: e.dataset.kind,
                                             value: e.dataset.value ?? null,
                                             text: e.textContent})),
  agents: Object.fromEntries(all("[data-agents]").map(
    (e) => [e.dataset.agents, Number(e.textContent)])),
  campaign: document.getElementById("campaign-name").textContent,
  captions: all("#abandon-charts figcaption").map((e) => e.textContent),
  caps: all("#abandon-charts line.cap").length,
  options: all("#campaign option").map((e) => e.textContent),
  error: document.getElementById("error").textContent,
};
"""


def snapshot(driver: webdriver.Chrome) -> dict[str, Any]:
    state: dict[str, Any] = driver.execute_script(SNAPSHOT)
    return state


def rendered(driver: webdriver.Chrome) -> dict[str, Any] | bool:
    """The snapshot once data has arrived and every chart has bars, else False."""
    state = snapshot(driver)
    return state if state["updates"] >= 1 and all(state["bars"].values()) else False


def _tenths(value: float) -> Decimal:
    # JavaScript's toFixed(1): the exact binary value, ties away from zero.
    return Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def written(kind: str, value: Any) -> str:
    """The text the page should show for a figure (as format.js writes it)."""
    if value is None:
        return "–"
    if kind == "count":
        return f"{value:,}"
    if kind == "rate":
        return f"{_tenths(value * 100)}%"
    if kind == "minutes":
        return f"{_tenths(value)} min"
    if kind == "seconds":
        return f"{_tenths(value)} s"
    assert kind == "money"
    return " · ".join(f"{c} {Decimal(a):,}" for c, a in sorted(value.items())) or "–"


def expected_value(total: dict[str, Any], metric: str) -> Any:
    if metric == "talk_minutes":  # the page's one derived figure (format.js)
        return total["talk_calls"] * total["average_talk_s"] / 60 if total["talk_calls"] else 0
    return total[metric]


def assert_shows_report(state: dict[str, Any], report: dict[str, Any]) -> None:
    """Every figure's value is the API's `total` as received, its text that value
    written; each chart has a bar per figure it draws."""
    shown = {f["metric"]: f for f in state["figures"]}
    assert set(shown) == FIGURES and len(state["figures"]) == len(FIGURES)
    total = report["total"]
    for metric, figure in shown.items():
        expected = expected_value(total, metric)
        assert json.loads(figure["value"]) == expected, metric
        assert figure["text"] == written(figure["kind"], expected), metric
    hours = sum((h["connect_rate"] is not None) + (h["live_answer_rate"] is not None)
                for h in report["hours"])
    days = sum(d["abandon_rate"] is not None for d in report["days"])
    assert state["bars"] == {"hours": hours, "funnel": 5, "abandon": days, "agents": 6}
    assert not state["error"]


async def test_the_dashboard_shows_the_report_and_follows_changes(served: Served,
                                                                  browser, db_pool) -> None:
    """Steps: a browser without a session opens /dashboard; supervisor 1900 logs in on the
    desk's log-in page and opens /dashboard for 1–7 June (Shanghai), refreshing every
    second; then picks campaign 1 ("春季 bot") in the selector; then two calls of
    campaign 1 are added to the database and agent 1001 pauses.
    Expected: without a session the browser lands on /desk/login. Once the charts have
    bars, every headline figure equals GET /api/report's for the same query (value and
    text), the charts have one bar per hour rate, funnel step, day with live answers and
    agent state; the abandon charts show campaign 1 with the default cap 3.0 %, campaign
    2 with its 5.0 %, the calls outside campaigns without a cap; the agents by state are
    the registry's. After the selection the address names campaign 1 and the figures
    are the API's for it. After the change, without any reload, the page's attempts grow
    by two, every figure again equals the API's, and 1001 counts as paused; the browser
    logged no error."""
    base, step = served.base, asyncio.to_thread  # browser steps leave the loop free

    def open_without_session() -> str:
        browser.get(base + "/dashboard")
        return str(browser.current_url)

    assert (await step(open_without_session)).endswith("/desk/login")

    def log_in_and_open() -> dict[str, Any]:
        browser.find_element(By.ID, "agent").send_keys("1900")
        browser.find_element(By.ID, "password").send_keys("pw")
        browser.find_element(By.ID, "login").click()
        WebDriverWait(browser, WAIT_S).until(ready.url_to_be(base + "/desk"))
        browser.get(f"{base}/dashboard?{QUERY}&refresh=1")
        state = WebDriverWait(browser, WAIT_S).until(rendered)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTEFACTS / "dashboard-all.png"))
        return state  # type: ignore[no-any-return]

    state = await step(log_in_and_open)
    assert_shows_report(state, await served.report(QUERY))
    assert state["campaign"] == "all campaigns"
    assert state["options"] == ["All campaigns", "春季 bot", "=agents", "idle"]
    assert state["captions"] == ["春季 bot · cap 3.0%", "=agents · cap 5.0%",
                                 "(no campaign) · no cap"]
    assert state["caps"] == 2
    agents = await served.agents()
    assert state["agents"] == agents["states"] == {
        "offline": 1, "ready": 1, "reserved": 0, "on_call": 1, "wrap_up": 0, "paused": 1}

    def choose_campaign_1() -> dict[str, Any]:
        Select(browser.find_element(By.ID, "campaign")).select_by_value("1")
        WebDriverWait(browser, WAIT_S).until(ready.url_contains("campaign=1"))
        return WebDriverWait(browser, WAIT_S).until(  # type: ignore[no-any-return]
            lambda d: (s := rendered(d)) and s["campaign"] == "春季 bot" and s)

    state = await step(choose_campaign_1)
    address = urlsplit(await step(lambda: browser.current_url))
    assert parse_qs(address.query) == {  # the form's last day back to the API's end day
        "campaign": ["1"], "from": ["2024-06-01"], "to": ["2024-06-08"],
        "tz": ["Asia/Shanghai"], "refresh": ["1"]}
    one = f"{QUERY}&campaign=1"
    assert_shows_report(state, await served.report(one))
    assert state["captions"] == ["春季 bot · cap 3.0%"]

    attempts = json.loads(next(f["value"] for f in state["figures"]
                               if f["metric"] == "attempts"))
    await add_call(db_pool, Call(1, 2, "2024-06-05 02:00", 4, 50, right_party=True,
                                 outcome="promise", promises=(("120.50", "CNY", "open"),)))
    await add_call(db_pool, Call(1, 3, "2024-06-05 02:30"))
    served.registry.handle("1001", Pause("break"), 10.0)

    def refreshed(driver: webdriver.Chrome) -> dict[str, Any] | bool:
        s = snapshot(driver)
        values = {f["metric"]: f["value"] for f in s["figures"]}
        return s if (json.loads(values["attempts"] or "0") == attempts + 2
                     and s["agents"].get("paused") == 2) else False

    def wait_for_refresh() -> dict[str, Any]:
        changed = WebDriverWait(browser, WAIT_S).until(refreshed)
        browser.save_screenshot(str(ARTEFACTS / "dashboard.png"))
        return changed  # type: ignore[no-any-return]

    state = await step(wait_for_refresh)
    report = await served.report(one)
    assert report["total"]["attempts"] == attempts + 2
    assert report["total"]["promised_amount"]["CNY"].endswith(".50")
    assert_shows_report(state, report)
    assert state["agents"] == (await served.agents())["states"]
    # No script error, nothing refused by the page's content security policy.
    problems = [e["message"] for e in await step(browser.get_log, "browser")
                if e["level"] == "SEVERE" and "/favicon.ico" not in e["message"]]
    assert not problems
    picture = await step((ARTEFACTS / "dashboard.png").read_bytes)
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")


async def test_only_supervisors_open_it(served: Served) -> None:
    """Steps: the page and its two JSON endpoints without credentials, with a wrong
    password, as agent 1001 (HTTP Basic, then a desk session), as supervisor 1900; the
    page's script and a name outside its files.
    Expected: the page sends a browser without a session to /desk/login, the endpoints
    answer 401 (with a Basic challenge); a wrong password 401; the agent 403 both ways;
    the supervisor gets the page (scripts from this server only) and the campaigns with
    their abandon caps (5 % set, 3 % by default), Chinese names intact; the script is
    served, anything else under /dashboard/static is 404."""
    client = served.client
    away = await client.get("/dashboard", allow_redirects=False)
    assert away.status == 302 and away.headers["Location"] == "/desk/login"
    for path in ("/api/dashboard/campaigns", "/api/dashboard/agents"):
        refused = await client.get(path)
        assert refused.status == 401 and "Basic" in refused.headers["WWW-Authenticate"]
        assert (await client.get(path, headers=basic("1001"))).status == 403
    assert (await client.get("/dashboard", headers=basic("1900", "wrong"))).status == 401
    assert (await client.get("/dashboard", headers=basic("1001"))).status == 403

    page = await client.get("/dashboard", headers=basic("1900"))
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert 'data-metric="recovered_amount"' in await page.text()
    campaigns = await (await client.get("/api/dashboard/campaigns", headers=basic("1900"))).json()
    assert [(c["id"], c["name"], c["abandon_cap"]) for c in campaigns] == [
        (1, "春季 bot", 0.03), (2, "=agents", 0.05), (3, "idle", 0.03)]

    script = await client.get("/dashboard/static/format.js")
    assert script.status == 200 and "metricValue" in await script.text()
    for name in ("web.py", "..%2Fweb.py", "dashboard.html"):
        assert (await client.get(f"/dashboard/static/{name}")).status == 404

    logged_in = await client.post("/desk/login", data={"agent": "1001", "password": "pw"},
                                  allow_redirects=False)
    assert logged_in.status == 302 and logged_in.headers["Location"] == "/desk"
    assert (await client.get("/dashboard", allow_redirects=False)).status == 403
    assert (await client.get("/api/dashboard/agents")).status == 403
