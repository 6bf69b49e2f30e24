"""Asterisk for the lab: a provisioned Debian root (or an `asterisk` on PATH) and the
instances that run in it, each with its own config, run, spool, log and db folders.

Debian's asterisk 22 comes from sid (bookworm has none), installed with debootstrap into
the state folder and run with chroot. Modules and sounds are shared by the instances.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine.lab.errors import LabError

log = logging.getLogger(__name__)

ROOT_MARKER = Path("usr/sbin/asterisk")
CACHE_TARBALL = "asterisk-root-sid.tar"
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/asterisk/modules", "/usr/lib/aarch64-linux-gnu/asterisk/modules",
    "/usr/lib/asterisk/modules", "/usr/lib64/asterisk/modules",
)


@dataclass(frozen=True, slots=True)
class AsteriskHost:
    """Where Asterisk runs: inside a chroot (`root` set) or straight on this host."""

    root: Path | None
    binary: str

    def host_path(self, view_path: str) -> Path:
        """The host's path for a path as Asterisk sees it."""
        if self.root is None:
            return Path(view_path)
        return self.root / view_path.lstrip("/")

    def command(self, *args: str) -> list[str]:
        if self.root is None:
            return [self.binary, *args]
        return ["chroot", str(self.root), self.binary, *args]

    def module_dir(self) -> str:
        for candidate in MODULE_DIRS:
            if self.host_path(candidate).is_dir():
                return candidate
        raise LabError(f"no Asterisk module folder found (looked in {', '.join(MODULE_DIRS)})")

    def data_dir(self) -> str:
        return "/usr/share/asterisk"


def find_host(state_dir: Path) -> AsteriskHost | None:
    """An already usable Asterisk: one on PATH, else a provisioned root."""
    on_path = shutil.which("asterisk")
    if on_path is not None:
        return AsteriskHost(root=None, binary=on_path)
    root = state_dir / "asterisk-root"
    if (root / ROOT_MARKER).exists():
        return AsteriskHost(root=root, binary="/usr/sbin/asterisk")
    return None


def provision(state_dir: Path, cache_dir: Path, mirror: str) -> AsteriskHost:
    """Make Asterisk available: PATH, the state folder, the machine cache, or debootstrap."""
    existing = find_host(state_dir)
    if existing is not None:
        return existing
    root = state_dir / "asterisk-root"
    tarball = cache_dir / CACHE_TARBALL
    work = state_dir / "asterisk-root.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if tarball.is_file():
        log.info("unpacking the cached Asterisk root %s", tarball)
        _run(["tar", "-xf", str(tarball), "-C", str(work)], timeout=600)
    else:
        _debootstrap(work, mirror)
        _pack_cache(work, tarball)
    if not (work / ROOT_MARKER).exists():
        raise LabError(f"provisioning finished but {work / ROOT_MARKER} is missing")
    work.rename(root)
    return AsteriskHost(root=root, binary="/usr/sbin/asterisk")


def _debootstrap(work: Path, mirror: str) -> None:
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed (run `make setup` as root)")
    log.info("debootstrap sid into %s (about a minute)", work)
    _run(["debootstrap", "--variant=minbase", "sid", str(work), mirror], timeout=1200)
    with _proc_mounted(work):
        # The mirror's sid Release file can be past its Valid-Until date.
        _run(["chroot", str(work), "apt-get", "-o", "Acquire::Check-Valid-Until=false",
              "update"], timeout=600)
        _run(["chroot", str(work), "apt-get", "install", "-y", "--no-install-recommends",
              "asterisk", "asterisk-modules"], timeout=1200,
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        _run(["chroot", str(work), "apt-get", "clean"], timeout=120)


def _pack_cache(work: Path, tarball: Path) -> None:
    try:
        tarball.parent.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-cf", str(partial), "--exclude=./proc/*", "-C", str(work), "."],
             timeout=600)
        partial.rename(tarball)
    except (OSError, LabError) as exc:  # the cache only saves time; carry on without it
        log.warning("could not cache the Asterisk root in %s: %s", tarball, exc)


class _proc_mounted:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> None:
        mount_proc(self.root)

    def __exit__(self, *exc: object) -> None:
        unmount_proc(self.root)


def mount_proc(root: Path) -> None:
    target = root / "proc"
    target.mkdir(exist_ok=True)
    if not os.path.ismount(target):
        _run(["mount", "--bind", "/proc", str(target)], timeout=30)


def unmount_proc(root: Path) -> None:
    target = root / "proc"
    if os.path.ismount(target):
        result = subprocess.run(["umount", str(target)], capture_output=True, timeout=30,
                                check=False)
        if result.returncode != 0:
            _run(["umount", "-l", str(target)], timeout=30)


def _run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{cmd[0]} did not finish within {timeout:.0f} s: {' '.join(cmd)}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise LabError(f"{' '.join(cmd[:4])} failed ({result.returncode}): " + " | ".join(tail))
    return result.stdout


@dataclass(frozen=True, slots=True)
class Instance:
    """One Asterisk process with its own folders under /srv/huilong/<name>/ (as it sees them)."""

    name: str
    host: AsteriskHost
    base_view: str

    @classmethod
    def create(cls, name: str, host: AsteriskHost, state_dir: Path) -> Instance:
        if host.root is None:
            base = str((state_dir / "asterisk" / name).resolve())
        else:
            base = f"/srv/huilong/{name}"
        return cls(name=name, host=host, base_view=base)

    def view(self, sub: str) -> str:
        return f"{self.base_view}/{sub}"

    def host_dir(self, sub: str) -> Path:
        return self.host.host_path(self.view(sub))

    @property
    def config_view(self) -> str:
        return self.view("etc/asterisk.conf")

    @property
    def pid_file(self) -> Path:
        return self.host_dir("run") / "asterisk.pid"

    def install_config(self, sources: list[Path], generated: dict[str, str]) -> None:
        """Copy our config files (sources: folders or files) and write the generated ones."""
        etc = self.host_dir("etc")
        if etc.exists():
            shutil.rmtree(etc)
        etc.mkdir(parents=True)
        # spool/recording: ARI records there and Asterisk does not create it.
        for sub in ("run", "log", "spool/recording", "db", "keys", "cache", "sounds"):
            self.host_dir(sub).mkdir(parents=True, exist_ok=True)
        for source in sources:
            files = sorted(source.glob("*.conf")) if source.is_dir() else [source]
            for file in files:
                if file.name != "asterisk.conf":
                    shutil.copy2(file, etc / file.name)
        (etc / "asterisk.conf").write_text(self._asterisk_conf(), encoding="utf-8")
        for name, text in generated.items():
            path = etc / name
            path.write_text(text, encoding="utf-8")
            if "users" in name:
                path.chmod(0o600)

    def _asterisk_conf(self) -> str:
        dirs = {
            "astetcdir": self.view("etc"), "astmoddir": self.host.module_dir(),
            "astvarlibdir": "/var/lib/asterisk", "astdbdir": self.view("db"),
            "astkeydir": self.view("keys"), "astdatadir": self.host.data_dir(),
            "astagidir": "/usr/share/asterisk/agi-bin", "astspooldir": self.view("spool"),
            "astrundir": self.view("run"), "astlogdir": self.view("log"),
            "astcachedir": self.view("cache"), "astsbindir": "/usr/sbin",
        }
        lines = ["; written by `huilong lab up` for the lab instance " + self.name, "[directories]"]
        lines += [f"{key} => {value}" for key, value in dirs.items()]
        lines += ["", "[options]", "verbose = 0", "debug = 0", "maxcalls = 400",
                  f"systemname = huilong-{self.name}", ""]
        return "\n".join(lines)

    # -- process ---------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self, timeout: float = 30.0) -> None:
        if self.pid() is not None:
            return
        self.pid_file.unlink(missing_ok=True)
        subprocess.run(self.host.command("-C", self.config_view), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                       check=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and self._cli("core waitfullybooted", 10) is not None:
                return
            time.sleep(0.2)
        raise LabError(f"Asterisk '{self.name}' did not boot within {timeout:.0f} s; "
                       f"see {self.host_dir('log') / 'messages.log'}")

    def cli(self, command: str, timeout: float = 10.0) -> str:
        out = self._cli(command, timeout)
        if out is None:
            raise LabError(f"Asterisk '{self.name}' did not answer `{command}`")
        return out

    def _cli(self, command: str, timeout: float) -> str | None:
        try:
            result = subprocess.run(self.host.command("-C", self.config_view, "-rx", command),
                                    capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return None
        if result.returncode != 0 or "Unable to connect" in result.stdout:
            return None
        return result.stdout

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and make sure the process is gone: ask, then SIGTERM, then SIGKILL."""
        pid = self.pid()
        if pid is None:
            return
        self._cli("core stop now", timeout)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    return
            if _wait_gone(pid, timeout):
                return
        raise LabError(f"Asterisk '{self.name}' (pid {pid}) survived SIGKILL")

    def channel_count(self) -> int:
        out = self.cli("core show channels count")
        for line in out.splitlines():
            if "active channel" in line:
                return int(line.split()[0])
        raise LabError(f"unexpected `core show channels count` output from {self.name}: {out!r}")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
