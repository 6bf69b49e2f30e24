"""Settings: TOML file + HUILONG_* environment, errors that name the key, `huilong check`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cli import main
from engine.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HUILONG_* variable from the developer's shell, no default config file found."""
    for name in list(os.environ):
        if name.startswith("HUILONG_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "huilong.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    """Steps: load with no file and a clean environment.
    Expected: the documented defaults (30 s ring, 900 s max call, 3 originate attempts)."""
    settings = load_settings()
    assert settings.dial.ring_timeout_s == 30
    assert settings.dial.max_call_s == 900
    assert settings.dial.originate_attempts == 3
    assert settings.ari.app == "huilong"
    assert settings.database_url() is None


def test_file_values_are_read(tmp_path: Path) -> None:
    """Steps: a file setting dial.ring_timeout_s = 25 and ari.password.
    Expected: both loaded; the password is a secret (not shown in repr)."""
    path = write(tmp_path, '[dial]\nring_timeout_s = 25\n[ari]\npassword = "s3cret"\n')
    settings = load_settings(path)
    assert settings.dial.ring_timeout_s == 25
    assert settings.ari.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_ring_timeout_below_floor_names_the_key(tmp_path: Path) -> None:
    """Steps: dial.ring_timeout_s = 5 in the file (the floor is 15 s).
    Expected: SettingsError naming dial.ring_timeout_s and the file."""
    path = write(tmp_path, "[dial]\nring_timeout_s = 5\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert "dial.ring_timeout_s" in message
    assert str(path) in message
    assert "15" in message


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: file sets dial.ring_timeout_s = 20 and dial.max_call_s = 100; environment
    HUILONG_DIAL__RING_TIMEOUT_S=45. Expected: ring timeout 45 from the environment, max call
    100 still from the file (nested sections merge, they do not replace each other)."""
    path = write(tmp_path, "[dial]\nring_timeout_s = 20\nmax_call_s = 100\n")
    monkeypatch.setenv("HUILONG_DIAL__RING_TIMEOUT_S", "45")
    settings = load_settings(path)
    assert settings.dial.ring_timeout_s == 45
    assert settings.dial.max_call_s == 100


def test_invalid_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: HUILONG_DIAL__RING_TIMEOUT_S=5 with no file.
    Expected: SettingsError naming dial.ring_timeout_s."""
    monkeypatch.setenv("HUILONG_DIAL__RING_TIMEOUT_S", "5")
    with pytest.raises(SettingsError, match=r"dial\.ring_timeout_s"):
        load_settings()


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    """Steps: a file with a [dialer] section (typo for [dial]).
    Expected: SettingsError naming `dialer`."""
    path = write(tmp_path, "[dialer]\nring_timeout_s = 20\n")
    with pytest.raises(SettingsError, match="dialer"):
        load_settings(path)


def test_unknown_nested_key_is_rejected(tmp_path: Path) -> None:
    """Steps: a file with dial.ring_timout_s = 20 (typo inside a known section).
    Expected: SettingsError naming dial.ring_timout_s — a typo must not silently leave the
    default 30 s in force."""
    path = write(tmp_path, "[dial]\nring_timout_s = 20\n")
    with pytest.raises(SettingsError, match=r"dial\.ring_timout_s"):
        load_settings(path)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    """Steps: a file that is not TOML. Expected: SettingsError naming the file and TOML."""
    path = write(tmp_path, "[dial\nring_timeout_s = \n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """Steps: load a path that does not exist. Expected: SettingsError 'config file not found'."""
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_endpoint_template_must_contain_number(tmp_path: Path) -> None:
    """Steps: dial.endpoint_template without {number}.
    Expected: SettingsError naming the dial section and {number}."""
    path = write(tmp_path, '[dial]\nendpoint_template = "PJSIP/carrier"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "dial" in str(info.value) and "{number}" in str(info.value)


def test_default_config_file_is_found_in_working_directory(tmp_path: Path) -> None:
    """Steps: ./huilong.toml exists in the working directory, no explicit path.
    Expected: its values are used."""
    write(tmp_path, "[dial]\nmax_call_s = 120\n")
    assert load_settings().dial.max_call_s == 120


def test_database_url_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: no database.url, DATABASE_URL set. Expected: database_url() returns it."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@localhost/huilong")
    assert load_settings().database_url() == "postgresql://x@localhost/huilong"


def test_cli_check_with_invalid_setting_exits_2_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: `huilong -c file check` where the file has dial.ring_timeout_s = 5.
    Expected: exit code 2, stderr names dial.ring_timeout_s, nothing on stdout."""
    path = write(tmp_path, "[dial]\nring_timeout_s = 5\n")
    assert main(["-c", str(path), "check"]) == 2
    out, err = capsys.readouterr()
    assert "dial.ring_timeout_s" in err
    assert err.startswith("huilong: ")
    assert out == ""


def test_cli_check_with_missing_file_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: `huilong -c missing.toml check`. Expected: exit code 2, stderr names the file."""
    missing = tmp_path / "missing.toml"
    assert main(["-c", str(missing), "check"]) == 2
    assert str(missing) in capsys.readouterr().err
