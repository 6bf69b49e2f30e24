"""`huilong agents add|list|remove|sync`: agents and their SIP phones.

Every change rewrites the PJSIP include from the agent table and asks the PBX (over AMI)
to reload res_pjsip, so a new phone can register at once and a removed one cannot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import aiohttp
import asyncpg

from db.agents import AgentExists, AgentRepository, NoSuchAgent
from db.errors import DbError
from engine.agents.phones import (
    AgentConfigError,
    Phone,
    check_agent_id,
    check_display_name,
    digest_credential,
    new_password,
    render,
    write_atomically,
)
from engine.ami import AmiError, one_action
from engine.settings import Settings, SettingsError


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    agents = commands.add_parser("agents", help="agents and their SIP phones")
    actions = agents.add_subparsers(dest="agents_action", required=True)
    add = actions.add_parser("add", help="a new agent with a SIP phone account")
    add.add_argument("agent_id", help="3–8 digits: the phone's SIP user and extension")
    add.add_argument("--name", required=True, help="shown on the desk and as caller id")
    add.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    add.add_argument("--password-file", type=Path,
                     help="the SIP password (first line); default: a new one, printed once")
    actions.add_parser("list", help="agents, and whether each phone is registered")
    remove = actions.add_parser("remove", help="remove an agent; the phone is refused from now")
    remove.add_argument("agent_id")
    actions.add_parser("sync", help="rewrite the PBX's agent phones from the database")


def include_path(settings: Settings) -> Path:
    """Where the PJSIP include goes: the setting, or the lab PBX's config folder."""
    if settings.agents.pjsip_include is not None:
        return settings.agents.pjsip_include
    from engine.lab.lab import Lab

    lab = Lab(settings)
    try:
        return lab.pbx.host_dir("etc") / "pjsip_agents.conf"
    except Exception:
        raise SettingsError("agents.pjsip_include is not set (and no lab PBX is set up)") \
            from None


async def main(args: argparse.Namespace, settings: Settings) -> int:
    from engine.cli_portfolio import open_database

    try:
        async with open_database(settings) as pool:
            return await run(args, settings, pool)
    except DbError as exc:
        print(f"huilong agents: {exc}", file=sys.stderr)
        return 1


async def run(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> int:
    repository = AgentRepository(pool)
    try:
        match args.agents_action:
            case "add":
                return await _add(args, settings, repository)
            case "list":
                return await _list(settings, repository)
            case "remove":
                await repository.remove(check_agent_id(args.agent_id))
                print(f"agent {args.agent_id} removed")
                return await sync(settings, repository)
            case "sync":
                return await sync(settings, repository)
    except AgentConfigError as exc:
        print(f"huilong agents: {exc}", file=sys.stderr)
        return 2
    except (AgentExists, NoSuchAgent) as exc:
        print(f"huilong agents: {exc}", file=sys.stderr)
        return 1
    raise AssertionError(args.agents_action)


async def _add(args: argparse.Namespace, settings: Settings,
               repository: AgentRepository) -> int:
    agent_id = check_agent_id(args.agent_id)
    name = check_display_name(args.name)
    generated = args.password_file is None
    if generated:
        password = new_password()
    else:
        try:
            password = args.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            print(f"huilong agents: {args.password_file}: no password read ({exc})",
                  file=sys.stderr)
            return 2
        if len(password) < 8:
            print(f"huilong agents: {args.password_file}: the password needs at least 8 "
                  "characters", file=sys.stderr)
            return 2
    realm = settings.agents.realm
    await repository.add(agent_id, name, realm, digest_credential(agent_id, realm, password),
                         args.role)
    print(f"agent {agent_id} added")
    if generated:
        print(f"SIP password for {agent_id} (shown once): {password}")
    return await sync(settings, repository)


async def sync(settings: Settings, repository: AgentRepository) -> int:
    rows = await repository.active()
    path = include_path(settings)
    write_atomically(path, render(
        Phone(r.agent_id, r.display_name, r.realm, r.md5_cred) for r in rows))
    try:
        await one_action(settings.ami, {"Action": "Reload", "Module": "res_pjsip.so"})
    except AmiError as exc:
        print(f"huilong agents: {len(rows)} phones written to {path}, but the PBX was not "
              f"reloaded ({exc}); it loads them at its next reload", file=sys.stderr)
        return 0
    print(f"{len(rows)} agent phones written to {path}; the PBX reloaded them")
    return 0


async def _list(settings: Settings, repository: AgentRepository) -> int:
    rows = await repository.active()
    states = await _endpoint_states(settings)
    print(f"{'agent':8} {'role':10} {'phone':8} name")
    for row in rows:
        phone = states.get(row.agent_id, "?") if states is not None else "?"
        print(f"{row.agent_id:8} {row.role:10} {phone:8} {row.display_name}")
    if states is None:
        print("(phone state unknown: ARI not reachable)", file=sys.stderr)
    return 0


async def _endpoint_states(settings: Settings) -> dict[str, str] | None:
    """PJSIP endpoint → "online"/"offline" as ARI reports them; None if unreachable."""
    ari = settings.ari
    headers = {"Authorization": aiohttp.encode_basic_auth(ari.username,
                                                          ari.password.get_secret_value())}
    url = ari.url.rstrip("/") + "/ari/endpoints/PJSIP"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=ari.request_timeout_s)) as http, http.get(url, headers=headers) as reply:
            if reply.status != 200:
                return None
            return {e["resource"]: e.get("state", "?") for e in await reply.json()}
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None
