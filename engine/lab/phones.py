"""Simulated agent phones for the lab: real SIP user agents (sipp) that register to the
PBX with an agent's credentials.

Each phone has its own local UDP port, so the PBX's contact for the agent points at
the process that will answer the agent's calls.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.lab.errors import LabError

SCENARIOS = Path(__file__).resolve().parent / "sipp"
PBX_SIP = ("127.0.0.1", 5060)


@dataclass(frozen=True, slots=True)
class Registration:
    ok: bool
    detail: str  # sipp's last lines when it failed


@dataclass(frozen=True, slots=True)
class AgentPhone:
    agent_id: str
    password: str
    port: int
    host: str = "127.0.0.1"

    def register(self, expires_s: int = 3600, timeout_s: float = 15) -> Registration:
        """REGISTER (expires 0 unregisters); ok when the PBX answered 200."""
        sipp = shutil.which("sipp")
        if sipp is None:
            raise LabError("sipp is not installed (run `make setup` as root)")
        with tempfile.TemporaryDirectory(prefix="huilong-phone-") as work:
            command = [
                sipp, f"{PBX_SIP[0]}:{PBX_SIP[1]}", "-sf", str(SCENARIOS / "register.xml"),
                "-s", self.agent_id, "-au", self.agent_id, "-ap", self.password,
                "-key", "expires", str(expires_s), "-i", self.host, "-p", str(self.port),
                "-m", "1", "-timeout", f"{int(timeout_s)}s", "-timeout_error",
                "-nostdin", "-trace_err", "-error_file", f"{work}/errors.log",
            ]
            done = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout_s + 10)
            if done.returncode == 0:
                return Registration(True, "")
            errors = Path(work, "errors.log")
            detail = errors.read_text(errors="replace") if errors.exists() else done.stderr
            return Registration(False, "\n".join(detail.strip().splitlines()[-6:]))
