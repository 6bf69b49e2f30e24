"""`huilong lab up|down|status`: the PBX, the carrier and (unless DATABASE_URL is set) a
private PostgreSQL cluster, all under the state folder.

The PBX runs *our* `asterisk_conf/` and `dialplans/extensions_huilong.conf`; the carrier
runs `asterisk_conf/carrier/` and `dialplans/extensions_carrier.conf`. Credentials come
from the settings; on the first `lab up` they are generated into `.state/huilong.toml`,
which every later command (tests, demo, `huilong run`) reads.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from engine.lab.asterisk import (
    AsteriskHost,
    Instance,
    find_host,
    mount_proc,
    provision,
    unmount_proc,
)
from engine.lab.carrier import SCENARIO_FILE, Carrier, render_scenarios
from engine.lab.errors import LabError
from engine.lab.postgres import PrivateCluster
from engine.settings import Settings

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[2]
ASTERISK_CONF = PROJECT_DIR / "asterisk_conf"
DIALPLANS = PROJECT_DIR / "dialplans"
LAB_CONFIG_NAME = "huilong.toml"


@dataclass(frozen=True, slots=True)
class LabStatus:
    pbx: int | None
    carrier: int | None
    postgres: bool | None  # None: the lab does not own the database

    def lines(self) -> list[str]:
        def proc(pid: int | None) -> str:
            return f"running (pid {pid})" if pid else "stopped"

        db = "external (DATABASE_URL)" if self.postgres is None else (
            "running" if self.postgres else "stopped")
        return [f"pbx:      {proc(self.pbx)}", f"carrier:  {proc(self.carrier)}",
                f"postgres: {db}"]

    @property
    def all_stopped(self) -> bool:
        return self.pbx is None and self.carrier is None and not self.postgres


def write_lab_config(state_dir: Path, postgres_port: int = 5439) -> Path:
    """Create the lab's settings file with fresh secrets, once. Without DATABASE_URL the
    lab runs its own PostgreSQL cluster and the file points at it."""
    path = state_dir / LAB_CONFIG_NAME
    if path.exists():
        return path
    state_dir.mkdir(parents=True, exist_ok=True)
    database = []
    if not os.environ.get("DATABASE_URL"):
        dsn = PrivateCluster(state_dir.resolve() / "postgres", port=postgres_port).dsn
        database = ["[database]", f'url = "{dsn}"', ""]
    lines = [*database,
        "# Written by `huilong lab up` for the local lab. Secrets are random per machine.",
        "[ari]", f'password = "{secrets.token_urlsafe(18)}"', "",
        "[ami]", f'secret = "{secrets.token_urlsafe(18)}"', "",
        "[pii]", f'keyfile = "{(state_dir / "pii-keys.json").resolve()}"', "",
        "[lab]", f'state_dir = "{state_dir.resolve()}"', "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path


class Lab:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = settings.lab.state_dir.resolve()
        self.host: AsteriskHost | None = find_host(self.state_dir)

    # -- parts ------------------------------------------------------------------------

    def _require_host(self) -> AsteriskHost:
        if self.host is None:
            raise LabError("Asterisk is not provisioned yet: "
                           "run `huilong lab up` (or `make setup`)")
        return self.host

    @property
    def pbx(self) -> Instance:
        return Instance.create("pbx", self._require_host(), self.state_dir)

    @property
    def carrier_instance(self) -> Instance:
        return Instance.create("carrier", self._require_host(), self.state_dir)

    @property
    def carrier(self) -> Carrier:
        return Carrier(self.carrier_instance)

    @property
    def owns_database(self) -> bool:
        return self.database_url() == self.postgres.dsn

    @property
    def postgres(self) -> PrivateCluster:
        return PrivateCluster(self.state_dir / "postgres", port=self.settings.lab.postgres_port)

    def database_url(self) -> str:
        url = self.settings.database_url()
        if url:
            return url
        return self.postgres.dsn

    def bot_settings(self) -> dict[str, object]:
        """[bot] settings for a daemon beside this lab's PBX: prompts go to the PBX's
        sounds folder (written on the host, played by its in-chroot name), and
        recordings land in its spool."""
        pbx = self.pbx
        return {
            "enabled": True,
            "sounds_dir": str(pbx.host_dir("sounds")),
            "sounds_view": pbx.view("sounds"),
            "recordings_view": pbx.view("spool") + "/recording",
        }

    # -- commands ---------------------------------------------------------------------

    def provision(self) -> AsteriskHost:
        lab = self.settings.lab
        self.host = provision(self.state_dir, lab.cache_dir, lab.debian_mirror)
        return self.host

    def up(self) -> None:
        host = self.provision()
        if host.root is not None:
            mount_proc(host.root)
        self._install_pbx()
        self._install_carrier()
        self.pbx.start()
        self.carrier_instance.start()
        if self.owns_database:
            cluster = self.postgres
            cluster.ensure_initialised()
            cluster.start()
            cluster.create_database()

    def _install_pbx(self) -> None:
        ari, ami = self.settings.ari, self.settings.ami
        if not ari.password.get_secret_value() or not ami.secret.get_secret_value():
            raise LabError("ari.password and ami.secret must be set (the lab config sets them)")
        ari_users = (f"[{ari.username}]\ntype = user\nread_only = no\n"
                     f"password = {ari.password.get_secret_value()}\n")
        ami_users = (f"[{ami.username}]\nsecret = {ami.secret.get_secret_value()}\n"
                     "deny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
                     "read = system,call,agent,user,dtmf,reporting,cdr,dialplan\n"
                     "write = system,call,agent,user,command,reporting,originate\n")
        self.pbx.install_config([ASTERISK_CONF, DIALPLANS / "extensions_huilong.conf"],
                                {"ari_users.conf": ari_users, "manager_users.conf": ami_users})

    def _install_carrier(self) -> None:
        instance = self.carrier_instance
        instance.install_config(
            [ASTERISK_CONF / "carrier", DIALPLANS / "extensions_carrier.conf"],
            {SCENARIO_FILE: render_scenarios([], lambda say: "")},
        )

    def down(self) -> None:
        """Stop everything the lab started; check each is gone before unmounting."""
        errors: list[str] = []
        if self.host is not None:
            for instance in (self.pbx, self.carrier_instance):
                try:
                    instance.stop()
                except LabError as exc:
                    errors.append(str(exc))
        if self.owns_database:
            try:
                self.postgres.stop()
            except LabError as exc:
                errors.append(str(exc))
        if self.host is not None and self.host.root is not None and not errors:
            unmount_proc(self.host.root)
        if errors:
            raise LabError("; ".join(errors))

    def status(self) -> LabStatus:
        pbx = carrier = None
        if self.host is not None:
            pbx, carrier = self.pbx.pid(), self.carrier_instance.pid()
        postgres = self.postgres.is_running() if self.owns_database else None
        return LabStatus(pbx=pbx, carrier=carrier, postgres=postgres)
