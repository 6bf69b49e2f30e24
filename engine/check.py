"""`huilong check`: the settings are valid (else exit 2 before this runs); say what can
and cannot be reached: ARI, AMI, the database."""

from __future__ import annotations

import asyncio

import aiohttp

from db.errors import DbError
from db.pool import create_pool
from engine.ami import AmiError, one_action
from engine.settings import Settings


async def _check_ari(settings: Settings) -> str | None:
    ari = settings.ari
    headers = {"Authorization": aiohttp.encode_basic_auth(ari.username,
                                                          ari.password.get_secret_value())}
    url = ari.url.rstrip("/") + "/ari/asterisk/info"
    try:
        async with asyncio.timeout(ari.connect_timeout_s), aiohttp.ClientSession() as http, \
                http.get(url, headers=headers) as response:
            if response.status == 401:
                return "credentials refused (401)"
            if response.status != 200:
                return f"HTTP {response.status} from {url}"
            info = await response.json()
            return None if "system" in info else "unexpected answer"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


async def _check_ami(settings: Settings) -> str | None:
    try:
        await one_action(settings.ami, {"Action": "Ping"})
    except AmiError as exc:
        return str(exc)
    return None


async def _check_db(settings: Settings) -> str | None:
    url = settings.database_url()
    if not url:
        return "database.url / DATABASE_URL not set"
    try:
        pool = await create_pool(url, max_size=1, timeout=5)
    except DbError as exc:
        return str(exc)
    try:
        await pool.fetchval("SELECT 1")
    finally:
        await pool.close()
    return None


async def check(settings: Settings) -> int:
    results = await asyncio.gather(_check_ari(settings), _check_ami(settings),
                                   _check_db(settings))
    failed = 0
    for name, problem in zip(("ari", "ami", "database"), results, strict=True):
        print(f"{name:9} {'ok' if problem is None else 'FAIL: ' + problem}")
        failed += problem is not None
    return 1 if failed else 0
