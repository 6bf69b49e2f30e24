"""`make bench`: benchmarks that print tables, each beside its baseline from the same run.

event path — what the ARI reader does per event (parse with pydantic, route to the
call's session queue) against the floor of just decoding the JSON. asyncari fails a
connection whose reader holds one event longer than ~1.5 s, and one lab instance
tops out near 40 calls that play audio, so the reader's cost per event is what
bounds the calls one daemon can follow.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from engine.ari.events import parse_event
from engine.dialer import route_event
from engine.session import CallPlan, CallRegistry, CallSession

CALLS = 200
ROUNDS = 5


def recorded_events(channel_ids: list[str]) -> list[str]:
    """The events of one answered call, as Asterisk 22 sent them in the lab."""
    events = []
    for channel_id in channel_ids:
        channel = {"id": channel_id, "name": "PJSIP/carrier-00000001", "state": "Ringing",
                   "caller": {"name": "", "number": ""}, "dialplan": {"context": "from-carrier"}}
        stamp = "2026-11-28T11:26:01.123+0000"
        events += [
            {"type": "ChannelStateChange", "timestamp": stamp, "application": "huilong",
             "channel": channel},
            {"type": "ChannelVarset", "timestamp": stamp, "variable": "X", "value": "1",
             "channel": channel},
            {"type": "StasisStart", "timestamp": stamp, "args": ["dialed"],
             "channel": {**channel, "state": "Up"}},
            {"type": "ChannelHangupRequest", "timestamp": stamp, "cause": 16,
             "channel": {**channel, "state": "Up"}},
            {"type": "ChannelDestroyed", "timestamp": stamp, "cause": 16,
             "cause_txt": "Normal Clearing", "channel": {**channel, "state": "Up"}},
        ]
    return [json.dumps(e) for e in events]


def measure(name: str, events: list[str], handle: Callable[[str], object]) -> tuple[str, float]:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for raw in events:
            handle(raw)
        best = min(best, time.perf_counter() - start)
    return name, best / len(events)


def main(argv: list[str] | None = None) -> None:
    registry = CallRegistry()
    ids = [str(uuid.uuid4()) for _ in range(CALLS)]
    for channel_id in ids:
        plan = CallPlan(attempt_id=uuid.UUID(channel_id), endpoint="PJSIP/1@carrier",
                        masked_number="+86138****0001", app="huilong", caller_id="x",
                        ring_timeout_s=30, max_call_s=60)
        registry.add(CallSession(plan, lambda: None, store=None, on_final=lambda s: None))  # type: ignore[arg-type]
    events = recorded_events(ids)

    def full_path(raw: str) -> object:
        event = parse_event(json.loads(raw))
        return route_event(registry, event) if event is not None else None

    rows = [measure("json.loads only (baseline)", events, json.loads),
            measure("parse + route to session", events, full_path)]
    base = rows[0][1]
    print(f"ARI event path: {len(events)} events of {CALLS} calls, best of {ROUNDS} rounds")
    print(f"{'path':32} {'µs/event':>10} {'events/s':>12} {'× baseline':>11}")
    for name, per_event in rows:
        print(f"{name:32} {per_event * 1e6:10.2f} {1 / per_event:12,.0f} {per_event / base:11.1f}")
    per_call = rows[1][1] * len(events) / CALLS
    print(f"reader time per call (all its events): {per_call * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
