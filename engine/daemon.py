"""`huilong run`: the daemon. One task group holds the ARI connection, the AMI probe,
the HTTP server, the database probe, the watchdog and the campaign scheduler.

Shutdown in phases (SIGTERM or SIGINT): stop dialling, wait for live calls up to
`lifecycle.drain_timeout_s`, hang up what is left and wait for those calls to be
recorded, then cancel the rest. A second signal cancels at once. SIGHUP reloads the
settings that can change at run time (dialling limits, drain time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from db.agents import AgentRepository
from db.attempts import AttemptRepository
from db.bot import BotRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtorRepository
from db.desk import DeskRepository
from db.errors import DbError
from db.pool import create_pool
from db.requeue import ReminderTiming, requeue_round
from db.targets import TargetRepository
from engine import metrics
from engine.agents.flows import AgentCampaignError, AgentFlows
from engine.agents.service import AgentService
from engine.agents.state import AgentStatus
from engine.ami import AmiClient, AmiError
from engine.ari.client import AriRest
from engine.ari.events import AriEvent
from engine.ari.supervisor import AriSupervisor, backoff_delays
from engine.best_time_planner import planner_for
from engine.bot import BotFlows, prepare_bot
from engine.campaign import CampaignRunner, CheckEligibility, always_first_number
from engine.desk.web import Desk
from engine.dialer import Dialer, reconcile, recover_orphans, route_event
from engine.eligibility import EligibilityChecker
from engine.http_api import Health, build_app, start_site
from engine.pacing import policy_for
from engine.payments_api import webhook_for
from engine.session import HANGUP_GRACE_S, CallRegistry
from engine.settings import Settings, SettingsError, load_settings
from engine.systemd import Notifier, watchdog_interval_s
from predictive.model import Policy

log = logging.getLogger(__name__)


class _Stop(Exception):
    """Raised inside the task group to end it once draining is done."""


class Daemon:
    def __init__(self, settings: Settings, config_file: Path | None = None) -> None:
        self.settings = settings
        self.config_file = config_file
        self.registry = CallRegistry()
        self.notifier = Notifier()
        self.ari = AriSupervisor(settings.ari, self._on_ari_event, self._on_ari_connected)
        self.ami = AmiClient(settings.ami)
        self.pool: asyncpg.Pool | None = None
        self.agents: AgentService | None = None  # once the database is open
        self.desk: Desk | None = None
        self.db_ok = False
        self.draining = False
        self.http_port: int | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._stray: asyncio.Queue[str] = asyncio.Queue()
        self._runners: dict[int, asyncio.Task[None]] = {}
        self.runners: dict[int, CampaignRunner] = {}  # the live ones, for inspection
        # campaign settings, slots → the pacing policy object (predictive/ registry)
        self.policy_for: Callable[[dict[str, Any], int], Policy] = policy_for
        self._dialer: Dialer | None = None
        self._signals = 0
        # Who leases call lists: unique per process and Stasis app.
        self.worker = f"{socket.gethostname()}/{os.getpid()}/{settings.ari.app}"
        self.check_eligibility: CheckEligibility = always_first_number

    # -- public ----------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def health(self) -> Health:
        details = {}
        if not self.ari.is_connected:
            details["ari"] = self.ari.last_error or "connecting"
        if not self.ami.alive:
            details["ami"] = self.ami.last_error or "connecting"
        if not self.db_ok:
            details["database"] = "not answering"
        return Health(ari=self.ari.is_connected, ami=self.ami.alive, database=self.db_ok,
                      draining=self.draining, live_calls=len(self.registry), details=details)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        runner = None
        bot = None
        if self.settings.bot.enabled:
            # Before anything connects: a bad model, script or sounds folder stops here.
            bot = await prepare_bot(self.settings.bot, self.settings.ari.app,
                                    self.settings.dial.max_call_s)
        try:
            async with asyncio.TaskGroup() as tasks:
                runner, self.http_port = await start_site(
                    build_app(self.health, lambda: self.agents, lambda: self.desk,
                              lambda: webhook_for(self.settings.payments, self.pool),
                              lambda: self.pool),
                    self.settings.http.host,
                    self.settings.http.port)
                tasks.create_task(self.ari.run(), name="ari")
                tasks.create_task(self.ami.run(), name="ami")
                tasks.create_task(self._watchdog(), name="watchdog")
                tasks.create_task(self._hang_up_strays(), name="strays")
                await self._open_database()
                tasks.create_task(self._probe_database(), name="db-probe")
                await self._start_agents(tasks)
                cipher = self._cipher()
                assert self.agents is not None
                self.desk = Desk(self.agents, AgentRepository(self.pool),
                                 DeskRepository(self.pool, cipher), self.settings.agents.realm)
                self.check_eligibility = EligibilityChecker(self.pool, cipher)
                self._dialer = Dialer(self.settings, self.registry, AttemptRepository(self.pool),
                                      DebtorRepository(self.pool, cipher),
                                      lambda: self.ari.rest, tasks)
                assert self.agents is not None
                dialer = self._dialer
                # An agent back from wrap-up is a line to dial for now, not at the next tick.
                self.agents.listeners.append(
                    lambda agent: dialer.wake() if agent.status is AgentStatus.READY else None)
                self._dialer.agent_flows = AgentFlows(
                    self.agents, self.settings.agents, self.settings.ari.app,
                    self.settings.dial.caller_id, lambda: self.ari.rest,
                    AttemptRepository(self.pool),
                    bot.prompts.media_for if bot is not None else None,
                    self.settings.bot.recordings_view, self.settings.dial.max_call_s)
                if bot is not None:
                    tasks.create_task(bot.media_clock.run(), name="media-clock")
                    self._dialer.bot = BotFlows(bot, BotRepository(self.pool, cipher),
                                                lambda: self.ari.rest)
                    self._enable_hand_off(self._dialer.bot, self._dialer.agent_flows)
                tasks.create_task(self._schedule_campaigns(tasks), name="campaigns")
                self.ready.set()
                self.notifier.ready(f"running on :{self.http_port}")
                log.info("huilong running; health on http://%s:%s/healthz",
                         self.settings.http.host, self.http_port)
                await self._stop.wait()
                await self._drain()
                raise _Stop
        except* _Stop:
            pass
        finally:
            self._remove_signals(loop)
            await self._cleanup(runner)
        log.info("huilong stopped")
        return 0

    # -- start-up --------------------------------------------------------------------

    def _cipher(self):
        return load_or_create_keyfile(self.settings.pii.keyfile)

    async def _open_database(self) -> None:
        url = self.settings.database_url()
        if not url:
            raise SettingsError("database.url is not set (nor DATABASE_URL)")
        delays = backoff_delays(10.0)
        while True:
            try:
                self.pool = await create_pool(url, min_size=self.settings.database.min_pool,
                                              max_size=self.settings.database.max_pool, timeout=5)
                self.db_ok = True
                metrics.DB_UP.set(1)
                return
            except DbError as exc:
                log.warning("database not reachable yet: %s", exc)
            await asyncio.sleep(next(delays))

    # -- ARI -------------------------------------------------------------------------

    def _on_ari_event(self, event: AriEvent) -> None:
        """The reader's hand-off: route, never await."""
        owned = route_event(self.registry, event)
        if not owned and event.type == "StasisStart" and event.channel is not None:
            self._stray.put_nowait(event.channel.id)

    async def _on_ari_connected(self, rest: AriRest) -> None:
        metrics.ARI_RECONNECTS.inc()
        metrics.ARI_CONNECTED.set(1)
        channels = await rest.channel_states()
        reconcile(self.registry, channels)
        if self.pool is not None:
            try:
                closed = await recover_orphans(AttemptRepository(self.pool), self.registry, rest)
                if closed:
                    log.warning("closed %d attempts left open by an earlier run", closed)
            except DbError as exc:
                log.warning("orphan recovery postponed: %s", exc)

    async def _hang_up_strays(self) -> None:
        """Channels that entered our Stasis app without a session (no flow owns them yet)."""
        while True:
            channel_id = await self._stray.get()
            rest = self.ari.rest
            if rest is None:
                continue
            log.warning("channel %s entered Stasis without a call session; hanging up",
                        channel_id)
            with contextlib.suppress(Exception):
                await rest.hangup(channel_id)

    # -- campaigns -------------------------------------------------------------------

    def _may_dial(self) -> bool:
        return not self.draining and self.ari.is_connected and self.db_ok

    async def _schedule_campaigns(self, tasks: asyncio.TaskGroup) -> None:
        assert self.pool is not None and self._dialer is not None
        targets = TargetRepository(self.pool)
        await targets.recover_unlinked()
        next_requeue = 0.0
        while not self.draining:
            if self._may_dial():
                try:
                    if time.monotonic() >= next_requeue:
                        next_requeue = time.monotonic() + self.settings.followup.requeue_interval_s
                        followup = self.settings.followup
                        await requeue_round(self.pool, ReminderTiming(
                            followup.reminder_days_before, followup.grace_days))
                    for campaign_id in await targets.running_campaign_ids():
                        if campaign_id not in self._runners:
                            self._runners[campaign_id] = tasks.create_task(
                                self._run_campaign(campaign_id, targets),
                                name=f"campaign-{campaign_id}")
                except DbError as exc:
                    log.warning("campaign scheduling paused: %s", exc)
            metrics.LIVE_CALLS.set(len(self.registry))
            await asyncio.sleep(1.0)

    async def _run_campaign(self, campaign_id: int, targets: TargetRepository) -> None:
        assert self._dialer is not None
        slots = self.settings.dial.max_concurrent_calls
        settings = await targets.campaign_settings(campaign_id)
        script = settings.get("script")
        agent_counts = None
        if settings.get("agents"):
            flows = self._dialer.agent_flows
            try:
                if flows is None:
                    raise AgentCampaignError("the agent registry is not loaded")
                flows.check_ready()
            except AgentCampaignError as exc:
                log.error("campaign %d not started: %s", campaign_id, exc)
                return
            agent_counts = flows.agents.pacing_counts
            script = None  # answered calls go to agents
        elif script is not None:
            if self._dialer.bot is None or not self._dialer.bot.has_script(script):
                log.error("campaign %d not started: script %r needs the voice bot ([bot] "
                          "enabled) and a script pack of that name", campaign_id, script)
                return
            # For a bot campaign the "agents" the pacing serves are bot slots: bounded by
            # the trunk (max_concurrent_calls) and by what the recogniser can serve.
            slots = min(slots, self.settings.bot.max_calls)
        try:
            policy = self.policy_for(settings, slots)
        except KeyError as exc:
            log.error("campaign %d not started: %s", campaign_id, exc)
            return
        runner = CampaignRunner(campaign_id, self._dialer, targets, self.registry, slots,
                                self._may_dial, self.check_eligibility, self.worker, policy,
                                script=script, agents=agent_counts,
                                amd=bool(settings.get("amd")) and agent_counts is not None)
        self.runners[campaign_id] = runner
        try:
            if settings.get("best_time"):
                runner.plan = await planner_for(self.pool, campaign_id, settings["best_time"],
                                                policy)
            await runner.run()
            progress = await targets.progress(campaign_id)
            if progress.pending == 0 and progress.dialling == 0:
                await targets.finish_campaign(campaign_id)
                log.info("campaign %d finished (%d numbers)", campaign_id, progress.total)
        except DbError as exc:
            log.warning("campaign %d paused by a database error: %s", campaign_id, exc)
        finally:
            self._runners.pop(campaign_id, None)

    # -- health and lifecycle ----------------------------------------------------------

    async def _probe_database(self) -> None:
        assert self.pool is not None
        while True:
            try:
                async with asyncio.timeout(3):
                    await self.pool.fetchval("SELECT 1")
                self.db_ok = True
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                self.db_ok = False
            metrics.DB_UP.set(1 if self.db_ok else 0)
            metrics.ARI_CONNECTED.set(1 if self.ari.is_connected else 0)
            await asyncio.sleep(2.0)

    async def _watchdog(self) -> None:
        interval = watchdog_interval_s() or self.settings.lifecycle.watchdog_interval_s
        while True:
            self.notifier.watchdog()
            health = self.health()
            self.notifier.status(f"{'ok' if health.ok else 'degraded'}; "
                                 f"{health.live_calls} live calls")
            await asyncio.sleep(interval)

    async def _start_agents(self, tasks: asyncio.TaskGroup) -> None:
        assert self.pool is not None
        agents = AgentService(AgentRepository(self.pool), asyncio.get_running_loop().time,
                              self.settings.agents.wrap_up_s)
        await agents.load()
        self.ami.on_event("ContactStatus", agents.on_contact_status)
        self.ami.on_event("UserEvent", agents.on_user_event)
        tasks.create_task(agents.run(), name="agents")
        tasks.create_task(self._seed_agent_phones(agents), name="agent-phones")
        self.agents = agents

    def _enable_hand_off(self, bot: BotFlows, agents: AgentFlows) -> None:
        """The bot hands calls to agents when an unserved hand-off can end lawfully
        (the message names the institution and a callback number); otherwise it ends
        them politely and queues an agent task, as before."""
        try:
            agents.check_ready()
        except AgentCampaignError as exc:
            log.info("voice bot hand-offs end the call with an agent task: %s", exc)
            return
        bot.hand_off = agents.flow(handoff=True)

    async def _seed_agent_phones(self, agents: AgentService) -> None:
        """Which agent phones are registered right now: once, as soon as AMI answers."""
        delays = backoff_delays(5.0)
        while True:
            try:
                contacts = await self.ami.action_list({"Action": "PJSIPShowContacts"})
            except AmiError:
                await asyncio.sleep(next(delays))
                continue
            await agents.seed_reachability([dict(c) for c in contacts])
            return

    async def _drain(self) -> None:
        self.draining = True
        metrics.DRAINING.set(1)
        self.notifier.stopping(f"draining {len(self.registry)} live calls")
        log.info("draining: no new calls; %d live", len(self.registry))
        if not await self._wait_for_calls(self.settings.lifecycle.drain_timeout_s):
            log.warning("drain time is up: hanging up %d calls", len(self.registry))
            for session in self.registry.sessions():
                session.request_hangup("shutdown")
            await self._wait_for_calls(HANGUP_GRACE_S + 5)

    async def _wait_for_calls(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                while len(self.registry):
                    await asyncio.gather(*(s.finished.wait() for s in self.registry.sessions()))
            return True
        except TimeoutError:
            return False

    async def _cleanup(self, runner) -> None:
        with contextlib.suppress(Exception):
            self.ami.close()
        if runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(runner.cleanup())
        if self.pool is not None:
            try:
                async with asyncio.timeout(5):
                    await asyncio.shield(self.pool.close())
            except (TimeoutError, Exception):
                self.pool.terminate()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        main = asyncio.current_task()
        self._main_task = main

        def on_stop(signum: int) -> None:
            self._signals += 1
            if self._signals == 1:
                log.info("signal %s: draining (send again to force)", signal.Signals(signum).name)
                self.request_stop()
            elif main is not None:
                log.warning("second signal: stopping now")
                main.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

    def reload(self) -> None:
        """SIGHUP: re-read the settings; dialling limits and drain time apply at once."""
        self.notifier.reloading()
        try:
            fresh = load_settings(self.config_file)
        except SettingsError as exc:
            log.error("reload refused, keeping the running settings: %s", exc)
            return
        self.settings.dial = fresh.dial
        self.settings.lifecycle = fresh.lifecycle
        log.info("settings reloaded")
        self.notifier.ready("reloaded")
