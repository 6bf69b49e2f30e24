"""The `[payments]` and `[followup]` settings: defaults, and values refused by key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("HUILONG_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    """No file: no webhook token (the route answers 503), grace 2 days, reminders 1 day
    ahead, no SMS gateway."""
    settings = load_settings()
    assert settings.payments.webhook_token is None
    assert settings.payments.max_batch == 1000
    assert (settings.followup.grace_days, settings.followup.reminder_days_before) == (2, 1)
    assert settings.followup.sms_url == ""


def test_values_from_file_and_environment(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The token from the environment stays secret in the settings' repr."""
    config = tmp_path / "huilong.toml"
    config.write_text('[followup]\ngrace_days = 3\nsms_url = "https://sms.example/send"\n',
                      encoding="utf-8")
    monkeypatch.setenv("HUILONG_PAYMENTS__WEBHOOK_TOKEN", "a-long-shared-secret")
    settings = load_settings(config)
    assert settings.followup.grace_days == 3
    assert settings.payments.webhook_token is not None
    assert settings.payments.webhook_token.get_secret_value() == "a-long-shared-secret"
    assert "a-long-shared-secret" not in repr(settings)


def test_empty_token_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUILONG_PAYMENTS__WEBHOOK_TOKEN", "")
    assert load_settings().payments.webhook_token is None


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[payments]\nwebhook_token = "short"\n', "payments: Value error, webhook_token"),
        ('[followup]\nsms_url = "ftp://x"\n', "followup: Value error, sms_url"),
        ("[followup]\ngrace_days = -1\n", "followup.grace_days"),
        ("[followup]\nreminder_days = 1\n", "followup.reminder_days"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, words: str) -> None:
    config = tmp_path / "huilong.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(SettingsError, match=words):
        load_settings(config)
