"""Agent phones as PJSIP configuration: the include file `pjsip.conf` loads.

Pure text generation. Each agent becomes an endpoint, an auth and an AOR named after
the agent id (which is also the SIP user name), built on the templates in
`asterisk_conf/pjsip.conf` (`agent-endpoint`, `agent-auth`, `agent-aor`). The file holds
no password: only the digest credential MD5(user:realm:password) as PJSIP's
`password_digest = md5:…` (Asterisk ≥ 22.2; `md5_cred` is deprecated), so reading the
PBX's config does not give away a phone's password.

The whole file is rewritten from the agent table each time (never edited in place) and
replaced atomically, so the PBX never reads half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

AGENT_ID = re.compile(r"^[0-9]{3,8}$")
# A caller-id name goes inside quotes in the config: no quotes, backslashes, semicolons
# (a comment in Asterisk's config syntax), brackets or control characters.
_NAME_FORBIDDEN = re.compile(r'["\\;\[\]\x00-\x1f\x7f]')
HEADER = "; written by `huilong agents`: do not edit, the next change overwrites it\n"


class AgentConfigError(ValueError):
    """An agent id or name that cannot go into the PBX's configuration."""


@dataclass(frozen=True, slots=True)
class Phone:
    agent_id: str
    display_name: str
    realm: str
    md5_cred: str


def check_agent_id(agent_id: str) -> str:
    if not AGENT_ID.match(agent_id):
        raise AgentConfigError(
            f"agent id {agent_id!r}: 3 to 8 digits (it is the phone's SIP user and extension)")
    return agent_id


def check_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise AgentConfigError("agent name: 1 to 64 characters")
    if _NAME_FORBIDDEN.search(name):
        raise AgentConfigError(
            f"agent name {name!r}: quotes, backslashes, semicolons, brackets and control "
            "characters are not allowed")
    return name


def new_password() -> str:
    return secrets.token_urlsafe(12)


def digest_credential(agent_id: str, realm: str, password: str) -> str:
    """HA1 of RFC 2617 digest authentication: what PJSIP's password_digest holds."""
    return hashlib.md5(f"{agent_id}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def render(phones: Iterable[Phone]) -> str:
    sections = [HEADER]
    for phone in sorted(phones, key=lambda p: p.agent_id):
        agent_id = check_agent_id(phone.agent_id)
        name = check_display_name(phone.display_name)
        sections.append(
            f"[{agent_id}](agent-endpoint)\n"
            f"auth = {agent_id}\n"
            f"aors = {agent_id}\n"
            f'callerid = "{name}" <{agent_id}>\n'
            "\n"
            f"[{agent_id}](agent-auth)\n"
            f"username = {agent_id}\n"
            f"realm = {phone.realm}\n"
            f"password_digest = md5:{phone.md5_cred}\n"
            "\n"
            f"[{agent_id}](agent-aor)\n")
    return "\n".join(sections)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` (mode 0640) so that a reader sees the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
