"""RTP intake for every bot call: UDP sockets Asterisk's ExternalMedia channels send
slin16 to, read on a media clock rather than per packet.

Each call has its own socket (a port from the pool). Instead of waking the event loop
for every 20 ms datagram — 50 wake-ups a second per call, each paying the loop's
dispatch and a cold run through the parsing code — one `MediaClock` task reads every
open socket once per tick (100 ms by default): the datagrams that arrived meanwhile
wait in the kernel's receive buffer and are parsed, reordered and converted in one warm
pass, and the call's consumer gets the tick's audio as one piece through
`on_audio(pcm_le16, at)`. That costs at most one tick of delay before audio is heard;
endpointing decides in 100 ms steps anyway.

Garbage datagrams are counted and dropped, never raised; one call's failure to read is
logged and does not stop the clock for the others.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from stt.jitter import ReorderBuffer
from stt.rtp import SLIN16_SAMPLE_BYTES, RtpError, RtpPacket, parse_rtp, slin16_be_to_le

log = logging.getLogger(__name__)

OnAudio = Callable[[bytes, float], None]

TICK_S = 0.1
MAX_DATAGRAM_BYTES = 2048  # an RTP packet of 20 ms slin16 is 652 bytes
RECEIVE_BUFFER_BYTES = 256 * 1024  # ~2 s of one stream, if the loop stalls


class RtpIntake:
    """One call's socket: read whatever is waiting, parse, reorder, hand on the audio."""

    def __init__(self, sock: socket.socket, on_audio: OnAudio, label: str) -> None:
        self._sock = sock
        self._on_audio = on_audio
        self.label = label
        self._reorder = ReorderBuffer()
        self.cpu_seconds = 0.0  # thread CPU spent here, the consumer's on_audio included
        self.packets = 0
        self.garbage = 0
        self.source: tuple[str, int] | None = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def held(self) -> int:
        return self._reorder.held

    def drain(self, now: float) -> None:
        """Take every datagram waiting on the socket; deliver the audio they complete.

        When nothing arrived for a whole tick the stream went quiet: what the reorder
        window still holds is released rather than kept waiting for a lost packet.
        """
        start = time.thread_time()
        released: list[RtpPacket] = []
        received = 0
        recvfrom, reorder = self._sock.recvfrom, self._reorder
        while True:
            try:
                data, addr = recvfrom(MAX_DATAGRAM_BYTES)
            except BlockingIOError:
                break
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                log.debug("%s: socket error %s", self.label, exc)
                break
            received += 1
            if self.source is None:
                self.source = addr
            try:
                released.extend(reorder.push(parse_rtp(data)))
            except RtpError as exc:
                self._count_garbage(addr, exc)
        self.packets += received
        if not received and reorder.held:
            released = reorder.flush()
        if released:
            self._deliver(released, now)
        self.cpu_seconds += time.thread_time() - start

    def _deliver(self, packets: list[RtpPacket], now: float) -> None:
        payloads = []
        for packet in packets:
            if len(packet.payload) % SLIN16_SAMPLE_BYTES:
                self._count_garbage(self.source, RtpError(
                    f"slin16 payload of {len(packet.payload)} bytes: not a whole number "
                    "of 2-byte samples"))
                continue
            payloads.append(packet.payload)
        if payloads:
            self._on_audio(slin16_be_to_le(b"".join(payloads)), now)

    def _count_garbage(self, addr: tuple[str, int] | None, exc: RtpError) -> None:
        self.garbage += 1
        if self.garbage == 1:
            log.warning("%s: dropping bad RTP from %s: %s", self.label,
                        addr[0] if addr else "?", exc)

    def close(self) -> None:
        self._sock.close()


class MediaClock:
    """Reads all open intakes every `tick_s`. `run()` is the process's one clock task
    (it idles while no intake is open)."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        if tick_s <= 0:
            raise ValueError(f"tick_s must be positive, got {tick_s}")
        self.tick_s = tick_s
        self._intakes: dict[int, RtpIntake] = {}
        self._opened = asyncio.Event()

    @property
    def open_intakes(self) -> int:
        return len(self._intakes)

    def open(self, host: str, port: int, on_audio: OnAudio, label: str) -> RtpIntake:
        """Bind a socket on (host, port) and read it from the next tick on."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            sock.setblocking(False)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        intake = RtpIntake(sock, on_audio, label)
        self._intakes[id(intake)] = intake
        self._opened.set()
        return intake

    def close(self, intake: RtpIntake) -> None:
        if self._intakes.pop(id(intake), None) is not None:
            intake.close()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._intakes:
                    self._opened.clear()
                    await self._opened.wait()
                next_tick = loop.time() + self.tick_s
                while self._intakes:
                    await asyncio.sleep(max(0.0, next_tick - loop.time()))
                    now = loop.time()
                    # Drift-free; after a stall the missed ticks are skipped, not raced.
                    next_tick = max(next_tick + self.tick_s, now + self.tick_s / 2)
                    self._tick(now)
        finally:
            for intake in list(self._intakes.values()):
                self.close(intake)

    def _tick(self, now: float) -> None:
        for intake in list(self._intakes.values()):
            try:
                intake.drain(now)
            except Exception:  # one call's consumer failing must not deafen the others
                log.exception("RTP intake %s failed; closing it", intake.label)
                self.close(intake)
