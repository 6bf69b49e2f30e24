"""A private PostgreSQL cluster for the lab, the demo and the integration tests.

It listens on 127.0.0.1 only, with its unix socket inside its own data directory. The
application role `huilong` connects over TCP without a password (`trust`); that is
acceptable only because this cluster is private: loopback-only, holding lab data, and
`huilong` is not a superuser (it may create databases, so tests can clone a migrated
template per test). The superuser is reachable only through the unix socket,
by the OS user that owns the cluster (`peer`). Production uses `DATABASE_URL` instead.

When run as root, every cluster command runs as the `postgres` system user (PostgreSQL
refuses to run as root), so the data directory is chowned to it and its ancestors are
made traversable (o+x, never readable).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.lab.errors import LabError

APP_ROLE = "huilong"
APP_DATABASE = "huilong"
CLUSTER_OS_USER_WHEN_ROOT = "postgres"
DEFAULT_PORT = 5439
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
INITDB_TIMEOUT_S = 180
PSQL_TIMEOUT_S = 60
_VERSIONED_BIN_DIRS = Path("/usr/lib/postgresql")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PG_CTL_STATUS_RUNNING = 0
_PG_CTL_STATUS_NOT_RUNNING = 3
_PG_CTL_STATUS_NO_DATA_DIR = 4
# sockaddr_un.sun_path holds 108 bytes including the NUL; the socket lives in the data dir.
_MAX_SOCKET_PATH = 107


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    bin_dir: Path

    @property
    def initdb(self) -> str:
        return str(self.bin_dir / "initdb")

    @property
    def pg_ctl(self) -> str:
        return str(self.bin_dir / "pg_ctl")

    @property
    def psql(self) -> str:
        return str(self.bin_dir / "psql")


def find_postgres_binaries() -> PostgresBinaries:
    """initdb/pg_ctl/psql from the directory of `pg_ctl` on PATH, else the newest
    /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH)."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versioned = [d for d in _VERSIONED_BIN_DIRS.glob("*/bin") if d.parent.name.isdigit()]
    candidates.extend(sorted(versioned, key=lambda d: int(d.parent.name), reverse=True))
    for bin_dir in candidates:
        if all(os.access(bin_dir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "psql")):
            return PostgresBinaries(bin_dir)
    raise LabError(
        "PostgreSQL binaries not found: need initdb, pg_ctl and psql together, on PATH or "
        f"under {_VERSIONED_BIN_DIRS}/<version>/bin (Debian: apt-get install postgresql)"
    )


class PrivateCluster:
    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_PORT,
        *,
        settings: Mapping[str, str] | None = None,
        binaries: PostgresBinaries | None = None,
    ) -> None:
        """`settings` are extra postgresql.conf lines (e.g. fsync=off for throwaway tests)."""
        self.data_dir = data_dir.absolute()
        self.port = port
        self._settings = dict(settings or {})
        self._binaries = binaries
        self._as_root = os.geteuid() == 0
        self._os_user = (
            CLUSTER_OS_USER_WHEN_ROOT if self._as_root else pwd.getpwuid(os.geteuid()).pw_name
        )

    @property
    def dsn(self) -> str:
        return self.dsn_for(APP_DATABASE)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{APP_ROLE}@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def ensure_initialised(self) -> None:
        """Run initdb once; an existing cluster is kept as it is."""
        if self.is_initialised():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise LabError(
                f"{self.data_dir} is not empty and holds no PostgreSQL cluster "
                "(a failed initdb? remove the folder and retry)"
            )
        self._prepare_data_dir()
        self._run(
            [
                self._bins().initdb,
                "--pgdata", str(self.data_dir),
                "--username", self._os_user,
                "--encoding", "UTF8",
                "--locale", "C",
                "--auth-local", "peer",
                "--auth-host", "reject",
            ],
            timeout=INITDB_TIMEOUT_S,
        )  # fmt: skip
        self._write_owned(self.data_dir / "pg_hba.conf", self._hba())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# Huilong lab settings, rewritten at every start:\n")
            conf.write("include_if_exists = 'huilong.conf'\n")

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._run(
            [self._bins().pg_ctl, "status", "--pgdata", str(self.data_dir)],
            timeout=PSQL_TIMEOUT_S,
            check=False,
        )
        if result.returncode == _PG_CTL_STATUS_RUNNING:
            return True
        if result.returncode in (_PG_CTL_STATUS_NOT_RUNNING, _PG_CTL_STATUS_NO_DATA_DIR):
            return False
        raise LabError(f"pg_ctl status failed ({result.returncode}): {_tail(result.stderr)}")

    def start(self, timeout: int = START_TIMEOUT_S) -> None:
        """Start and wait until it accepts connections; already running is fine."""
        if not self.is_initialised():
            raise LabError(f"no cluster in {self.data_dir}; call ensure_initialised() first")
        if self.is_running():
            return
        socket_path = self.data_dir / f".s.PGSQL.{self.port}"
        if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
            raise LabError(f"data directory path too long for a unix socket: {socket_path}")
        self._write_owned(self.data_dir / "huilong.conf", self._runtime_settings())
        try:
            self._run(
                [
                    self._bins().pg_ctl, "start",
                    "--pgdata", str(self.data_dir),
                    "--log", str(self.log_path),
                    "--wait", "--timeout", str(timeout),
                    "--silent",
                ],
                timeout=timeout + 15,
            )  # fmt: skip
        except LabError as exc:
            raise LabError(f"{exc}\nserver log:\n{self._log_tail()}") from exc

    def stop(self, timeout: int = STOP_TIMEOUT_S) -> None:
        """Stop (fast: roll back open transactions); escalate to immediate if it hangs."""
        if not self.is_running():
            return
        try:
            self._pg_ctl_stop("fast", timeout)
        except LabError:
            self._pg_ctl_stop("immediate", timeout)
        if self.is_running():
            raise LabError(f"PostgreSQL in {self.data_dir} is still running after stop")

    def create_database(self, name: str = APP_DATABASE) -> None:
        """Create the `huilong` role and the database `name` it owns, if absent."""
        if not _IDENTIFIER.match(name):
            raise LabError(f"database name {name!r} must be a lower-case SQL identifier")
        script = (
            f"SELECT 'CREATE ROLE {APP_ROLE} LOGIN CREATEDB' WHERE NOT EXISTS"
            f" (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') \\gexec\n"
            f"SELECT 'CREATE DATABASE {name} OWNER {APP_ROLE}' WHERE NOT EXISTS"
            f" (SELECT FROM pg_database WHERE datname = '{name}') \\gexec\n"
        )
        self._run(
            [
                self._bins().psql, "--no-psqlrc", "--quiet",
                "--set", "ON_ERROR_STOP=1",
                "--host", str(self.data_dir),
                "--port", str(self.port),
                "--username", self._os_user,
                "--dbname", "postgres",
            ],
            timeout=PSQL_TIMEOUT_S,
            stdin=script,
        )  # fmt: skip

    def _pg_ctl_stop(self, mode: str, timeout: int) -> None:
        self._run(
            [
                self._bins().pg_ctl, "stop",
                "--pgdata", str(self.data_dir),
                "--mode", mode,
                "--wait", "--timeout", str(timeout),
                "--silent",
            ],
            timeout=timeout + 15,
        )  # fmt: skip

    def _bins(self) -> PostgresBinaries:
        if self._binaries is None:
            self._binaries = find_postgres_binaries()
        return self._binaries

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # initdb refuses group/other access
        if not self._as_root:
            return
        owner = _os_account(self._os_user)
        os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        for ancestor in self.data_dir.parents:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(ancestor, stat.S_IMODE(mode) | stat.S_IXOTH)

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o600)
        if self._as_root:
            owner = _os_account(self._os_user)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _hba(self) -> str:
        return (
            "# Written by Huilong's lab (engine/lab/postgres.py); see its docstring.\n"
            f"local all {self._os_user} peer\n"
            f"host  all {APP_ROLE} 127.0.0.1/32 trust\n"
        )

    def _runtime_settings(self) -> str:
        lines = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.data_dir),
            "unix_socket_permissions": "0700",
            **self._settings,
        }
        return "".join(f"{key} = {_conf_value(value)}\n" for key, value in lines.items())

    def _log_tail(self) -> str:
        try:
            return _tail(self.log_path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"

    def _run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._as_root:
            command = ["runuser", "-u", self._os_user, "--", *command]
        try:
            result = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd="/",  # the caller's cwd may be unreadable for the postgres user
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{Path(argv[0]).name} timed out after {timeout:g}s") from exc
        except OSError as exc:
            raise LabError(f"cannot run {command[0]}: {exc}") from exc
        if check and result.returncode != 0:
            raise LabError(
                f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} failed "
                f"(exit {result.returncode}): {_tail(result.stderr or result.stdout)}"
            )
        return result


def _os_account(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise LabError(f"system user {user!r} does not exist (install postgresql)") from None


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
