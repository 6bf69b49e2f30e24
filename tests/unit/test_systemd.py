"""sd_notify datagrams against a real unix datagram socket, and the watchdog interval."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.systemd import Notifier, watchdog_interval_s


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX/SOCK_DGRAM socket in tmp_path standing in for systemd's."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2.0)  # a missing datagram fails the test instead of hanging it
        yield sock, str(path)


@pytest.fixture(autouse=True)
def no_systemd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket, decoded."""
    messages = [sock.recv(4096).decode()]
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        return messages


def test_ready_sends_one_datagram_with_both_fields(
        notify_socket: tuple[socket.socket, str]) -> None:
    """Steps: Notifier(path).ready("up"). Expected: one datagram "READY=1\\nSTATUS=up"."""
    sock, path = notify_socket
    notifier = Notifier(path)
    assert notifier.enabled
    notifier.ready("up")
    assert received(sock) == ["READY=1\nSTATUS=up"]


def test_each_message_kind(notify_socket: tuple[socket.socket, str]) -> None:
    """Steps: status, watchdog, stopping, reloading in turn.
    Expected: four datagrams, in order, with systemd's field names."""
    sock, path = notify_socket
    notifier = Notifier(path)
    notifier.status("3 live calls")
    notifier.watchdog()
    notifier.stopping("draining 3 live calls")
    notifier.reloading()
    assert received(sock) == ["STATUS=3 live calls", "WATCHDOG=1",
                              "STOPPING=1\nSTATUS=draining 3 live calls", "RELOADING=1"]


def test_utf8_status(notify_socket: tuple[socket.socket, str]) -> None:
    """Steps: a status with Chinese text. Expected: delivered as UTF-8."""
    sock, path = notify_socket
    Notifier(path).status("正常; 2 live calls")
    assert received(sock) == ["STATUS=正常; 2 live calls"]


def test_abstract_socket_address() -> None:
    """Steps: bind an abstract socket "\\0name"; Notifier("@name").watchdog().
    Expected: the datagram arrives on the abstract socket."""
    name = f"huilong-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2.0)
        Notifier("@" + name).watchdog()
        assert received(sock) == ["WATCHDOG=1"]


def test_address_taken_from_notify_socket_environment(
        notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps: NOTIFY_SOCKET set to the socket path; Notifier() without an address.
    Expected: enabled, and the datagram arrives there."""
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier()
    assert notifier.enabled
    notifier.ready("ok")
    assert received(sock) == ["READY=1\nSTATUS=ok"]


def test_without_address_every_call_is_a_no_op(
        notify_socket: tuple[socket.socket, str]) -> None:
    """Steps: no NOTIFY_SOCKET, Notifier(); call every method.
    Expected: disabled, nothing raised, and nothing arrives on any socket."""
    sock, _ = notify_socket
    notifier = Notifier()
    assert not notifier.enabled
    notifier.ready("up")
    notifier.status("x")
    notifier.watchdog()
    notifier.stopping("y")
    notifier.reloading()
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(4096)


def test_empty_address_is_disabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Steps: NOTIFY_SOCKET set, but Notifier("") given explicitly.
    Expected: disabled (an explicit empty address wins over the environment)."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "x"))
    assert not Notifier("").enabled


def test_unreachable_socket_is_logged_not_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Steps: Notifier pointing at a path where nothing listens; send READY.
    Expected: no exception (calls must not die with systemd), one warning logged."""
    with caplog.at_level(logging.WARNING, logger="engine.systemd"):
        Notifier(str(tmp_path / "nobody")).ready("up")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "sd_notify failed" in caplog.records[0].getMessage()


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    (None, None, None),
    ("", None, None),
    ("10000000", None, 5.0),
    ("3000000", "self", 1.5),
    ("10000000", "1", None),
])
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None,
                           expected: float | None) -> None:
    """Steps: set WATCHDOG_USEC / WATCHDOG_PID (own pid, another pid, or unset).
    Expected: half of WatchdogSec in seconds when the watchdog is meant for this process,
    else None."""
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert watchdog_interval_s() == expected
