"""Simulated agent phones for the lab: real SIP user agents (sipp) that register to the
PBX with an agent's credentials, dial feature codes and answer the agent's calls.

Each phone has its own local UDP port: it registers from that port, and then a sipp
in server mode listens there, so the PBX's contact for the agent reaches the process
that answers (and the PBX's OPTIONS qualify gets its 200).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.lab.errors import LabError

SCENARIOS = Path(__file__).resolve().parent / "sipp"
PBX_SIP = ("127.0.0.1", 5060)


@dataclass(frozen=True, slots=True)
class Registration:
    ok: bool
    detail: str  # sipp's last lines when it failed


def _sipp() -> str:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise LabError("sipp is not installed (run `make setup` as root)")
    return sipp


# Phones take their ports from here: below the kernel's ephemeral range (32768–60999 by
# default) and outside the PBXs' RTP ranges (asterisk_conf/rtp.conf, 10000–12999). A port
# the kernel picked (bind to port 0) could be handed to another process's automatic bind
# between the probe and sipp's own bind ("Unable to bind main socket, errno = 98"); one
# picked here is only ever taken by an explicit bind.
PHONE_PORTS = range(20000, 32000)


def free_udp_port(host: str = "127.0.0.1") -> int:
    for _ in range(200):
        port = random.randrange(PHONE_PORTS.start, PHONE_PORTS.stop)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise LabError(f"no free UDP port in {PHONE_PORTS.start}–{PHONE_PORTS.stop - 1}")


def free_rtp_port(host: str = "127.0.0.1") -> int:
    """An even UDP port whose odd neighbour (RTCP) is free too."""
    for _ in range(50):
        port = free_udp_port(host) & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:
                rtp.bind((host, port))
                rtcp.bind((host, port + 1))
        except OSError:
            continue
        return port
    raise LabError("no free pair of UDP ports for a phone's audio")


@dataclass(slots=True)
class AgentPhone:
    agent_id: str
    password: str
    port: int
    host: str = "127.0.0.1"
    _answering: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _work: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def register(self, expires_s: int = 3600, timeout_s: float = 15) -> Registration:
        """REGISTER from the phone's port (expires 0 unregisters); ok on the PBX's 200.
        Not while the phone is answering (that process holds the port)."""
        return self._run_once("register.xml", self.agent_id, self.port, timeout_s,
                              ["-key", "expires", str(expires_s)])

    def dial(self, code: str, timeout_s: float = 15) -> Registration:
        """Dial a feature code (e.g. *71) from another port with the agent's credentials;
        ok when the dialplan answered and then hung up."""
        return self._run_once("dial.xml", code, free_udp_port(self.host), timeout_s,
                              ["-key", "caller", self.agent_id, "-mi", self.host,
                               "-mp", str(free_rtp_port(self.host))])

    def start_answering(self, ring_ms: int = 300, talk_ms: int = 3000) -> None:
        """From now on the phone answers every call (and the PBX's OPTIONS) on its port,
        echoing the audio back, until `stop()`."""
        if self._answering is not None:
            return
        self._work = tempfile.TemporaryDirectory(prefix="huilong-phone-")
        scenario = Path(self._work.name) / "answer.xml"
        scenario.write_text((SCENARIOS / "answer.xml").read_text(encoding="utf-8")
                            .replace("{ring_ms}", str(ring_ms)).replace("{talk_ms}", str(talk_ms)),
                            encoding="utf-8")
        self._answering = subprocess.Popen(
            [_sipp(), "-sf", str(scenario), "-s", self.agent_id, "-i", self.host,
             "-p", str(self.port), "-mi", self.host, "-mp", str(free_rtp_port(self.host)),
             "-rtp_echo", "-aa", "-nostdin",
             "-trace_err", "-error_file",
             f"{self._work.name}/errors.log"],
            cwd=self._work.name, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        process, self._answering = self._answering, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._work is not None:
            self._work.cleanup()
            self._work = None

    def _run_once(self, scenario: str, service: str, port: int, timeout_s: float,
                  extra: list[str]) -> Registration:
        with tempfile.TemporaryDirectory(prefix="huilong-phone-") as work:
            command = [
                _sipp(), f"{PBX_SIP[0]}:{PBX_SIP[1]}", "-sf", str(SCENARIOS / scenario),
                "-s", service, "-au", self.agent_id, "-ap", self.password, *extra,
                "-i", self.host, "-p", str(port), "-m", "1",
                "-timeout", f"{int(timeout_s)}s", "-timeout_error",
                "-nostdin", "-trace_err", "-error_file", f"{work}/errors.log",
            ]
            done = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout_s + 10)
            if done.returncode == 0:
                return Registration(True, "")
            errors = Path(work, "errors.log")
            detail = errors.read_text(errors="replace") if errors.exists() else done.stderr
            return Registration(False, "\n".join(detail.strip().splitlines()[-6:]))
