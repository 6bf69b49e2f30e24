"""The `huilong` command line.

Exit codes: 0 success, 1 failure at run time, 2 unusable configuration or arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from engine.settings import Settings, SettingsError, load_settings

log = logging.getLogger("huilong")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huilong",
                                     description="Outbound calls for debt collection")
    parser.add_argument("-c", "--config", type=Path, help="TOML settings file "
                        "(default: $HUILONG_CONFIG, ./huilong.toml, .state/huilong.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="run the daemon")
    commands.add_parser("check", help="check the settings and what can be reached")

    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations")

    lab = commands.add_parser("lab", help="the local lab: PBX, carrier, PostgreSQL")
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)
    lab_commands.add_parser("provision",
                            help="install Asterisk and initialise the database cluster")
    lab_commands.add_parser("up", help="provision and start everything")
    lab_commands.add_parser("down", help="stop everything the lab started")
    lab_commands.add_parser("status", help="what runs")

    from engine import cli_agents, cli_followup, cli_portfolio, cli_report

    cli_portfolio.add_commands(commands)
    cli_agents.add_commands(commands)
    cli_followup.add_commands(commands)
    cli_report.add_commands(commands)

    demo = commands.add_parser("demo", help="a simulated campaign on the lab")
    demo.add_argument("--debtors", type=int, default=12)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet = args.command == "demo"  # the demo prints its own progress
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("asyncari", "asyncswagger11", "httpx", "httpcore", "engine.ami.panoramisk"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not args.verbose else logging.INFO)
    # asyncari warns for every event type its object model has no handler for (DialResult…).
    logging.getLogger("asyncari.model").setLevel(logging.ERROR)
    if args.command == "lab" and args.lab_command in ("up", "provision"):
        _ensure_lab_config()
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"huilong: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(args, settings)
    except SettingsError as exc:
        print(f"huilong: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _ensure_lab_config() -> None:
    from engine.lab.lab import write_lab_config
    from engine.settings import find_config_file

    if find_config_file() is None:
        path = write_lab_config(Path(".state"))
        print(f"lab settings written to {path}", file=sys.stderr)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "run":
            return _run(settings, args.config)
        case "check":
            from engine.check import check

            return asyncio.run(check(settings))
        case "db":
            return asyncio.run(_migrate(settings))
        case "lab":
            return _lab(args.lab_command, settings)
        case "import" | "segments" | "campaign" | "explain" | "keys" | "debtor":
            from engine import cli_portfolio

            return asyncio.run(cli_portfolio.run(args, settings))
        case "agents":
            from engine import cli_agents

            return asyncio.run(cli_agents.main(args, settings))
        case "promises":
            from engine import cli_followup

            return asyncio.run(cli_followup.run(args, settings))
        case "report":
            from engine import cli_report

            return asyncio.run(cli_report.run(args, settings))
        case "demo":
            from engine.demo import run_demo

            return asyncio.run(run_demo(settings, debtors=args.debtors))
    raise AssertionError(args.command)


def _run(settings: Settings, config: Path | None) -> int:
    from engine.bot import BotSetupError
    from engine.daemon import Daemon

    try:
        return asyncio.run(Daemon(settings, config).run())
    except BotSetupError as exc:
        print(f"huilong: voice bot: {exc}", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        print("huilong: forced exit", file=sys.stderr)
        return 1


async def _migrate(settings: Settings) -> int:
    from db.errors import DbError
    from db.migrate import current_version, migrate
    from db.pool import create_pool

    url = settings.database_url()
    if not url:
        raise SettingsError("database.url is not set (nor DATABASE_URL)")
    try:
        pool = await create_pool(url, max_size=1)
        async with pool.acquire() as conn:
            applied = await migrate(conn)
            version = await current_version(conn)
        await pool.close()
    except DbError as exc:
        print(f"huilong db migrate: {exc}", file=sys.stderr)
        return 1
    print(f"schema at version {version}; applied now: {applied or 'nothing'}")
    return 0


def _lab(command: str, settings: Settings) -> int:
    from engine.lab.errors import LabError
    from engine.lab.lab import Lab

    lab = Lab(settings)
    try:
        match command:
            case "up":
                lab.up()
                if asyncio.run(_migrate(load_settings())) != 0:
                    return 1
                print("lab up:")
            case "down":
                lab.down()
                print("lab down:")
            case "provision":
                lab.provision()
                if lab.owns_database:
                    lab.postgres.ensure_initialised()
                root = lab.host.root if lab.host else None
                print(f"lab provisioned: Asterisk {f'in {root}' if root else 'from PATH'}")
            case "status":
                pass
        for line in lab.status().lines():
            print("  " + line)
    except LabError as exc:
        print(f"huilong lab {command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
