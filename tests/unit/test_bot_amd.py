"""The human-first reading of the dialplan's AMD() verdict."""

from __future__ import annotations

import pytest

from ari_apps.amd import AmdVerdict, is_machine


@pytest.mark.parametrize(
    ("status", "cause", "machine"),
    [
        ("MACHINE", "LONGGREETING-2000-1500", True),  # a recorded greeting
        ("MACHINE", "MAXWORDS-4-3", True),
        ("MACHINE", "INITIALSILENCE-2500-2500", False),  # people wait for the caller
        ("HUMAN", "HUMAN-500-800", False),
        ("NOTSURE", "TOOLONG-5000", False),
        ("HANGUP", "", False),
        ("", "", False),  # no verdict came back
    ],
)
def test_only_a_long_or_wordy_greeting_is_a_machine(status, cause, machine):
    assert is_machine(AmdVerdict(status, cause)) is machine
