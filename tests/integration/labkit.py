"""What the integration tests share: simulated debtors, campaigns, an in-process daemon,
a subprocess daemon, a TCP proxy that can cut the ARI connection, and bounded waits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from db.attempts import AttemptRepository, AttemptRow
from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import TargetRepository
from engine.daemon import Daemon
from engine.lab.carrier import Scenario
from engine.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, timeout: float,
                     what: str, poll_s: float = 0.1) -> None:
    """Poll `predicate` until true; fail naming `what` after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            # Polling on purpose: the things waited for live in other processes.
            while not await predicate():  # noqa: ASYNC110
                await asyncio.sleep(poll_s)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


@dataclass(frozen=True, slots=True)
class Loaded:
    campaign_id: int
    debtor_by_number: dict[str, int]


async def load_campaign(pool: asyncpg.Pool, settings: Settings, scenarios: list[Scenario],
                        *, name: str, start: bool = True,
                        options: dict[str, object] | None = None) -> Loaded:
    """One debtor per scenario (phone +<number>), all targets of one campaign; `options`
    are added to the campaign's settings (e.g. the bot's script)."""
    debtors = DebtorRepository(pool, load_or_create_keyfile(settings.pii.keyfile))
    campaigns, targets = CampaignRepository(pool), TargetRepository(pool)
    # No country rule pack: these tests are about the telephony, at any hour of any day.
    campaign_id = await campaigns.create(name, "hold", {"packs": [], **(options or {})})
    by_number = {}
    for scenario in scenarios:
        debtor_id = await debtors.upsert_debtor(
            external_id=f"T-{scenario.number}", name="测试 用户", phones=[f"+{scenario.number}"],
            timezone="Asia/Shanghai",
            debts=[DebtInput(account_ref="L1", principal=Decimal("100.00"),
                             amount_due=Decimal("100.00"), overdue_days=30,
                             due_date=date.today() - timedelta(days=30))])
        phone = (await debtors.phones_of(debtor_id))[0]
        await targets.add(campaign_id, debtor_id, phone.id)
        by_number[scenario.number] = debtor_id
    if start:
        await campaigns.set_status(campaign_id, "running")
    return Loaded(campaign_id, by_number)


async def add_agents(settings: Settings, pool: asyncpg.Pool, agent_ids: tuple[str, ...],
                     password: str, role: str = "agent") -> None:
    """Agents (or supervisors) with SIP phone accounts, as `huilong agents add` makes
    them, and the PBX reloaded with their phones."""
    from db.agents import AgentRepository
    from engine.agents.phones import digest_credential
    from engine.cli_agents import sync

    repository = AgentRepository(pool)
    realm = settings.agents.realm
    for agent_id in agent_ids:
        await repository.add(agent_id, f"Agent {agent_id}", realm,
                             digest_credential(agent_id, realm, password), role)
    await sync(settings, repository)


def basic_auth(agent_id: str, password: str) -> dict[str, str]:
    """The Authorization header for the supervisor API (`POST /agents/...`). Built by
    hand: aiohttp.BasicAuth is deprecated (aiohttp 3.14) and warnings fail the tests."""
    token = base64.b64encode(f"{agent_id}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


async def remove_agents(settings: Settings, pool: asyncpg.Pool) -> None:
    """No agent phone left in the PBX's config for later tests."""
    from db.agents import AgentRepository
    from engine.cli_agents import sync

    await pool.execute("UPDATE agents SET removed_at = now() WHERE removed_at IS NULL")
    await sync(settings, AgentRepository(pool))


async def attempts_of(pool: asyncpg.Pool, campaign_id: int) -> dict[str, AttemptRow]:
    """Attempts of a campaign by dialled number (digits)."""
    repo = AttemptRepository(pool)
    rows = await pool.fetch(
        """SELECT a.id, d.external_id FROM attempts a JOIN debtors d ON d.id = a.debtor_id
           WHERE a.campaign_id = $1""", campaign_id)
    result = {}
    for row in rows:
        attempt = await repo.get(row["id"])
        assert attempt is not None
        result[row["external_id"].removeprefix("T-")] = attempt
    return result


async def wait_all_final(pool: asyncpg.Pool, campaign_id: int, count: int,
                         timeout: float = 60, poll_s: float = 0.1) -> dict[str, AttemptRow]:
    async def done() -> bool:
        rows = await pool.fetch("SELECT state FROM attempts WHERE campaign_id = $1", campaign_id)
        return len(rows) == count and all(r["state"] == "final" for r in rows)

    await wait_until(done, timeout=timeout, what=f"{count} final attempts", poll_s=poll_s)
    return await attempts_of(pool, campaign_id)


async def wait_answered(pool: asyncpg.Pool, campaign_id: int, count: int,
                        timeout: float = 30) -> None:
    async def answered() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM attempts WHERE campaign_id = $1 "
                                "AND answered_at IS NOT NULL AND state <> 'final'", campaign_id)
        return n >= count

    await wait_until(answered, timeout=timeout, what=f"{count} answered live calls")


@contextlib.asynccontextmanager
async def running_daemon(settings: Settings) -> AsyncIterator[Daemon]:
    """The real daemon in this event loop, stopped (drained) on exit."""
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run(), name="daemon-under-test")
    try:
        async with asyncio.timeout(30):
            ready = asyncio.create_task(daemon.ready.wait())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                await task
            await daemon.ari.connected.wait()
        yield daemon
    finally:
        daemon.request_stop()
        async with asyncio.timeout(60):
            code = await task
        assert code == 0


class DaemonProcess:
    """`huilong run` as its own process, as systemd would start it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "run"], cwd=PROJECT_DIR,
                                     env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        stream = self.proc.stdout
        assert stream is not None
        self._reader = threading.Thread(target=lambda: self._lines.extend(stream), daemon=True)
        self._reader.start()

    def peek(self) -> str:
        """What the daemon printed so far."""
        return "".join(self._lines)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> tuple[int, str]:
        assert self.proc is not None
        proc = self.proc
        try:
            code = await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise AssertionError(f"daemon did not exit within {timeout:g} s:\n{self.output()}") \
                from None
        output = self.output()
        self._close()
        return code, output

    def output(self) -> str:
        """Everything the daemon printed (complete once it has exited)."""
        if self._reader is not None and self.proc is not None and self.proc.poll() is not None:
            self._reader.join(timeout=5)
        return self.peek()

    async def stop(self, sig: signal.Signals, timeout: float) -> tuple[int, str]:
        """Send `sig`, wait for the exit (killing it if it does not come)."""
        try:
            self.signal(sig)
            return await self.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None and not self.proc.stdout.closed:
            if self._reader is not None:
                self._reader.join(timeout=5)
            self.proc.stdout.close()


class CuttableProxy:
    """A loopback TCP proxy in front of Asterisk's HTTP port. `cut()` drops every
    connection and refuses new ones until `restore()`: the ARI websocket dies mid-call."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()
            self._writers.discard(dst)

    def cut(self) -> None:
        self._open = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self._open = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()


def cli_runner(dsn: str, tmp_path: Path
               ) -> Callable[..., Awaitable[subprocess.CompletedProcess[str]]]:
    """`huilong …` as an operator runs it, on the test's database (an empty config, the
    keys in `tmp_path`); keyword arguments are extra environment variables."""
    config = tmp_path / "huilong.toml"
    config.write_text("", encoding="utf-8")
    env = {**os.environ, "HUILONG_CONFIG": str(config), "HUILONG_DATABASE__URL": dsn,
           "HUILONG_PII__KEYFILE": str(tmp_path / "keys.json")}

    async def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "engine.cli", *args], cwd=PROJECT_DIR,
            env={**env, **extra_env}, capture_output=True, text=True, timeout=120)

    return run
