"""Prometheus metrics for the live figures (served on /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS_PLACED = Counter("huilong_calls_placed", "Calls originated (attempts dialled)",
                       registry=REGISTRY)
CALLS_FINISHED = Counter("huilong_calls_finished", "Calls that reached a final disposition",
                         ["disposition"], registry=REGISTRY)
LIVE_CALLS = Gauge("huilong_live_calls", "Calls currently in progress", registry=REGISTRY)
ARI_CONNECTED = Gauge("huilong_ari_connected", "1 while the ARI connection is up",
                      registry=REGISTRY)
AMI_CONNECTED = Gauge("huilong_ami_connected", "1 while the AMI connection answers pings",
                      registry=REGISTRY)
DB_UP = Gauge("huilong_database_up", "1 while the database answers", registry=REGISTRY)
ARI_RECONNECTS = Counter("huilong_ari_connects", "ARI (re)connections made", registry=REGISTRY)
DRAINING = Gauge("huilong_draining", "1 while the daemon drains for shutdown",
                 registry=REGISTRY)
AGENTS = Gauge("huilong_agents", "Agents by state (offline, ready, reserved, on_call, wrap_up, "
               "paused)", ["status"], registry=REGISTRY)
AGENT_LATENCY = Histogram(
    "huilong_answer_to_agent_seconds",
    "Answered call → the agent's phone joined the bridge (audio both ways)",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0), registry=REGISTRY)
AGENT_CALLS = Counter("huilong_agent_calls", "Answered calls of agent flows by result "
                      "(bridged, abandoned, handoff_unserved)", ["result"], registry=REGISTRY)
