"""A small reordering window over RTP sequence numbers, with explicit 16-bit wrap-around.

Pure and deterministic: packets in, packets out in sequence order, no clock. Timing is
the shell's business: Asterisk sends RTP only while the bridge carries audio, so when the
stream goes quiet the shell calls `flush()` — otherwise the packets held behind a lost one
would wait for a successor that may not come for seconds.

Sequence numbers are compared by their signed distance modulo 2^16, so 65535 → 0 is one
step forward, not 65535 steps back.

    released ◀─┤ next │ held … │ held ├─ at most `depth` held
               └──────── window ──────┘
"""

from __future__ import annotations

from collections import deque

from stt.rtp import RtpPacket

SEQUENCE_MODULUS = 1 << 16
_HALF_RANGE = SEQUENCE_MODULUS // 2

DEFAULT_DEPTH = 4
DEFAULT_RESET_JUMP = 1000
# How many released sequence numbers to remember, to tell a duplicate of a packet already
# delivered from a packet that arrived after its slot was skipped.
_RELEASED_MEMORY = 64


def sequence_distance(from_sequence: int, to_sequence: int) -> int:
    """Signed steps from one 16-bit sequence number to another, in [-32768, 32767]."""
    step = (to_sequence - from_sequence) % SEQUENCE_MODULUS
    return step - SEQUENCE_MODULUS if step >= _HALF_RANGE else step


def _following(sequence: int) -> int:
    return (sequence + 1) % SEQUENCE_MODULUS


class ReorderBuffer:
    """Releases RTP packets of one stream in sequence order, tolerating a little reordering.

    A packet may arrive up to `depth` places late and still be delivered in order. When a
    packet arrives more than `depth` places ahead of the oldest missing one, the missing
    slots are given up (`lost`) so that at most `depth` packets are ever held — at 20 ms
    per packet the default adds at most ~100 ms of delay on a loss.

    A new SSRC, or a jump of more than `reset_jump` sequence numbers either way, starts a
    new stream: Asterisk restarts the sequence on re-INVITEs and bridge changes. What was
    held for the old stream is released first, in order, then the new stream begins.

    Counters: `duplicates` (a copy of a packet held or recently released — dropped),
    `late` (arrived after its slot was given up or flushed — dropped), `lost` (slots given
    up because the window overflowed or the buffer was flushed past them), `resets`.
    The first packet of a stream defines its start: anything older is late.
    """

    def __init__(self, depth: int = DEFAULT_DEPTH, reset_jump: int = DEFAULT_RESET_JUMP) -> None:
        if depth < 1:
            raise ValueError(f"reorder depth must be at least 1 packet, got {depth}")
        if not depth < reset_jump < _HALF_RANGE:
            raise ValueError(
                f"reset_jump must lie between depth ({depth}) and {_HALF_RANGE}, got {reset_jump}"
            )
        self.depth = depth
        self.reset_jump = reset_jump
        self.duplicates = 0
        self.late = 0
        self.lost = 0
        self.resets = 0
        self._ssrc: int | None = None  # None until the first packet
        self._next = 0  # the oldest sequence number not yet released
        self._held: dict[int, RtpPacket] = {}
        self._released: deque[int] = deque(maxlen=_RELEASED_MEMORY)

    @property
    def held(self) -> int:
        """Packets waiting for an earlier one."""
        return len(self._held)

    def push(self, packet: RtpPacket) -> list[RtpPacket]:
        """Take one packet; return the packets that are now releasable, in order."""
        released: list[RtpPacket] = []
        if self._ssrc is None:
            self._start(packet)
        elif packet.ssrc != self._ssrc:
            released = self._restart(packet)
        else:
            ahead = sequence_distance(self._next, packet.sequence)
            if abs(ahead) > self.reset_jump:
                released = self._restart(packet)
            elif ahead < 0:
                if packet.sequence in self._released:
                    self.duplicates += 1
                else:
                    self.late += 1
                return []
            elif packet.sequence in self._held:
                self.duplicates += 1
                return []
            elif ahead > self.depth:
                # Give up just enough of the oldest slots that this packet is `depth` ahead.
                released = self._release_until((packet.sequence - self.depth) % SEQUENCE_MODULUS)
        self._held[packet.sequence] = packet
        released.extend(self._release_ready())
        return released

    def flush(self) -> list[RtpPacket]:
        """Release everything held, in order, giving up the gaps between (the stream went quiet).

        The stream continues: the next packet in sequence after the last released one is
        in order, anything before it is late.
        """
        if not self._held:
            return []
        oldest = self._next
        newest = max(self._held, key=lambda sequence: sequence_distance(oldest, sequence))
        return self._release_until(_following(newest))

    def _start(self, packet: RtpPacket) -> None:
        self._ssrc = packet.ssrc
        self._next = packet.sequence
        self._held.clear()
        self._released.clear()

    def _restart(self, packet: RtpPacket) -> list[RtpPacket]:
        leftover = self.flush()
        self.resets += 1
        self._start(packet)
        return leftover

    def _release_until(self, stop: int) -> list[RtpPacket]:
        """Release held packets up to (not including) `stop`, counting empty slots as lost."""
        released: list[RtpPacket] = []
        sequence = self._next
        while sequence != stop:
            packet = self._held.pop(sequence, None)
            if packet is None:
                self.lost += 1
            else:
                released.append(packet)
                self._released.append(sequence)
            sequence = _following(sequence)
        self._next = stop
        return released

    def _release_ready(self) -> list[RtpPacket]:
        """Release the unbroken run of held packets starting at the next expected one."""
        released: list[RtpPacket] = []
        while (packet := self._held.pop(self._next, None)) is not None:
            released.append(packet)
            self._released.append(self._next)
            self._next = _following(self._next)
        return released
