"""Start-up checks of the voice bot: each broken part stops start-up with a message that
names it (and `huilong run` exits 2 without a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.bot import BotSetupError, prepare_bot
from engine.settings import BotSettings

THREAT = """
language: ko
institution: 한빛은행
on_behalf_of: 한빛은행
callback_number: "1588-0000"
max_turns: 3
start: greeting
on_max_turns: bye
defaults:
  no_input: {retries: 0, then: bye}
  no_match: {retries: 0, then: bye}
nodes:
  greeting:
    say: "{institution}입니다. 이 통화는 녹음됩니다. 갚지 않으면 경찰이 갑니다."
    recording_notice: true
    listen:
      yes: {phrases: [네], identity: confirmed, next: bye}
  bye:
    say: "안녕히 계세요."
    end: hangup
"""


def _settings(tmp_path: Path, **changes: object) -> BotSettings:
    values: dict[str, object] = {"enabled": True, "sounds_dir": tmp_path / "sounds"}
    values.update(changes)
    return BotSettings(**values)


async def test_a_threatening_script_is_refused_with_its_file_and_node(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "harsh.yaml").write_text(THREAT, encoding="utf-8")
    with pytest.raises(BotSetupError) as caught:
        await prepare_bot(_settings(tmp_path, scripts_dir=scripts), "huilong", 300)
    message = str(caught.value)
    assert "harsh.yaml" in message and "nodes.greeting.say" in message and "경찰" in message


async def test_a_missing_model_is_named(tmp_path):
    with pytest.raises(BotSetupError, match=r"speech model .*nowhere: no such directory"):
        await prepare_bot(_settings(tmp_path, model_path=tmp_path / "nowhere"), "huilong", 300)


async def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BotSetupError, match=r"empty: not a Vosk model"):
        await prepare_bot(_settings(tmp_path, model_path=tmp_path / "empty"), "huilong", 300)


async def test_an_unwritable_sounds_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BotSetupError, match=r"sounds folder .*file/sounds is not writable"):
        await prepare_bot(_settings(tmp_path, sounds_dir=blocker / "sounds"), "huilong", 300)


def test_huilong_run_exits_2_with_the_reason(tmp_path):
    config = tmp_path / "huilong.toml"
    config.write_text(
        f'[bot]\nenabled = true\nmodel_path = "{tmp_path / "nowhere"}"\n'
        f'sounds_dir = "{tmp_path / "sounds"}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUILONG_")}
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--config", str(config), "run"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
        cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 2, result.stderr
    assert "voice bot: speech model" in result.stderr and "no such directory" in result.stderr
    assert "Traceback" not in result.stderr
