"""Errors of the local lab (private PostgreSQL cluster, Asterisk instances)."""

from __future__ import annotations


class LabError(Exception):
    """A lab component could not be set up, started or stopped; the message says why."""
