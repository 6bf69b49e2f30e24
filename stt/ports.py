"""Local UDP ports for Asterisk external-media RTP streams, one per call.

Pure bookkeeping: no socket is opened here. Two rules matter on a busy dialler:

- never hand out a port that is still held — two calls on one port hear each other;
- hand out the port released longest ago, so that a late packet still in flight from the
  previous call on that port (Asterisk keeps sending until its channel is torn down)
  reaches a socket nobody listens on rather than the next call's recogniser.

Only even ports are handed out: RTP convention (RFC 3550 §11) puts RTP on an even port and
leaves the odd port above it for RTCP, so each port handed out also keeps its odd
neighbour free. A range [10000, 10199] therefore holds 100 streams.
"""

from __future__ import annotations

from collections import deque

LOWEST_PORT = 1024  # below are privileged, well-known service ports
HIGHEST_PORT = 65535


class PortsExhausted(RuntimeError):
    """Every port of the pool is held: no new stream can start until one is released."""


class PortPool:
    """Even UDP ports in [first, last], least recently released first."""

    def __init__(self, first: int, last: int) -> None:
        if first % 2:
            raise ValueError(f"first port {first} is odd; RTP ports are even")
        if not LOWEST_PORT <= first <= last <= HIGHEST_PORT:
            raise ValueError(
                f"port range {first}–{last} must satisfy "
                f"{LOWEST_PORT} ≤ first ≤ last ≤ {HIGHEST_PORT}"
            )
        self.first = first
        self.last = last
        # Free ports, longest released at the left; the initial order is ascending.
        self._free: deque[int] = deque(range(first, last + 1, 2))
        self._held: set[int] = set()
        self._capacity = len(self._free)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_use(self) -> int:
        return len(self._held)

    @property
    def available(self) -> int:
        return len(self._free)

    def is_held(self, port: int) -> bool:
        return port in self._held

    def acquire(self) -> int:
        """The free port released longest ago (or never used). Raises PortsExhausted."""
        if not self._free:
            raise PortsExhausted(
                f"all {self._capacity} RTP ports in {self.first}–{self.last} are in use"
            )
        port = self._free.popleft()
        self._held.add(port)
        return port

    def release(self, port: int) -> None:
        """Give a held port back; it is handed out again only after every other free port."""
        if port not in self._held:
            if not (self.first <= port <= self.last and port % 2 == 0):
                raise ValueError(
                    f"port {port} is not one of this pool's even ports in {self.first}–{self.last}"
                )
            raise ValueError(f"port {port} is not held (released twice, or never acquired)")
        self._held.remove(port)
        self._free.append(port)
